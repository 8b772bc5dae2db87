r"""Losses of a real output ``f`` against a label ``y``: the square loss and the logistic loss.

* square: ``ℓ_sq(y, f) = (y − f)²`` (no factor ½), ``∂_f ℓ_sq = −2(y − f)``;
* logistic, for labels ``y = ±1`` and the margin ``m = y f``:
  ``ℓ(m) = log(1 + e^{−m})``, ``ℓ'(m) = −1/(1 + e^{m}) = −σ_log(−m)`` with
  ``σ_log(u) = 1/(1 + e^{−u})``, so ``∂_f ℓ(y f) = −y σ_log(−y f)``.

The classification error of an output is ``1[y f ≤ 0]``: ``sign(0)`` counts as a wrong sign
(so ``f ≡ 0`` has error 1 and logistic loss ``log 2``), the convention of the sparse-parity
model as well.

NumPy functions for arrays, and the compiled scalar :func:`logistic_residual` used by the
SGD kernel.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "LOSSES",
    "LOSS_CODES",
    "LOSS_LOGISTIC",
    "LOSS_SQUARE",
    "check_loss",
    "classification_error",
    "logistic_loss",
    "logistic_loss_derivative",
    "logistic_residual",
]

#: integer codes of the losses understood by the compiled SGD kernel
LOSS_SQUARE = 0
LOSS_LOGISTIC = 1
#: loss name -> code
LOSS_CODES = {"square": LOSS_SQUARE, "logistic": LOSS_LOGISTIC}
#: the loss names, default first
LOSSES = tuple(LOSS_CODES)


def check_loss(loss) -> int:
    """The code of ``loss``; a :class:`ValueError` naming the parameter otherwise."""
    if not isinstance(loss, str) or loss not in LOSS_CODES:
        raise ValueError(f"parameter 'loss' must be one of {', '.join(LOSSES)}, got {loss!r}")
    return LOSS_CODES[loss]


def logistic_loss(m):
    """``ℓ(m) = log(1 + e^{−m})``, evaluated without overflow."""
    return np.logaddexp(0.0, -np.asarray(m, dtype=np.float64))


def logistic_loss_derivative(m):
    """``ℓ'(m) = −1 / (1 + e^{m})``, evaluated without overflow."""
    m = np.asarray(m, dtype=np.float64)
    return -np.exp(-np.logaddexp(0.0, m))


def classification_error(y, f):
    """``1[y f ≤ 0]`` elementwise (``sign(0)`` counts as wrong), as float."""
    return (np.asarray(y, dtype=np.float64) * np.asarray(f, dtype=np.float64) <= 0.0).astype(
        np.float64)


@numba.njit(cache=True)
def logistic_residual(y, f):
    """``−∂_f ℓ(y f) = y σ_log(−y f) = y / (1 + e^{y f})`` (overflow-free), the logistic
    counterpart of ``−∂_f (y − f)² = 2(y − f)``."""
    m = y * f
    if m > 0.0:
        e = math.exp(-m)
        return y * e / (1.0 + e)
    return y / (1.0 + math.exp(m))
