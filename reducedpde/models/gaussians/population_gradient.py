r"""Exact gradient of the population risk of a finite network on the Gaussian classes.

Network ``ŷ(x) = (1/N) Σ_i σ(⟨w_i, x⟩)`` on ``y = ±1``, ``x ~ N(0, s_±² I_d)``,
``s_± = 1 ± Δ``. Its population risk (:mod:`.population_risk`, no factor ½) is

.. math::  R_N(W) = 1 + \frac{2}{N} Σ_i V(w_i) + \frac{1}{N^2} Σ_{i,j} U(w_i, w_j),

diagonal terms ``i = j`` included. Gaussian integration by parts (Stein's lemma,
``E[x f(x)] = s² E[∇f(x)]`` for ``x ~ N(0, s² I)``) gives, with
``X_i = ⟨w_i, x⟩ = s r_i G₁``, ``X_j = s r_j G₂`` and ``corr(G₁, G₂) = c_ij``,

.. math::

    ∇V(w) &= -\tfrac12 Σ_± (±1)\, s_±^2\, E[σ''(s_± r G)]\, w, \\
    ∇_{w} U(w, w') &= \tfrac12 Σ_± s_±^2 \left( A_±(w, w')\, w + B_±(w, w')\, w' \right),

``A = E[σ''(X)σ(X')]``, ``B = E[σ'(X)σ'(X')]`` (also for ``w' = w``, where
``∇_w U(w, w) = 2 ∇_1 U(w, w')|_{w'=w}``). For a piecewise-linear activation
``σ(t) = c₀ + s₀ t + Σ_k Δs_k (t − t_k)_+`` these are closed forms:

.. math::

    E[σ''(aG)] &= Σ_k Δs_k φ(t_k/a)/a, \\
    A(a, b, c) &= Σ_k Δs_k \frac{φ(t_k/a)}{a}\, E σ\bigl(b c t_k/a + b\sqrt{1-c^2}\, Z\bigr), \\
    B(a, b, c) &= s₀² + s₀ Σ_k Δs_k [Φ(−t_k/a) + Φ(−t_k/b)]
                  + Σ_{k,l} Δs_k Δs_l P(aG₁ > t_k, bG₂ > t_l),

with the bivariate orthant probability of :mod:`reducedpde.pair_expectation`
(Drezner–Wesolowsky with Genz's modifications, exact to double precision). The velocity
of the gradient flow (:mod:`.gradient_flow`), with weight decay ``λ``, is then

.. math::

    \dot w_i = -N ∂_{w_i} R_N - 2λ w_i
             = -\Bigl(2 κ^V_i + \frac{2}{N} Σ_j a_{ij} + 2λ\Bigr) w_i - \frac{2}{N} Σ_j M_{ij} w_j,

``κ^V_i w_i = ∇V(w_i)``, ``a_ij = ½Σ_± s_±² A_±(w_i, w_j)``, ``M_ij = ½Σ_± s_±² B_±(w_i, w_j)``
(symmetric): ``O(N²)`` pair terms in a compiled kernel and the product ``M W`` by BLAS.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ...activations import Activation, PiecewiseLinear
from ...pair_expectation import _GL_ALL, _bvnu, _phi, _upper_tail
from ...solvers.particles.network import cosine_matrix

__all__ = [
    "gaussian_classes_risk_gradient",
    "gaussian_classes_velocity",
    "mehler_orders",
    "mehler_tables",
    "pair_derivative_expectations",
]

#: radii below this are treated as this (a neuron exactly at the origin)
_RADIUS_FLOOR = 1e-300


def _require_piecewise_linear(activation: Activation) -> PiecewiseLinear:
    if not isinstance(activation, PiecewiseLinear):
        raise ValueError(
            "parameter 'activation' must be piecewise linear (mmn18, relu) for the exact "
            f"population gradient, got {activation.name!r}"
        )
    return activation


@numba.njit(cache=True)
def _shifted_mean(mu, tau, c0, s0, knots, jumps):
    """``E σ(μ + τZ)`` for ``σ(t) = c₀ + s₀ t + Σ_l Δs_l (t − t_l)_+`` and ``τ ≥ 0``."""
    total = c0 + s0 * mu
    for l in range(knots.shape[0]):
        m = mu - knots[l]
        if tau > 0.0:
            total += jumps[l] * (m * _upper_tail(-m / tau) + tau * _phi(m / tau))
        else:
            total += jumps[l] * max(m, 0.0)
    return total


@numba.njit(cache=True)
def _second_derivative_mean(a, knots, jumps):
    """``E σ''(aG) = Σ_k Δs_k φ(t_k/a)/a`` (``a > 0``)."""
    total = 0.0
    for k in range(knots.shape[0]):
        total += jumps[k] * _phi(knots[k] / a) / a
    return total


@numba.njit(cache=True)
def _pair_terms(a, b, c, c0, s0, knots, jumps):
    """``(B, A_ab, A_ba)``: ``B = E[σ'(aG₁)σ'(bG₂)]``, ``A_ab = E[σ''(aG₁)σ(bG₂)]``,
    ``A_ba = E[σ(aG₁)σ''(bG₂)]`` for ``corr(G₁, G₂) = c`` and ``a, b > 0``."""
    c = min(1.0, max(-1.0, c))
    q = math.sqrt(max(0.0, (1.0 - c) * (1.0 + c)))
    n = knots.shape[0]
    B = s0 * s0
    for k in range(n):
        B += s0 * jumps[k] * (_upper_tail(knots[k] / a) + _upper_tail(knots[k] / b))
    for k in range(n):
        for l in range(n):
            B += jumps[k] * jumps[l] * _bvnu(knots[k] / a, knots[l] / b, c, *_GL_ALL)
    A_ab = 0.0
    A_ba = 0.0
    for k in range(n):
        xa = knots[k] / a
        xb = knots[k] / b
        # given aG₁ = t_k: bG₂ = b(c t_k/a + qZ); given bG₂ = t_k: aG₁ = a(c t_k/b + qZ)
        A_ab += jumps[k] * _phi(xa) / a * _shifted_mean(b * c * xa, b * q, c0, s0, knots, jumps)
        A_ba += jumps[k] * _phi(xb) / b * _shifted_mean(a * c * xb, a * q, c0, s0, knots, jumps)
    return B, A_ab, A_ba


@numba.njit(cache=True, inline="always")
def _mehler_terms(i, j, c, K, hat, first, second):
    """Mehler's series ``(B, A_ij, A_ji)`` truncated at order ``K`` (Horner in ``c``):
    ``B = Σ_m c^m β_m(i) β_m(j)``, ``A_ij = Σ_m c^m α_m(i) ĥ_m(j)``."""
    B = first[i, K] * first[j, K]
    A_ij = second[i, K] * hat[j, K]
    A_ji = hat[i, K] * second[j, K]
    for m in range(K - 1, -1, -1):
        B = B * c + first[i, m] * first[j, m]
        A_ij = A_ij * c + second[i, m] * hat[j, m]
        A_ji = A_ji * c + hat[i, m] * second[j, m]
    return B, A_ij, A_ji


@numba.njit(cache=True)
def _gradient_coefficients(radii, cosines, delta, c0, s0, knots, jumps, c_threshold, levels,
                           orders, hats, firsts, seconds, diagonal, pair_matrix):
    """Fill ``diagonal[i] = 2κ^V_i + (2/N)Σ_j a_ij`` and ``pair_matrix = (2/N) M``.

    See the module docstring; ``N ∇_{w_i} R_N = diagonal[i] w_i + (pair_matrix W)_i``.
    Pairs with ``|c_ij| ≤ c_threshold`` use Mehler's series of side ``side`` (tables
    ``hats[side]``, ``firsts[side]``, ``seconds[side]``) truncated at ``orders[side, l]``
    for the smallest level ``levels[l] ≥ |c_ij|``; the others, and ``i = j``, the closed
    forms of :func:`_pair_terms`.
    """
    N = radii.shape[0]
    n_levels = levels.shape[0]
    for i in range(N):
        diagonal[i] = 0.0
        for j in range(N):
            pair_matrix[i, j] = 0.0
    for side in range(2):
        s = 1.0 + delta if side == 0 else 1.0 - delta
        sign = 1.0 if side == 0 else -1.0
        pair_factor = s * s / N  # (2/N) · ½ s²
        hat = hats[side]
        first = firsts[side]
        second = seconds[side]
        for i in range(N):
            ai = max(s * radii[i], _RADIUS_FLOOR)
            # 2 ∇V(w_i) = −Σ_± (±1) s² E σ''(s r_i G) w_i
            diagonal[i] -= sign * s * s * _second_derivative_mean(ai, knots, jumps)
            B, A_ii, _ = _pair_terms(ai, ai, 1.0, c0, s0, knots, jumps)
            pair_matrix[i, i] += pair_factor * B
            diagonal[i] += pair_factor * A_ii
            for j in range(i + 1, N):
                c = cosines[i, j]
                if abs(c) <= c_threshold:
                    level = 0
                    while level + 1 < n_levels and abs(c) <= levels[level + 1]:
                        level += 1
                    B, A_ij, A_ji = _mehler_terms(i, j, c, orders[side, level], hat, first,
                                                  second)
                else:
                    aj = max(s * radii[j], _RADIUS_FLOOR)
                    B, A_ij, A_ji = _pair_terms(ai, aj, c, c0, s0, knots, jumps)
                pair_matrix[i, j] += pair_factor * B
                pair_matrix[j, i] += pair_factor * B
                diagonal[i] += pair_factor * A_ij
                diagonal[j] += pair_factor * A_ji


@numba.njit(cache=True)
def _fill_mehler_tables(scales, c0, s0, knots, jumps, hat, first, second):
    """Tables of :func:`mehler_tables` for a piecewise-linear ``σ``; with ``x_k = t_k/a``
    and the normalised Hermite functions ``ψ_m(x) = He_m(x) φ(x)/√m!``
    (``ψ_{m+1} = (x ψ_m − √m ψ_{m−1})/√(m+1)``):
    ``β_0 = s₀ + Σ_k Δs_k Φ(−x_k)``, ``β_m = Σ_k Δs_k ψ_{m−1}(x_k)/√m``,
    ``α_m = Σ_k Δs_k ψ_m(x_k)/a``, ``ĥ_0 = E σ(aG)``, ``ĥ_m = a β_{m−1}/√m``."""
    n_orders = hat.shape[1]
    for i in range(scales.shape[0]):
        a = scales[i]
        first[i, 0] = s0
        for m in range(1, n_orders):
            first[i, m] = 0.0
        for m in range(n_orders):
            second[i, m] = 0.0
        for k in range(knots.shape[0]):
            x = knots[k] / a
            first[i, 0] += jumps[k] * _upper_tail(x)
            previous = 0.0
            current = _phi(x)  # ψ_0
            for m in range(n_orders):
                second[i, m] += jumps[k] * current / a
                if m + 1 < n_orders:
                    first[i, m + 1] += jumps[k] * current / math.sqrt(m + 1.0)
                following = (x * current - math.sqrt(float(m)) * previous) / math.sqrt(m + 1.0)
                previous = current
                current = following
        hat[i, 0] = _shifted_mean(0.0, a, c0, s0, knots, jumps)
        for m in range(1, n_orders):
            hat[i, m] = a * first[i, m - 1] / math.sqrt(float(m))


def mehler_tables(activation: Activation, scales, k_max: int):
    r"""Normalised Hermite coefficients of ``σ(aG)``, ``σ'(aG)`` and ``σ''(aG)``.

    ``ĥ_m = E[σ(aG) He_m(G)]/√m!``, ``β_m = E[σ'(aG) He_m(G)]/√m!`` and
    ``α_m = E[σ''(aG) He_m(G)]/√m!`` for ``m ≤ k_max`` (by integration by parts
    ``β_m = √(m+1) ĥ_{m+1}/a`` and ``α_m = √(m+1) β_{m+1}/a``), in closed form for a
    piecewise-linear ``σ``. Returns three arrays of shape ``(len(scales), k_max + 1)``.
    """
    scales = np.maximum(np.ascontiguousarray(scales, dtype=np.float64), _RADIUS_FLOOR)
    hat, first, second = (np.empty((scales.size, k_max + 1)) for _ in range(3))
    _fill_mehler_tables(scales, *_activation_terms(activation), hat, first, second)
    return hat, first, second


def mehler_orders(hat, first, second, levels, tol: float) -> np.ndarray:
    r"""Truncation order ``K`` of the series for pairs with ``|c| ≤ level``, per level.

    The smallest ``K`` with ``Σ_{K<m≤k_max} level^m (max β_m² + 2 max|α_m| max|ĥ_m|) ≤ tol``
    (maxima over the neurons): a bound on the neglected terms of every pair computed from
    the tabulated ones; those beyond ``k_max`` are below ``level^{k_max}`` times the
    (bounded) coefficients, negligible for ``level ≤ ½`` and ``k_max ≥ 100``.
    """
    term = (np.abs(first).max(axis=0) ** 2
            + 2.0 * np.abs(second).max(axis=0) * np.abs(hat).max(axis=0))
    k_max = term.size - 1
    orders = np.empty(len(levels), dtype=np.int64)
    for index, level in enumerate(levels):
        weighted = level ** np.arange(k_max + 1.0) * term
        tail = np.concatenate([np.cumsum(weighted[::-1])[::-1][1:], [0.0]])  # Σ_{m>K}
        ok = np.nonzero(tail <= tol)[0]
        orders[index] = int(ok[0]) if ok.size else k_max
    return orders


def _activation_terms(activation: Activation):
    act = _require_piecewise_linear(activation)
    return (float(act.offset), float(act.left_slope), np.ascontiguousarray(act.knots, float),
            np.ascontiguousarray(act.slope_jumps, float))


def gaussian_classes_velocity(W, activation: Activation, delta: float, lam: float = 0.0,
                              out: np.ndarray | None = None, *, c_threshold: float = 0.5,
                              tol: float = 1e-14, k_max: int = 120) -> np.ndarray:
    r"""Velocity ``ẇ_i = −N ∂_{w_i} R_N − 2λ w_i`` of the exact gradient flow.

    Parameters
    ----------
    W : ndarray (N, d)
        Weights, one neuron per row.
    activation : PiecewiseLinear
        The activation (closed forms need a piecewise-linear ``σ``).
    delta : float
        Class separation ``Δ``.
    lam : float
        Weight decay ``λ ≥ 0``.
    out : ndarray (N, d), optional
        Where to write the result.
    c_threshold : float
        Pairs ``i ≠ j`` with ``|cos∠(w_i, w_j)| ≤ c_threshold`` use Mehler's series
        (:func:`mehler_tables`), the others the closed forms; a negative value uses the
        closed forms for every pair.
    tol : float
        Bound on the neglected terms of each pair's series (:func:`mehler_orders`),
        relative to ``max(1, leading term)``.
    k_max : int
        Highest order available to the series.

    Returns
    -------
    ndarray (N, d)
        ``−(diag(κ) + (2/N) M) W − 2λ W`` (module docstring), the mean of the SGD
        increment per unit step, ``E[Δw_i]/s``.
    """
    W = np.ascontiguousarray(W, dtype=np.float64)
    N = W.shape[0]
    radii, cosines = cosine_matrix(W)
    diagonal = np.empty(N)
    pair_matrix = np.empty((N, N))
    delta = float(delta)
    levels = float(c_threshold) * 0.5 ** np.arange(8)
    tables = [mehler_tables(activation, s * radii, k_max) for s in (1.0 + delta, 1.0 - delta)]
    hats, firsts, seconds = (np.stack([t[p] for t in tables]) for p in range(3))
    orders = np.stack([
        mehler_orders(*t, levels, tol * max(1.0, float(t[1][:, 0].max() ** 2)))
        for t in tables
    ])
    _gradient_coefficients(radii, cosines, delta, *_activation_terms(activation),
                           float(c_threshold), levels, orders, hats, firsts, seconds,
                           diagonal, pair_matrix)
    if out is None:
        out = np.empty_like(W)
    np.matmul(pair_matrix, W, out=out)
    out += (diagonal + 2.0 * float(lam))[:, None] * W
    np.negative(out, out=out)
    return out


def gaussian_classes_risk_gradient(W, activation: Activation, delta: float) -> np.ndarray:
    r"""``∂R_N/∂w_i`` (shape ``(N, d)``) of the exact population risk
    :func:`~.population_risk.gaussian_classes_risk`: ``−(1/N)`` times the flow velocity
    at ``λ = 0``."""
    W = np.atleast_2d(np.asarray(W, dtype=np.float64))
    return gaussian_classes_velocity(W, activation, delta) / (-W.shape[0])


def pair_derivative_expectations(activation: Activation, a, b, c):
    r"""``(B, A_ab, A_ba)`` of the module docstring for arrays of scales ``a, b > 0`` and
    correlations ``c`` (vectorised; for tests and inspection)."""
    terms = _activation_terms(activation)
    a, b, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c)))
    out = np.empty((3, *a.shape))
    flat = out.reshape(3, -1)
    for p, (x, y, z) in enumerate(zip(a.ravel(), b.ravel(), c.ravel())):
        flat[:, p] = _pair_terms(float(x), float(y), float(z), *terms)
    return out[0], out[1], out[2]
