"""Compiled kernels of the sparse-parity MFLD particle update (plain arrays in, no
allocation per step).

The layout is the one of :mod:`reducedpde.models.parity.network`: particles ``X`` of shape
``(M, d + 2)`` with rows ``(x_1, x_2, x_3)``, inputs ``Z`` of shape ``(n, d)``. One step
(:func:`mfld_steps`, see :func:`~reducedpde.models.parity.network.mfld_step_numpy` for the
equation):

1. forward: ``U = Z x_1ᵀ`` (one BLAS product, ``n × M``), then in one pass
   ``U_ij ← tanh(U_ij + x_{2,j})`` and the network output ``f_i``; the loss weights
   ``g_i = ℓ'(y_i f_i) y_i / n``;
2. backward: in one pass ``U_ij ← g_i (1 − U_ij²)`` and its column sums (the ``x_2``
   gradients), then ``G = Uᵀ Z`` (one BLAS product, the ``x_1`` gradients);
3. update of every particle with its prior pull and its noise.

Cost per step: ``2 n M d`` multiply–adds (in BLAS) and ``n M`` hyperbolic tangents. The
tangents use :func:`fast_tanh` (branch-free, so the loops vectorise; within a few units in
the last place of ``numpy.tanh``), five times faster than the scalar libm call. The work
arrays are allocated once (:func:`work_arrays`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "evaluate",
    "fast_tanh",
    "loss_weights",
    "mfld_steps",
    "network_output_into",
    "work_arrays",
]

# Reassociation lets LLVM vectorise the sums; no 'nnan'/'ninf', so non-finite values are
# still detected (by a comparison: under any fastmath flag Numba folds math.isfinite to
# True). error_model="numpy": IEEE division without a zero check (which would
# stop vectorisation).
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}
_JIT = {"cache": True, "fastmath": _FASTMATH, "error_model": "numpy"}

# Taylor coefficients 1/k! of expm1, k = 1 … 15.
(_E1, _E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13, _E14,
 _E15) = (1.0 / math.factorial(k) for k in range(1, 16))


@njit(inline="always", **_JIT)
def fast_tanh(x):
    """``tanh(x)`` to a few ulp, without branches (vectorisable).

    With ``a = min(|x|, 20)`` (``tanh 20 = 1`` in double precision) and ``y = −2a/64``,
    ``m = expm1(y)`` from its Taylor polynomial of degree 15 (``|y| ≤ 0.625``: truncation
    below 1e-16 relative), then six doublings ``expm1(2y) = m (m + 2)`` (no cancellation,
    relative errors do not grow) give ``E = expm1(−2a)`` and ``tanh a = −E / (2 + E)``.
    """
    a = min(abs(x), 20.0)
    y = a * (-2.0 / 64.0)
    # Estrin's scheme (short dependency chains) for p(y) = Σ_{k=1}^{15} y^{k−1}/k!
    y2 = y * y
    y4 = y2 * y2
    y8 = y4 * y4
    q0 = (_E1 + _E2 * y) + (_E3 + _E4 * y) * y2
    q1 = (_E5 + _E6 * y) + (_E7 + _E8 * y) * y2
    q2 = (_E9 + _E10 * y) + (_E11 + _E12 * y) * y2
    q3 = (_E13 + _E14 * y) + _E15 * y2
    p = (q0 + q1 * y4) + (q2 + q3 * y4) * y8
    m = p * y
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    m = m * (m + 2.0)
    return math.copysign(-m / (2.0 + m), x)


@njit(**_JIT)
def _logistic(m):
    """``ℓ(m) = log(1 + e^{−m})`` without overflow."""
    if m > 0.0:
        return math.log1p(math.exp(-m))
    return -m + math.log1p(math.exp(m))


@njit(**_JIT)
def _logistic_derivative(m):
    """``ℓ'(m) = −1 / (1 + e^{m})`` without overflow."""
    if m > 0.0:
        e = math.exp(-m)
        return -e / (1.0 + e)
    return -1.0 / (1.0 + math.exp(m))


@njit(**_JIT)
def _load_first_layer(X, X1T, x2):
    """``X1T = x_1ᵀ`` (``d × M``, contiguous for BLAS) and ``x2``, from the particles."""
    M = X.shape[0]
    d = X1T.shape[0]
    for j in range(M):
        for q in range(d):
            X1T[q, j] = X[j, q]
        x2[j] = X[j, d]


@njit(**_JIT)
def _tanh_rows(U, rows, x2, f, second, scale):
    """``U[i] ← tanh(U[i] + x2)`` and ``f[i] = scale (Σ_j U[i, j] + 2 second)`` for the
    first ``rows`` rows."""
    M = U.shape[1]
    for i in range(rows):
        acc = 0.0
        for j in range(M):
            t = fast_tanh(U[i, j] + x2[j])
            U[i, j] = t
            acc += t
        f[i] = scale * (acc + 2.0 * second)


