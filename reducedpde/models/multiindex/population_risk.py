r"""Exact population risk of a finite network on a multi-index target with Gaussian inputs."""

from __future__ import annotations

import numpy as np

from ...activations import Activation
from ...pair_expectation import interaction_sum
from ...solvers.particles.network import cosine_matrix
from .expansions import HermiteExpansion


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
