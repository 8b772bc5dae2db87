r"""Outputs and risks of a finite two-layer network ``ŷ(x) = (1/N) Σ_i a_i σ(⟨w_i, x⟩)``."""

from __future__ import annotations

import numpy as np

from ...activations import Activation


def cosine_matrix(W) -> tuple[np.ndarray, np.ndarray]:
    """Row norms of ``W`` and the matrix of cosines between rows (0 for zero rows)."""
    W = np.asarray(W, dtype=np.float64)
    norms = np.linalg.norm(W, axis=1)
    U = W / np.where(norms > 0, norms, 1.0)[:, None]
    C = U @ U.T
    np.clip(C, -1.0, 1.0, out=C)
    return norms, C


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
