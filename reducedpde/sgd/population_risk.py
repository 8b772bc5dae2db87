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

The pair sums are evaluated by :func:`~reducedpde.sgd.pair_expectation.interaction_sum`.
"""

from __future__ import annotations

import numpy as np

from ..activations import Activation
from ..models.gaussians import radial_potential
from .pair_expectation import interaction_sum
from .targets import HermiteExpansion

__all__ = [
    "cosine_matrix",
    "empirical_risk",
    "gaussian_classes_risk",
    "multiindex_gaussian_risk",
    "multiindex_potential",
    "network_output",
]


def cosine_matrix(W) -> tuple[np.ndarray, np.ndarray]:
    """Row norms of ``W`` and the matrix of cosines between rows (0 for zero rows)."""
    W = np.asarray(W, dtype=np.float64)
    norms = np.linalg.norm(W, axis=1)
    U = W / np.where(norms > 0, norms, 1.0)[:, None]
    C = U @ U.T
    np.clip(C, -1.0, 1.0, out=C)
    return norms, C


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


def multiindex_potential(W, A, expansion: HermiteExpansion, activation: Activation):
    """``V(a_i, w_i) = −a_i E[φ(z) σ(⟨w_i, x⟩)]`` for Gaussian inputs, shape ``(N,)``."""
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    A = np.asarray(A, dtype=np.float64)
    k = expansion.k
    norms = np.linalg.norm(W, axis=1)
    u = W[:, :k] / np.where(norms > 0, norms, 1.0)[:, None]
    degrees = expansion.alphas.sum(axis=1)
    h = activation.hermite_coefficients(norms, int(degrees.max(initial=0)))  # (N, K+1)
    corr = np.zeros(W.shape[0])
    for alpha, c, deg in zip(expansion.alphas, expansion.coefs, degrees):
        corr += c * np.prod(u**alpha, axis=1) * h[:, deg]
    return -A * corr


def multiindex_gaussian_risk(
    W, A, expansion: HermiteExpansion, activation: Activation, **kwargs
) -> float:
    """Exact population risk of ``ŷ = (1/N) Σ a_i σ(⟨w_i, x⟩)`` for ``x ~ N(0, I_d)``,
    ``y = φ(x_1 … x_k)`` (exact up to the truncation of ``expansion`` for callable targets).
    """
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    A = np.asarray(A, dtype=np.float64)
    N = W.shape[0]
    V = multiindex_potential(W, A, expansion, activation)
    norms, C = cosine_matrix(W)
    pair = interaction_sum(activation, norms, A, C, **kwargs)
    return float(expansion.second_moment + 2.0 * V.mean() + pair / N**2)


def network_output(W, A, X, activation: Activation, chunk: int = 4096) -> np.ndarray:
    """``ŷ(x) = (1/N) Σ_i a_i σ(⟨w_i, x⟩)`` for the rows of ``X`` (any dtype)."""
    W = np.asarray(W, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    out = np.empty(X.shape[0])
    for start in range(0, X.shape[0], chunk):
        Xc = np.asarray(X[start : start + chunk], dtype=np.float64)
        out[start : start + chunk] = activation.value(Xc @ W.T) @ A / W.shape[0]
    return out


def empirical_risk(W, A, X, Y, activation: Activation) -> tuple[float, float]:
    """Mean of ``(y − ŷ(x))²`` over the test set ``(X, Y)`` and its standard error."""
    sq = (np.asarray(Y, dtype=np.float64) - network_output(W, A, X, activation)) ** 2
    return float(sq.mean()), float(sq.std(ddof=1) / np.sqrt(sq.size))
