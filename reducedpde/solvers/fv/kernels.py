r"""Numba finite-volume building blocks for 1-D conservation laws in flux form.

The unknowns are cell masses ``m_j`` on a (possibly non-uniform) cell-centred grid with
edges ``e_0 < … < e_M``, widths ``h_j`` and centres ``x_j``; the density is ``ρ_j = m_j / h_j``.
Every update has the form ``m_j ← m_j − Δt (F_{j+1/2} − F_{j−1/2})`` with zero flux through
the outer edges, so the total mass is conserved to round-off.

Pure transport ``∂_t ρ + ∂_r(u ρ) = 0`` (:func:`transport_rate`)
    Upwind flux ``F = u⁺ ρ⁻ + u⁻ ρ⁺`` of a MUSCL reconstruction limited with the generalised
    minmod limiter (``θ = 1`` minmod, ``θ = 2`` monotonised central). With forward Euler the
    new masses are non-negative when ``Δt max|u| / h_min ≤ ½``; SSP-RK3 keeps this bound.

Drift–diffusion ``∂_t ρ = ∂_r[D(∂_r ρ + ρ ∂_r Φ)]`` (:func:`sg_coefficients`)
    Scharfetter–Gummel flux ``J_{j+1/2} = (D/δ)[B(ΔΦ) ρ_j − B(−ΔΦ) ρ_{j+1}]`` with
    ``B(z) = z/(eᶻ − 1)``, ``δ = x_{j+1} − x_j``,
    ``ΔΦ = Φ_{j+1} − Φ_j``. It vanishes exactly on ``ρ_j ∝ exp(−Φ_j)``, so the discrete Gibbs
    state is an exact steady state. Backward Euler gives an M-matrix whose columns sum to one:
    positivity and mass conservation hold for every ``Δt`` (no diffusive CFL).
    :func:`solve_mass_matrix` solves ``(I − Δt L) m = rhs`` once; :func:`factor_mass_matrix`
    and :func:`solve_factored` split it into a (twisted) factorisation and solves that reuse
    it, for the multi-stage steppers.

A plain NumPy twin of each kernel lives in :mod:`reducedpde.solvers.fv.reference` and the tests
compare the two.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "bernoulli",
    "factor_mass_matrix",
    "grid_factors",
    "low_rank_moments",
    "muscl_face_values",
    "sg_coefficients",
    "solve_factored",
    "solve_mass_matrix",
    "transport_rate",
]


@numba.njit(cache=True, inline="always")
def _minmod3(a, b, c):
    """Smallest in magnitude of three numbers of equal sign, else 0."""
    if a > 0.0 and b > 0.0 and c > 0.0:
        return min(a, min(b, c))
    if a < 0.0 and b < 0.0 and c < 0.0:
        return max(a, max(b, c))
    return 0.0


def grid_factors(widths, centres) -> np.ndarray:
    """Reciprocal grid spacings used by :func:`muscl_face_values`, shape ``(4, M)``.

    Rows: ``1/h_j``, ``2/h_j``, ``1/(x_{j+1} − x_j)`` and ``1/(x_{j+1} − x_{j−1})`` (the last
    two padded with zeros where undefined). Computing them once removes every division
    from the reconstruction.
    """
    widths = np.asarray(widths, dtype=float)
    centres = np.asarray(centres, dtype=float)
    factors = np.zeros((4, widths.size))
    factors[0] = 1.0 / widths
    factors[1] = 2.0 / widths
    factors[2, :-1] = 1.0 / np.diff(centres)
    factors[3, 1:-1] = 1.0 / (centres[2:] - centres[:-2])
    return factors


@numba.njit(cache=True)
def muscl_face_values(masses, factors, theta, left_values, right_values):
    """Limited linear reconstruction of ``ρ = m/h`` in each cell.

    Writes ``left_values[j] = ρ_j − σ_j h_j/2`` and ``right_values[j] = ρ_j + σ_j h_j/2``,
    ``σ_j = minmod(θ Δ⁻, Δ^c, θ Δ⁺, 2(ρ_j − ρ_{j−1})/h_j, 2(ρ_{j+1} − ρ_j)/h_j)``
    (one-sided slopes ``Δ^±``, central slope ``Δ^c``; the last two bounds matter only on
    non-uniform grids); the first and last cells are constant. Both face values lie
    between the neighbouring cell averages, so they are non-negative when the masses are.
    ``factors`` comes from :func:`grid_factors`; each density and one-sided slope is
    computed once (rolling window over the cells).
    """
    n = masses.size
    inv_width = factors[0]
    two_over_width = factors[1]
    inv_dx = factors[2]
    inv_dx_central = factors[3]
    rho = masses[0] * inv_width[0]
    left_values[0] = rho
    right_values[0] = rho
    rho_next = masses[1] * inv_width[1]
    jump_minus = rho_next - rho  # ρ_j − ρ_{j−1} for j = 1
    slope_minus = jump_minus * inv_dx[0]
    for j in range(1, n - 1):
        rho = rho_next
        rho_next = masses[j + 1] * inv_width[j + 1]
        jump_plus = rho_next - rho
        slope_plus = jump_plus * inv_dx[j]
        central = (jump_plus + jump_minus) * inv_dx_central[j]
        slope = _minmod3(theta * slope_minus, central, theta * slope_plus)
        slope = _minmod3(slope, jump_minus * two_over_width[j], jump_plus * two_over_width[j])
        half_jump = slope / two_over_width[j]
        left_values[j] = rho - half_jump
        right_values[j] = rho + half_jump
        jump_minus = jump_plus
        slope_minus = slope_plus
    left_values[n - 1] = rho_next
    right_values[n - 1] = rho_next


@numba.njit(cache=True)
def transport_rate(masses, factors, face_velocity, theta, left_values, right_values, rate):
    """``rate_j = −(F_{j+1/2} − F_{j−1/2})`` for ``∂_t ρ + ∂_r(uρ) = 0`` with no-flux ends.

    ``face_velocity`` has one entry per edge (``M + 1``); its end values are ignored.
    ``factors`` comes from :func:`grid_factors`.
    """
    n = masses.size
    muscl_face_values(masses, factors, theta, left_values, right_values)
    rate[0] = 0.0
    for f in range(1, n):
        u = face_velocity[f]
        flux = u * right_values[f - 1] if u > 0.0 else u * left_values[f]
        rate[f - 1] -= flux
        rate[f] = flux


@numba.njit(cache=True)
def bernoulli(z):
    """``B(z) = z / (eᶻ − 1)`` evaluated without overflow or cancellation (``B(0) = 1``)."""
    if abs(z) < 1e-8:
        return 1.0 - 0.5 * z
    if z > 0.0:
        ez = math.exp(-z)
        return z * ez / (1.0 - ez)
    return z / math.expm1(z)


@numba.njit(cache=True)
def sg_coefficients(potential, widths, centres, diffusivity, out_a, out_b):
    """Scharfetter–Gummel flux coefficients on the interior faces.

    ``J_{j+1/2} = out_a[j] m_j − out_b[j] m_{j+1}`` (``j = 0 … M−2``) with
    ``out_a[j] = (D/δ) B(ΔΦ)/h_j`` and ``out_b[j] = (D/δ) B(−ΔΦ)/h_{j+1}``.
    """
    n = potential.size
    for j in range(n - 1):
        delta = centres[j + 1] - centres[j]
        dphi = potential[j + 1] - potential[j]
        scale = diffusivity / delta
        out_a[j] = scale * bernoulli(dphi) / widths[j]
        out_b[j] = scale * bernoulli(-dphi) / widths[j + 1]


@numba.njit(cache=True)
def solve_mass_matrix(coef_a, coef_b, dt, rhs, out, work_c, work_d):
    """Solve ``(I − Δt L) m = rhs`` for the Scharfetter–Gummel operator ``L``.

    ``(L m)_j = J_{j−1/2} − J_{j+1/2}`` with ``J`` from :func:`sg_coefficients`. The matrix
    is tridiagonal with diagonal ``1 + Δt(b_{j−1} + a_j)``, sub-diagonal ``−Δt a_{j−1}`` and
    super-diagonal ``−Δt b_j``; it is column diagonally dominant, so the Thomas algorithm
    without pivoting is stable.
    """
    n = rhs.size
    # forward sweep
    for j in range(n):
        diag = 1.0
        if j > 0:
            diag += dt * coef_b[j - 1]
        if j < n - 1:
            diag += dt * coef_a[j]
        lower = -dt * coef_a[j - 1] if j > 0 else 0.0
        upper = -dt * coef_b[j] if j < n - 1 else 0.0
        if j == 0:
            denom = diag
            work_c[j] = upper / denom
            work_d[j] = rhs[j] / denom
        else:
            denom = diag - lower * work_c[j - 1]
            work_c[j] = upper / denom
            work_d[j] = (rhs[j] - lower * work_d[j - 1]) / denom
    out[n - 1] = work_d[n - 1]
    for j in range(n - 2, -1, -1):
        out[j] = work_d[j] - work_c[j] * out[j + 1]


@numba.njit(cache=True)
def factor_mass_matrix(coef_a, coef_b, dt, pivot, upper, mult):
    """Twisted factorisation of the matrix ``I − Δt L`` of :func:`solve_mass_matrix`.

    For repeated solves with :func:`solve_factored`. Rows ``0 … k−1`` are eliminated
    downwards and rows ``M−1 … k+1`` upwards (``k = M − 1 − ⌊(M−1)/2⌋``), meeting in row
    ``k`` ("burn at both ends"): every sweep runs two independent recurrences side by side,
    which halves its latency-bound time. Stored per row: the reciprocal pivot ``p_j``, the
    multiplier ``q_j`` of the elimination (``d_j = rhs_j p_j + q_j d_{j∓1}``, one
    multiply–add on the dependency chain) and the factor ``u_j`` of the back substitution
    (``x_j = d_j − u_j x_{j±1}``); row ``k`` keeps its multiplier from below in
    ``upper[k]``. The matrix is column diagonally dominant, so no pivoting is needed. The
    last entries of ``coef_a`` and ``coef_b`` are not read (no flux through the outer edge).
    """
    n = pivot.size
    below = (n - 1) // 2  # rows eliminated upwards
    k = n - 1 - below  # meeting row
    # row j: sub-diagonal −Δt a_{j−1}, diagonal 1 + Δt(b_{j−1} + a_j), super-diagonal −Δt b_j
    c_prev = 0.0  # downwards: u_{j−1}
    a_prev = 0.0
    b_prev = 0.0
    e_next = 0.0  # upwards: u_{j+1}
    for i in range(k):
        a_j = coef_a[i]
        b_j = coef_b[i]
        p = 1.0 / (1.0 + dt * (b_prev + a_j) + dt * a_prev * c_prev)
        c_prev = -dt * b_j * p
        pivot[i] = p
        upper[i] = c_prev
        mult[i] = dt * a_prev * p
        a_prev = a_j
        b_prev = b_j
        if i < below:
            j = n - 1 - i
            a_j = coef_a[j] if i > 0 else 0.0
            b_j = coef_b[j] if i > 0 else 0.0
            a_left = coef_a[j - 1]
            p = 1.0 / (1.0 + dt * (coef_b[j - 1] + a_j) + dt * b_j * e_next)
            e_next = -dt * a_left * p
            pivot[j] = p
            upper[j] = e_next
            mult[j] = dt * b_j * p
    # meeting row
    a_k = coef_a[k] if k < n - 1 else 0.0
    b_k = coef_b[k] if k < n - 1 else 0.0
    p = 1.0 / (1.0 + dt * (b_prev + a_k) + dt * a_prev * c_prev + dt * b_k * e_next)
    pivot[k] = p
    mult[k] = dt * a_prev * p
    upper[k] = dt * b_k * p


@numba.njit(cache=True)
def solve_factored(pivot, upper, mult, rhs, out):
    """Solve ``(I − Δt L) x = rhs`` with the factors of :func:`factor_mass_matrix`.

    ``out`` may be ``rhs`` itself.
    """
    n = rhs.size
    below = (n - 1) // 2
    k = n - 1 - below
    # eliminations: rows 0 … k−1 downwards and M−1 … k+1 upwards, interleaved
    d_top = 0.0
    d_bottom = 0.0
    for i in range(k):
        d_top = rhs[i] * pivot[i] + mult[i] * d_top
        out[i] = d_top
        if i < below:
            j = n - 1 - i
            d_bottom = rhs[j] * pivot[j] + mult[j] * d_bottom
            out[j] = d_bottom
    x_top = rhs[k] * pivot[k] + mult[k] * d_top + upper[k] * d_bottom
    out[k] = x_top
    # back substitutions outwards from row k
    x_bottom = x_top
    for i in range(k - 1, -1, -1):
        x_top = out[i] - upper[i] * x_top
        out[i] = x_top
        j = 2 * k - i
        if j < n:
            x_bottom = out[j] - upper[j] * x_bottom
            out[j] = x_bottom


@numba.njit(cache=True, fastmath=True)
def low_rank_moments(features, masses, out):
    """``out_l = Σ_j features[l, j] m_j`` (the moments of a low-rank interaction)."""
    rank, n = features.shape
    for l in range(rank):
        acc = 0.0
        for j in range(n):
            acc += features[l, j] * masses[j]
        out[l] = acc
