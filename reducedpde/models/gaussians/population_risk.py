r"""Population risk ``R = E[(y − ŷ(x))²]`` of a finite network (no factor ½).

With ``ŷ(x) = (1/N) Σ_i a_i σ(⟨w_i, x⟩)``,

.. math::  R = R^\# + \frac{2}{N} Σ_i V(θ_i) + \frac{1}{N^2} Σ_{i,j} U(θ_i, θ_j),

diagonal terms ``i = j`` included.

* Isotropic Gaussian classes (``a ≡ 1``): ``R# = 1``, ``V(w) = v(‖w‖)``
  (:func:`reducedpde.models.gaussians.radial_potential`) and
  ``U(w, w') = ½ Σ_± E[σ(s_± r G₁) σ(s_± r' G₂)]``, ``s_± = 1 ± Δ``,
  ``corr(G₁, G₂) = cos∠(w, w')``.
* Multi-index, Gaussian inputs ``x ~ N(0, I_d)``: ``⟨w, x⟩ = ‖w‖ G`` with
  ``corr(z, G) = u = s/‖w‖``, hence for ``φ = Σ_α c_α He_α``
  ``V(a, w) = −a Σ_α c_α u^α h_{|α|}(‖w‖)`` and
  ``U = a a' E[σ(‖w‖ G₁) σ(‖w'‖ G₂)]``.
* Any inputs: the empirical risk on a test set, with its standard error.

The pair sums are evaluated by :func:`~reducedpde.pair_expectation.interaction_sum`.
"""

from __future__ import annotations

import numpy as np

from ...activations import Activation
from ...pair_expectation import interaction_sum
from ...solvers.particles.network import cosine_matrix
from .kernel import radial_potential


def gaussian_classes_risk(W, activation: Activation, delta: float, **kwargs) -> float:
    """Exact population risk for the isotropic Gaussian classes (``a ≡ 1``).

    Extra keyword arguments go to :func:`interaction_sum`.
    """
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    N = W.shape[0]
    r, C = cosine_matrix(W)
    ones = np.ones(N)
    v = radial_potential(activation, delta, r)
    pair = 0.0
    for scale in (1.0 + delta, 1.0 - delta):
        pair += 0.5 * interaction_sum(activation, scale * r, ones, C, **kwargs)
    return float(1.0 + 2.0 * v.mean() + pair / N**2)