@njit(**_JIT)
def network_output_into(X, Z, Rbar, X1T, x2, U, f):
    """``f[i] = (1/M) Σ_j h_{x_j}(z_i)`` for the rows of ``Z`` (``n × d``), in blocks of
    ``U.shape[0]`` rows (work arrays ``X1T`` ``(d, M)``, ``x2`` ``(M,)``, ``U``
    ``(block, M)``)."""
    M = X.shape[0]
    n, d = Z.shape
    _load_first_layer(X, X1T, x2)
    second = 0.0
    for j in range(M):
        second += fast_tanh(X[j, d + 1])
    scale = Rbar / (3.0 * M)
    block = U.shape[0]
    for i0 in range(0, n, block):
        rows = min(block, n - i0)
        Ub = U[:rows]
        np.dot(Z[i0:i0 + rows], X1T, Ub)
        _tanh_rows(Ub, rows, x2, f[i0:i0 + rows], second, scale)


@njit(**_JIT)
def evaluate(X, Z, y, Rbar, X1T, x2, U, f):
    """Mean logistic loss and classification error ``P(y f ≤ 0)`` of the network on
    ``(Z, y)``; ``f`` receives the outputs (work arrays as for
    :func:`network_output_into`)."""
    network_output_into(X, Z, Rbar, X1T, x2, U, f)
    n = y.size
    loss = 0.0
    wrong = 0
    for i in range(n):
        m = y[i] * f[i]
        loss += _logistic(m)
        if m <= 0.0:
            wrong += 1
    return loss / n, wrong / n


@njit(**_JIT)
def loss_weights(f, y, g):
    """``g_i = ℓ'(y_i f_i) y_i / n``; returns the mean loss ``(1/n) Σ ℓ(y_i f_i)``."""
    n = y.size
    loss = 0.0
    for i in range(n):
        m = y[i] * f[i]
        loss += _logistic(m)
        g[i] = _logistic_derivative(m) * y[i] / n
    return loss / n


@njit(**_JIT)
def mfld_steps(X, Z, y, noise, lams, eta, Rbar, lam_prime, scaled, X1T, x2, U, f, g, s2, G):
    """Advance the particles ``X`` in place by ``lams.size`` MFLD steps.

    Parameters
    ----------
    X : ndarray, shape (M, d + 2)
        Particles, overwritten.
    Z : ndarray, shape (n, d)
        Training inputs (C-contiguous).
    y : ndarray, shape (n,)
        Labels ±1.
    noise : ndarray, shape (≥ n_steps, M, d + 2)
        Standard normals; ``noise[s]`` is the ``ξ`` of step ``s``.
    lams : ndarray, shape (n_steps,)
        Temperature ``λ`` of each step.
    eta, Rbar, lam_prime : float
        Step size ``η``, output scale ``R̄``, prior strength ``λ'``.
    scaled : bool
        Prior pull ``λλ'‖x‖²`` (``True``) or ``λ'‖x‖²`` (``False``).
    X1T, x2, U, f, g, s2, G : ndarray
        Work arrays from :func:`work_arrays`.

    Returns
    -------
    int
        ``-1`` when every step stayed finite, else the index (within this call) of the
        first step that produced a non-finite particle coordinate (the call stops there).
    """
    M = X.shape[0]
    n, d = Z.shape
    c3 = Rbar / 3.0
    scale = Rbar / (3.0 * M)
    for s in range(lams.size):
        lam = lams[s]
        coef = lam * lam_prime if scaled else lam_prime
        amp = math.sqrt(2.0 * lam * eta)
        # forward: U = tanh(Z x_1ᵀ + x_2) (BLAS product, then one fused pass), f, g
        _load_first_layer(X, X1T, x2)
        second = 0.0
        for j in range(M):
            second += fast_tanh(X[j, d + 1])
        np.dot(Z, X1T, U)
        _tanh_rows(U, n, x2, f, second, scale)
        loss_weights(f, y, g)
        gsum = 0.0
        for i in range(n):
            gsum += g[i]
        # backward: U ← g (1 − U²), s2 = Σ_i U, G = Uᵀ Z
        for j in range(M):
            s2[j] = 0.0
        for i in range(n):
            gi = g[i]
            for j in range(M):
                t = U[i, j]
                v = gi * (1.0 - t * t)
                U[i, j] = v
                s2[j] += v
        np.dot(U.T, Z, G)
        # update
        bad = False
        for j in range(M):
            xi = noise[s, j]
            for q in range(d):
                v = X[j, q] - eta * (c3 * G[j, q] + 2.0 * coef * X[j, q]) + amp * xi[q]
                X[j, q] = v
                bad |= not abs(v) < math.inf  # math.isfinite is folded away
            v = X[j, d] - eta * (c3 * s2[j] + 2.0 * coef * X[j, d]) + amp * xi[d]
            X[j, d] = v
            bad |= not abs(v) < math.inf
            th = fast_tanh(X[j, d + 1])
            v = (X[j, d + 1] - eta * (2.0 * c3 * (1.0 - th * th) * gsum
                                       + 2.0 * coef * X[j, d + 1]) + amp * xi[d + 1])
            X[j, d + 1] = v
            bad |= not abs(v) < math.inf
        if bad:
            return s
    return -1


def work_arrays(M: int, n: int, d: int) -> tuple[np.ndarray, ...]:
    """``(X1T, x2, U, f, g, s2, G)`` for :func:`mfld_steps` with ``M`` particles, ``n``
    samples in dimension ``d``; ``(X1T, x2, U[:block], f)`` serve
    :func:`network_output_into` and :func:`evaluate` on any number of rows."""
    return (np.empty((d, M)), np.empty(M), np.empty((n, M)), np.empty(n), np.empty(n),
            np.empty(M), np.empty((M, d)))
