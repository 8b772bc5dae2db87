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


#: points per class of the held-out sample of :class:`HeldOutSample`
HELD_OUT_POINTS = 10_000
#: entropy of its fixed generator (the same sample for every run and seed)
HELD_OUT_SEED = 20_180_411


class HeldOutSample:
    r"""A fixed Monte-Carlo sample of the two Gaussian classes, for the population logistic
    loss and the classification error of a finite network.

    The network ``ŷ(x) = (1/N) Σ_i σ(⟨w_i, x⟩)`` is evaluated on ``x = (1 ± Δ) g_k`` for
    ``n`` fixed standard Gaussian points ``g_k ∈ R^d`` (generator seeded with
    :data:`HELD_OUT_SEED`; the same ``g_k`` serve both classes), and

    .. math::

        L = \frac12 Σ_± \frac1n Σ_k ℓ(± ŷ((1 ± Δ) g_k)), \qquad
        \mathrm{err} = \frac12 Σ_± \frac1n Σ_k 1[± ŷ((1 ± Δ) g_k) ≤ 0],

    with ``ℓ(m) = log(1 + e^{−m})`` and ``sign(0)`` counted as wrong
    (:mod:`reducedpde.losses`). Each class mean has standard error
    ``≤ √(¼/n) = 0.005`` for the error at ``n = 10⁴``.

    Parameters
    ----------
    d : int
        Input dimension.
    n : int
        Points per class (default :data:`HELD_OUT_POINTS`).
    seed : int
        Entropy of the generator (default :data:`HELD_OUT_SEED`).
    max_stored : int
        The sample is kept in memory when ``n·d`` is at most this many numbers, otherwise
        regenerated (identically) in blocks at every evaluation.
    """

    _BLOCK = 2000

    def __init__(self, d: int, n: int = HELD_OUT_POINTS, seed: int = HELD_OUT_SEED,
                 max_stored: int = 8_000_000):
        self.d, self.n, self.seed = int(d), int(n), int(seed)
        self._stored = self._blocks() if self.n * self.d <= max_stored else None

    def _blocks(self):
        rng = np.random.default_rng(self.seed)
        out = []
        for start in range(0, self.n, self._BLOCK):
            out.append(rng.standard_normal((min(self._BLOCK, self.n - start), self.d)))
        return out

    def outputs(self, W, activation: Activation, scales) -> np.ndarray:
        """``ŷ(s · g_k)`` for every scale ``s`` and sample point, shape ``(len(scales), n)``
        (one product ``g Wᵀ`` per block serves every scale)."""
        W = np.atleast_2d(np.asarray(W, dtype=np.float64))
        scales = np.atleast_1d(np.asarray(scales, dtype=np.float64))
        blocks = self._stored if self._stored is not None else self._blocks()
        out = []
        for g in blocks:
            h = g @ W.T
            out.append(np.stack([activation.value(s * h).mean(axis=1) for s in scales]))
        return np.concatenate(out, axis=1)

    def metrics(self, W, activation: Activation, delta: float) -> dict[str, float]:
        """``{"logistic_loss": L, "classification_error": err}`` of the network ``W``."""
        from ...losses import classification_error, logistic_loss

        f = self.outputs(W, activation, (1.0 + delta, 1.0 - delta))
        y = np.array([[1.0], [-1.0]])
        return {"logistic_loss": float(np.mean(logistic_loss(y * f))),
                "classification_error": float(np.mean(classification_error(y, f)))}
