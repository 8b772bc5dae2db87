r"""Pair expectations ``E[σ(a G₁) σ(b G₂)]`` and the interaction sum of a finite network.

``(G₁, G₂)`` are standard Gaussians with correlation ``c``; ``a, b ≥ 0``. The interaction
part of the population risk of a network is

.. math::  S = Σ_{i,j} ω_i ω_j\, E[σ(a_i G₁) σ(a_j G₂)],\qquad \mathrm{corr} = c_{ij},

with ``c_ij`` the cosine between the neurons' weight vectors. :func:`interaction_sum`
evaluates it exactly (to a stated tolerance) for many neurons:

* ``i = j``: ``ω_i² E σ(a_i G)²`` (closed form or quadrature of the activation);
* ``|c_ij| ≤ c_thr``: Mehler's series ``Σ_k c^k ĥ_k(a_i) ĥ_k(a_j)`` with normalised
  Hermite coefficients ``ĥ_k = h_k / √k!``, truncated at the smallest ``K`` for which
  the Parseval bound ``c_thr^{K+1} max_i (E σ(a_i G)² − Σ_{k≤K} ĥ_k(a_i)²)`` on the
  tail is below the tolerance (Cauchy–Schwarz);
* ``|c_ij| > c_thr``: :func:`pair_expectation`: for piecewise-linear activations the
  closed form through the bivariate normal distribution function (Drezner–Wesolowsky
  with Genz's double-precision modifications), otherwise a tensor composite
  Gauss–Legendre rule in two dimensions.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.polynomial.legendre import leggauss

from .activations import Activation, PiecewiseLinear, activation_value
from .quadrature import gaussian_rule

__all__ = [
    "bivariate_normal_upper",
    "hermite_table",
    "interaction_sum",
    "mehler_truncation",
    "pair_expectation",
]

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _legendre_on_unit(n):
    """Gauss–Legendre nodes/weights mapped to ``[0, 1]`` (for ``∫_0^1``)."""
    x, w = leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


_GL6 = _legendre_on_unit(6)
_GL12 = _legendre_on_unit(12)
_GL20 = _legendre_on_unit(20)


@numba.njit(cache=True, inline="always")
def _phi(x):
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@numba.njit(cache=True, inline="always")
def _upper_tail(x):
    """``Φ(−x) = P(G > x)``."""
    return 0.5 * math.erfc(x / _SQRT2)


@numba.njit(cache=True)
def _bvnu(h, k, r, x6, w6, x12, w12, x20, w20):
    """``P(G₁ > h, G₂ > k)`` for standard Gaussians with correlation ``r``.

    Drezner & Wesolowsky (1989), J. Stat. Comput. Simul. 35, 101–107, with A. Genz's
    modifications for double precision and ``|r|`` close to 1.
    """
    if r == 0.0:
        return _upper_tail(h) * _upper_tail(k)
    ar = abs(r)
    if ar < 0.3:
        x, w = x6, w6
    elif ar < 0.75:
        x, w = x12, w12
    else:
        x, w = x20, w20
    hk = h * k
    total = 0.0
    if ar < 0.925:
        hs = 0.5 * (h * h + k * k)
        asr = math.asin(r)
        for i in range(x.shape[0]):
            sn = math.sin(asr * x[i])
            total += w[i] * math.exp((sn * hk - hs) / (1.0 - sn * sn))
        total = total * asr / (2.0 * math.pi) + _upper_tail(h) * _upper_tail(k)
    else:
        if r < 0.0:
            k = -k
            hk = -hk
        if ar < 1.0:
            a_s = (1.0 - r) * (1.0 + r)
            a = math.sqrt(a_s)
            bs = (h - k) * (h - k)
            c = (4.0 - hk) / 8.0
            dd = (12.0 - hk) / 16.0
            asr = -0.5 * (bs / a_s + hk)
            if asr > -100.0:
                total = (
                    a
                    * math.exp(asr)
                    * (
                        1.0
                        - c * (bs - a_s) * (1.0 - dd * bs / 5.0) / 3.0
                        + c * dd * a_s * a_s / 5.0
                    )
                )
            if hk > -100.0:
                b = math.sqrt(bs)
                sp = math.sqrt(2.0 * math.pi) * _upper_tail(b / a)
                total -= math.exp(-0.5 * hk) * sp * b * (1.0 - c * bs * (1.0 - dd * bs / 5.0) / 3.0)
            for i in range(x.shape[0]):
                xs = (a * x[i]) ** 2
                asr = -0.5 * (bs / xs + hk)
                if asr > -100.0:
                    rs = math.sqrt(1.0 - xs)
                    sp = 1.0 + c * xs * (1.0 + dd * xs)
                    ep = math.exp(-0.5 * hk * xs / (1.0 + rs) ** 2) / rs
                    total += a * w[i] * math.exp(asr) * (ep - sp)
            total = -total / (2.0 * math.pi)
        if r > 0.0:
            total += _upper_tail(max(h, k))
        else:
            total = -total
            if k > h:
                if h < 0.0:
                    total += _upper_tail(-k) - _upper_tail(-h)
                else:
                    total += _upper_tail(h) - _upper_tail(k)
    return min(1.0, max(0.0, total))


def bivariate_normal_upper(h, k, r):
    """``P(G₁ > h, G₂ > k)`` for standard Gaussians with correlation ``r`` (vectorised)."""
    h, k, r = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (h, k, r)))
    out = np.empty(h.shape)
    _bvnu_many(h.ravel(), k.ravel(), np.clip(r.ravel(), -1.0, 1.0), out.reshape(-1))
    return out


@numba.njit(cache=True)
def _bvnu_many(h, k, r, out):
    for i in range(h.shape[0]):
        out[i] = _bvnu(h[i], k[i], r[i], *_GL_ALL)


_GL_ALL = (_GL6[0], _GL6[1], _GL12[0], _GL12[1], _GL20[0], _GL20[1])


@numba.njit(cache=True, inline="always")
def _relu_mean(a, t):
    """``E (aG − t)_+`` for ``a ≥ 0``."""
    if a == 0.0:
        return max(-t, 0.0)
    x = t / a
    return a * _phi(x) - t * _upper_tail(x)


@numba.njit(cache=True)
def _relu_pair(a, b, c, q, t, u):
    """``E[(aG₁ − t)_+ (bG₂ − u)_+]`` for ``a, b ≥ 0``, correlation ``c``, ``q = √(1−c²)``."""
    if a == 0.0:
        return max(-t, 0.0) * _relu_mean(b, u)
    if b == 0.0:
        return _relu_mean(a, t) * max(-u, 0.0)
    h = t / a
    k = u / b
    L = _bvnu(h, k, c, *_GL_ALL)
    qs = max(q, 1e-300)
    j = (
        (c + h * k) * L
        - k * _phi(h) * _upper_tail((k - c * h) / qs)
        - h * _phi(k) * _upper_tail((h - c * k) / qs)
        + q * _phi(k) * _phi((c * k - h) / qs)
    )
    return a * b * j


@numba.njit(cache=True)
def _pl_pair(a, b, c, c0, sl, knots, jumps):
    """``E[σ(aG₁)σ(bG₂)]`` for ``σ(t) = c0 + sl·t + Σ_j jumps_j (t − knots_j)_+``."""
    c = min(1.0, max(-1.0, c))
    q = math.sqrt(max(0.0, (1.0 - c) * (1.0 + c)))
    total = c0 * c0 + sl * sl * a * b * c
    for j in range(knots.shape[0]):
        t = knots[j]
        # E[(X − t)_+], E[X (Y − t)_+] = abc Φ(−t/b)
        total += c0 * jumps[j] * (_relu_mean(a, t) + _relu_mean(b, t))
        cross = 0.0
        if b > 0.0:
            cross += _upper_tail(t / b)
        if a > 0.0:
            cross += _upper_tail(t / a)
        total += sl * jumps[j] * a * b * c * cross
    for i in range(knots.shape[0]):
        for j in range(knots.shape[0]):
            total += jumps[i] * jumps[j] * _relu_pair(a, b, c, q, knots[i], knots[j])
    return total


@numba.njit(cache=True)
def _pl_pairs(a, b, c, c0, sl, knots, jumps, out):
    for p in range(a.shape[0]):
        out[p] = _pl_pair(a[p], b[p], c[p], c0, sl, knots, jumps)


@numba.njit(cache=True)
def _quad_pairs(a, b, c, code, params, nodes, weights, out):
    """Tensor rule: ``Σ_{p,r} w_p w_r σ(a g_p) σ(b (c g_p + q g_r))``."""
    n = nodes.shape[0]
    for p in range(a.shape[0]):
        cp = min(1.0, max(-1.0, c[p]))
        q = math.sqrt(max(0.0, (1.0 - cp) * (1.0 + cp)))
        total = 0.0
        for i in range(n):
            inner = 0.0
            base = b[p] * cp * nodes[i]
            for m in range(n):
                inner += weights[m] * activation_value(code, params, base + b[p] * q * nodes[m])
            total += weights[i] * activation_value(code, params, a[p] * nodes[i]) * inner
        out[p] = total


# 960-node composite rule: spectrally accurate for smooth activations at the usual scales
_QUAD_RULE = gaussian_rule(half_width=9.0, panel_width=0.15, order=8)


def pair_expectation(activation: Activation, a, b, c) -> np.ndarray:
    """``E[σ(a G₁) σ(b G₂)]`` with ``corr(G₁, G₂) = c`` (vectorised, ``a, b ≥ 0``).

    Exact closed form for piecewise-linear activations (valid for all ``c ∈ [−1, 1]``),
    a two-dimensional composite Gauss–Legendre rule otherwise.
    """
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    if np.any(a < 0) or np.any(b < 0):
        raise ValueError("pair_expectation needs scales a, b >= 0")
    out = np.empty(a.shape)
    flat = [np.ascontiguousarray(v).reshape(-1) for v in (a, b, c)]
    if isinstance(activation, PiecewiseLinear):
        _pl_pairs(
            *flat,
            float(activation.offset),
            float(activation.left_slope),
            activation.knots,
            activation.slope_jumps,
            out.reshape(-1),
        )
    else:
        code, params = activation.numba_spec()
        _quad_pairs(*flat, code, np.asarray(params, dtype=np.float64), *_QUAD_RULE, out.reshape(-1))
    return out


def hermite_table(activation: Activation, scales, k_max: int) -> np.ndarray:
    """Normalised Hermite coefficients ``ĥ_k(a) = h_k(a)/√k!``, shape ``(len(a), k_max+1)``."""
    scales = np.asarray(scales, dtype=np.float64)
    h = activation.hermite_coefficients(scales, k_max)
    log_fact = np.cumsum(np.log(np.maximum(np.arange(k_max + 1), 1)))
    return np.ascontiguousarray(h * np.exp(-0.5 * log_fact))


def mehler_truncation(table, second_moment, c_threshold: float, tol: float) -> int:
    """Smallest ``K`` with ``c_thr^{K+1} max_i tail_K(i) ≤ tol`` (or the last available)."""
    tails = second_moment[:, None] - np.cumsum(table**2, axis=1)
    worst = np.maximum(tails, 0.0).max(axis=0)  # (k_max + 1,)
    bound = c_threshold ** (np.arange(worst.size) + 1.0) * worst
    ok = np.nonzero(bound <= tol)[0]
    return int(ok[0]) if ok.size else worst.size - 1


@numba.njit(cache=True)
def _mehler_sum(C, table, weights, c_threshold, K):
    """``2 Σ_{i<j, |c_ij| ≤ c_thr} ω_i ω_j Σ_{k≤K} c_ij^k ĥ_k(i) ĥ_k(j)`` (Horner in c)."""
    N = C.shape[0]
    total = 0.0
    for i in range(N):
        wi = weights[i]
        if wi == 0.0:
            continue
        partial = 0.0
        for j in range(i + 1, N):
            c = C[i, j]
            if abs(c) > c_threshold:
                continue
            acc = table[i, K] * table[j, K]
            for k in range(K - 1, -1, -1):
                acc = acc * c + table[i, k] * table[j, k]
            partial += weights[j] * acc
        total += wi * partial
    return 2.0 * total


def interaction_sum(
    activation: Activation,
    scales,
    weights,
    cosines,
    *,
    c_threshold: float = 0.5,
    tol: float = 1e-14,
    k_max: int = 120,
) -> float:
    """``Σ_{i,j} ω_i ω_j E[σ(a_i G₁) σ(a_j G₂)]`` with ``corr = cosines[i, j]``.

    Parameters
    ----------
    activation : Activation
    scales : ndarray (N,)
        ``a_i ≥ 0``.
    weights : ndarray (N,)
        ``ω_i``.
    cosines : ndarray (N, N)
        Symmetric correlations (the diagonal is ignored: ``i = j`` uses ``E σ(a_i G)²``).
    c_threshold : float
        Pairs with ``|c| ≤ c_threshold`` use Mehler's series, the others
        :func:`pair_expectation`.
    tol : float
        Bound on the truncation error of each pair's series, relative to
        ``max_i E σ(a_i G)²``.
    k_max : int
        Highest Hermite order available to the series.
    """
    scales = np.ascontiguousarray(scales, dtype=np.float64)
    weights = np.ascontiguousarray(weights, dtype=np.float64)
    C = np.ascontiguousarray(cosines, dtype=np.float64)
    m2 = np.asarray(activation.gaussian_second_moment(scales), dtype=np.float64)
    total = float(np.sum(weights**2 * m2))
    N = scales.size
    if N == 1:
        return total
    table = hermite_table(activation, scales, k_max)
    K = mehler_truncation(table, m2, c_threshold, tol * max(1.0, float(m2.max())))
    total += _mehler_sum(C, np.ascontiguousarray(table[:, : K + 1]), weights, c_threshold, K)
    far = np.abs(C) > c_threshold
    np.fill_diagonal(far, False)
    I, J = np.nonzero(np.triu(far, 1))
    if I.size:
        vals = pair_expectation(activation, scales[I], scales[J], C[I, J])
        total += 2.0 * float(np.sum(weights[I] * weights[J] * vals))
    return total
