r"""Compiled time integrators for 1-D mean-field equations with a low-rank interaction.

The integrators solve, for the cell masses ``m`` of :mod:`reducedpde.solvers.fv.kernels`,

    ∂_t ρ = μ ∂_r(ρ ∂_r ψ_λ) + (μ/β) ∂_r(∂_r ρ − ρ ∂_r S),                         (1)
    ψ_λ(r; ρ) = b(r) + Σ_l w_l A_l f_l(r),    A_l = ∫ f_l dρ,

with mobility ``μ`` (``μ = 2`` for the conventions of this package with ``ξ = 1``), a
"base" potential ``b`` (single-neuron potential plus weight decay), a low-rank interaction
``(w_l, f_l)`` and an entropic weight ``S`` (``S = (d − 1) ln r`` for the radial law of a
rotation-invariant measure on ``R^d``). Time-dependent step sizes ``ξ(t)`` are handled by the
caller through the time change ``τ = ∫ ξ``.

The noisy steppers also take an optional ``labels`` array (one ``y_l`` per moment): then
``ψ_λ = b + Σ_l w_l ℓ'(y_l A_l) f_l`` with the logistic ``ℓ'(m) = −1/(1 + e^m)``, the
potential of a data term ``Σ_l (w_l/y_l) ℓ(y_l A_l)`` that is not a pair interaction (the
logistic loss of the radial model, with ``A_l`` the outputs at quadrature nodes). The
steppers never differentiate the potential: every step or stage takes ``Φ`` of its own
moments (frozen potential, Picard sweeps on the moments), so the same code serves both.

* :func:`integrate_transport` — ``β = ∞``: MUSCL upwind fluxes, SSP-RK3, adaptive
  ``Δt = cfl · min_f min(h_{f−1}, h_f) / |u_f|`` with ``u = −μ ∂_r ψ_λ`` at the faces
  (``cfl · h / max|u|`` on a uniform grid; each cell loses at most ``2 cfl`` of its mass
  per stage, so ``cfl ≤ ½`` keeps it positive on any grid).
* :func:`integrate_drift_diffusion` — ``β < ∞``: Scharfetter–Gummel fluxes for
  ``Φ = β ψ_λ − S`` and linearly implicit Euler (``ψ`` frozen at the start of a step). The
  step is adapted so that the L1 change of the masses per step stays near ``step_tol``:
  it is not limited by the diffusive CFL, and it grows as the solution approaches the
  steady state.
* :func:`integrate_drift_diffusion_trbdf2` — ``β < ∞``, second order: the same fluxes with
  the L-stable TR-BDF2 pair and local-error control. Far more accurate per step in
  transients; positive only up to round-off (``−1e-13`` of the mass) and slower than
  implicit Euler to settle on the exact discrete Gibbs state, so it is not yet the default
  of :func:`reducedpde.solvers.fv.radial.solve_radial`.
* :func:`integrate_drift_diffusion_esdirk` — ``β < ∞``, fourth order (third with an
  interaction): the same fluxes with the L-stable ESDIRK4(3)6L[2]SA of Kennedy & Carpenter
  (one factorisation per step for its five implicit stages without an interaction) and the
  step control, positivity fallback and operator reuse of TR-BDF2: both run the same ESDIRK
  code. :func:`integrate_drift_diffusion_esdirk3` is the third-order ESDIRK3(2)4L[2]SA.

Return status codes: ``STATUS_OK``, ``STATUS_BOUNDARY`` (mass reached the last cell),
``STATUS_NONFINITE`` (NaN/inf in the state), ``STATUS_NEGATIVE`` (negative mass beyond
round-off), ``STATUS_MAX_STEPS``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .kernels import (
    factor_mass_matrix,
    grid_factors,
    low_rank_moments,
    sg_coefficients,
    solve_factored,
    solve_mass_matrix,
    transport_rate,
)

STATUS_OK = 0
STATUS_BOUNDARY = 1
STATUS_NONFINITE = 2
STATUS_NEGATIVE = 3
STATUS_MAX_STEPS = 4

STATUS_MESSAGES = {
    STATUS_OK: "ok",
    STATUS_BOUNDARY: "mass reached the outer boundary of the grid",
    STATUS_NONFINITE: "the state became NaN or infinite",
    STATUS_NEGATIVE: "a cell mass became negative beyond round-off",
    STATUS_MAX_STEPS: "the maximum number of time steps was reached",
}

__all__ = [
    "STATUS_MESSAGES",
    "face_velocity",
    "integrate_drift_diffusion",
    "integrate_transport",
    "integrate_transport_field",
]


@numba.njit(cache=True, fastmath=True)
def face_velocity(masses, features, feature_derivatives, weights, base_derivative, mobility,
                  moments, out):
    """``u_f = −μ (b'(r_f) + Σ_l w_l A_l f_l'(r_f))`` on every edge; returns ``max|u|``.

    The two outer edges get ``u = 0`` (no flux).
    """
    low_rank_moments(features, masses, moments)
    n_faces = out.size
    rank = weights.size
    umax = 0.0
    out[0] = 0.0
    out[n_faces - 1] = 0.0
    for f in range(1, n_faces - 1):
        out[f] = base_derivative[f]
    for l in range(rank):
        coef = weights[l] * moments[l]
        for f in range(1, n_faces - 1):
            out[f] += coef * feature_derivatives[l, f]
    for f in range(1, n_faces - 1):
        u = -mobility * out[f]
        out[f] = u
        umax = max(umax, abs(u))
    return umax


@numba.njit(cache=True)
def _check_state(masses, boundary_tol):
    total = 0.0
    most_negative = 0.0
    for j in range(masses.size):
        m = masses[j]
        if not np.isfinite(m):
            return STATUS_NONFINITE
        total += m
        if m < most_negative:
            most_negative = m
    if most_negative < -1e-13 * total:
        return STATUS_NEGATIVE
    if masses[masses.size - 1] > boundary_tol * total:
        return STATUS_BOUNDARY
    return STATUS_OK


def face_cfl_scale(widths, cfl: float) -> np.ndarray:
    """Face-local CFL lengths ``cfl · min(h_{f−1}, h_f)`` (outer faces: the smallest cell),
    so that a step is ``dt = min_f face_scale_f / |u_f|``."""
    widths = np.asarray(widths, dtype=np.float64)
    face_scale = np.empty(widths.size + 1)
    face_scale[0] = face_scale[-1] = cfl * widths.min()
    face_scale[1:-1] = cfl * np.minimum(widths[:-1], widths[1:])
    return face_scale


@numba.njit(cache=True)
def _cfl_step(face_scale, u):
    """``min_f face_scale_f / |u_f|`` (``inf`` when the velocity vanishes everywhere)."""
    dt = np.inf
    for f in range(u.size):
        speed = abs(u[f])
        if speed > 0.0:
            dt = min(dt, face_scale[f] / speed)
    return dt


@numba.njit(cache=True)
def _integrate_transport(masses, factors, face_scale, features, feature_derivatives, weights,
                        base_derivative, mobility, t_start, t_end, cfl, theta, max_steps,
                        boundary_tol):
    """Compiled body of :func:`integrate_transport` (geometry factors precomputed;
    ``face_scale_f = cfl · min(h_{f−1}, h_f)``)."""
    n = masses.size
    m1 = np.empty(n)
    m2 = np.empty(n)
    rate = np.empty(n)
    left = np.empty(n)
    right = np.empty(n)
    u = np.empty(n + 1)
    moments = np.empty(weights.size)
    t = t_start
    steps = 0
    while t < t_end:
        if steps >= max_steps:
            return t, steps, STATUS_MAX_STEPS
        umax = face_velocity(masses, features, feature_derivatives, weights, base_derivative,
                             mobility, moments, u)
        dt = t_end - t
        if umax > 0.0:
            dt = min(dt, _cfl_step(face_scale, u))
        # stage 1
        transport_rate(masses, factors, u, theta, left, right, rate)
        for j in range(n):
            m1[j] = masses[j] + dt * rate[j]
        # stage 2
        face_velocity(m1, features, feature_derivatives, weights, base_derivative, mobility,
                      moments, u)
        transport_rate(m1, factors, u, theta, left, right, rate)
        for j in range(n):
            m2[j] = 0.75 * masses[j] + 0.25 * (m1[j] + dt * rate[j])
        # stage 3
        face_velocity(m2, features, feature_derivatives, weights, base_derivative, mobility,
                      moments, u)
        transport_rate(m2, factors, u, theta, left, right, rate)
        for j in range(n):
            masses[j] = masses[j] / 3.0 + (2.0 / 3.0) * (m2[j] + dt * rate[j])
        t = t + dt if dt < t_end - t else t_end
        steps += 1
        status = _check_state(masses, boundary_tol)
        if status != STATUS_OK:
            return t, steps, status
    return t, steps, STATUS_OK


def integrate_transport(masses, widths, centres, features, feature_derivatives, weights,
                        base_derivative, mobility, t_start, t_end, cfl, theta, max_steps,
                        boundary_tol):
    """Advance the noiseless equation (1) from ``t_start`` to ``t_end`` in place.

    Parameters
    ----------
    masses : float64[M]
        Cell masses, overwritten with the solution at the time reached.
    widths, centres : float64[M]
    features : float64[rank, M]
        ``f_l`` at the cell centres (moments ``A_l = Σ_j f_l(x_j) m_j``).
    feature_derivatives : float64[rank, M+1]
        ``f_l'`` at the edges.
    weights : float64[rank]
    base_derivative : float64[M+1]
        ``b'`` at the edges.
    mobility, t_start, t_end, cfl, theta : float
    max_steps : int
    boundary_tol : float
        Status ``STATUS_BOUNDARY`` when the last cell holds more than this fraction of the mass.

    Returns
    -------
    t_reached : float
    n_steps : int
    status : int
    """
    widths = np.asarray(widths, dtype=np.float64)
    return _integrate_transport(
        masses, grid_factors(widths, centres), face_cfl_scale(widths, cfl), features,
        feature_derivatives, weights, base_derivative, mobility, t_start, t_end, cfl, theta,
        max_steps, boundary_tol,
    )


def integrate_transport_field(masses, widths, centres, velocity, t_start, t_end, cfl, theta,
                              max_steps, boundary_tol):
    """Advance ``∂_t ρ + ∂_r(u[ρ] ρ) = 0`` from ``t_start`` to ``t_end`` in place, for any
    edge velocity ``u[ρ]``: the SSP-RK3 / MUSCL scheme of :func:`integrate_transport`
    (the same compiled fluxes and CFL rule), with the velocity from a callback.

    Parameters
    ----------
    masses, widths, centres : float64[M]
    velocity : callable
        ``velocity(masses, out)`` writes the ``M + 1`` edge velocities (outer ones 0) into
        ``out`` and returns ``max |u|``.
    t_start, t_end, cfl, theta, max_steps, boundary_tol :
        As for :func:`integrate_transport`.

    Returns
    -------
    t_reached : float
    n_steps : int
    status : int
    """
    widths = np.asarray(widths, dtype=np.float64)
    n = masses.size
    factors = grid_factors(widths, centres)
    face_scale = face_cfl_scale(widths, cfl)
    m1, m2, rate = np.empty(n), np.empty(n), np.empty(n)
    left, right = np.empty(n), np.empty(n)
    u = np.empty(n + 1)
    t = t_start
    steps = 0
    while t < t_end:
        if steps >= max_steps:
            return t, steps, STATUS_MAX_STEPS
        umax = velocity(masses, u)
        dt = t_end - t
        if umax > 0.0:
            dt = min(dt, _cfl_step(face_scale, u))
        transport_rate(masses, factors, u, theta, left, right, rate)
        np.add(masses, dt * rate, out=m1)
        velocity(m1, u)
        transport_rate(m1, factors, u, theta, left, right, rate)
        m2[:] = 0.75 * masses + 0.25 * (m1 + dt * rate)
        velocity(m2, u)
        transport_rate(m2, factors, u, theta, left, right, rate)
        masses[:] = masses / 3.0 + (2.0 / 3.0) * (m2 + dt * rate)
        t = t + dt if dt < t_end - t else t_end
        steps += 1
        status = _check_state(masses, boundary_tol)
        if status != STATUS_OK:
            return t, steps, status
    return t, steps, STATUS_OK


@numba.njit(cache=True, inline="always")
def _logistic_derivative(m):
    """``ℓ'(m) = −1/(1 + e^m)`` of the logistic loss, without overflow."""
    if m > 0.0:
        e = math.exp(-m)
        return -e / (1.0 + e)
    return -1.0 / (1.0 + math.exp(m))


@numba.njit(cache=True)
def _potential_from_moments(moments, features, weights, labels, base, entropic, beta, out):
    """``Φ_j = β (b_j + Σ_l g_l(A_l) f_l(x_j)) − S_j`` at the cell centres, given ``A_l``:
    ``g_l(A) = w_l A`` (quadratic interaction, ``labels`` empty) or
    ``g_l(A) = w_l ℓ'(y_l A)`` with ``y_l = labels[l]`` (logistic data term)."""
    n = base.size
    rank = weights.size
    logistic = labels.size > 0
    for j in range(n):
        out[j] = base[j]
    for l in range(rank):
        if logistic:
            coef = weights[l] * _logistic_derivative(labels[l] * moments[l])
        else:
            coef = weights[l] * moments[l]
        for j in range(n):
            out[j] += coef * features[l, j]
    for j in range(n):
        out[j] = beta * out[j] - entropic[j]


@numba.njit(cache=True)
def _drift_diffusion_potential(masses, features, weights, labels, base, entropic, beta,
                               moments, out):
    """``Φ`` of :func:`_potential_from_moments` at the moments ``A_l`` of ``masses``."""
    low_rank_moments(features, masses, moments)
    _potential_from_moments(moments, features, weights, labels, base, entropic, beta, out)


#: an ESDIRK stage is consistent when the moments of its solution differ from those of its
#: operator by at most ``NL_RTOL_ESDIRK ×`` their change over the step, plus
#: ``NL_ATOL × (1 + max|A|)``; ``NL_MAX_SWEEPS`` extra solves are allowed before the step
#: is halved. An implicit-Euler step is accepted while one Picard sweep contracts the
#: moments by ``NL_CONTRACTION`` at least.
NL_CONTRACTION = 0.5
NL_RTOL_ESDIRK = 1e-1
NL_ATOL = 1e-13
NL_MAX_SWEEPS = 8


@numba.njit(cache=True)
def _moment_residual(new, used, start):
    """``(max_l |new_l − used_l|, max_l |new_l − start_l|, max_l |new_l|)``."""
    res = 0.0
    chg = 0.0
    size = 0.0
    for l in range(new.size):
        res = max(res, abs(new[l] - used[l]))
        chg = max(chg, abs(new[l] - start[l]))
        size = max(size, abs(new[l]))
    return res, chg, size


@numba.njit(cache=True)
def integrate_drift_diffusion(masses, widths, centres, features, weights, base, entropic,
                              beta, mobility, t_start, t_end, dt_init, step_tol, dt_max,
                              max_steps, boundary_tol, labels=None):
    """Advance the noisy equation (1) from ``t_start`` to ``t_end`` in place.

    Each step freezes ``Φ = β ψ_λ[m] − S`` at the current masses and solves the backward
    Euler system of the Scharfetter–Gummel operator with ``D = μ/β`` (linearly implicit:
    the interaction is explicit, the drift–diffusion implicit). A step whose L1 change
    exceeds ``2 step_tol`` is redone with a smaller ``Δt``; the next ``Δt`` aims at an L1
    change of ``step_tol`` and at most doubles.

    Stability at large steps: near the steady state the L1 change vanishes and ``Δt`` grows
    without bound, where the frozen step becomes the fixed-point iteration
    ``m ↦ Gibbs(Φ[m])``, which need not contract (then the state drifts off the discrete
    Gibbs state and the free energy rises). Each step therefore also solves once with ``Φ``
    at the moments of its result (one Picard sweep); the step is accepted while that sweep
    contracts the change of the moments ``A_l`` by ``NL_CONTRACTION`` at least, and halved
    otherwise. In transients (small ``Δt``, contraction ``O(Δt)``) this changes nothing but
    the cost (two solves per step).

    ``labels`` (optional, one per moment): the logistic data term instead of the
    quadratic interaction, ``ψ_λ = b + Σ_l w_l ℓ'(y_l A_l) f_l`` with ``y_l = labels[l]``
    (:func:`_potential_from_moments`); the same frozen-potential steps and Picard test on
    the moments ``A_l``.

    Returns
    -------
    t_reached : float
    n_steps : int
    status : int
    dt_next : float
        The step proposed for the next call (pass it back as ``dt_init``).
    """
    if labels is None:
        labels = np.empty(0)
    return _integrate_drift_diffusion(masses, widths, centres, features, weights, base,
                                      entropic, beta, mobility, t_start, t_end, dt_init,
                                      step_tol, dt_max, max_steps, boundary_tol, labels)


@numba.njit(cache=True)
def _integrate_drift_diffusion(masses, widths, centres, features, weights, base, entropic,
                               beta, mobility, t_start, t_end, dt_init, step_tol, dt_max,
                               max_steps, boundary_tol, labels):
    """Compiled body of :func:`integrate_drift_diffusion` (``labels`` empty: quadratic
    interaction)."""
    n = masses.size
    rank = weights.size
    phi = np.empty(n)
    coef_a = np.empty(n)
    coef_b = np.empty(n)
    sweep_a = np.empty(n)
    sweep_b = np.empty(n)
    work_c = np.empty(n)
    work_d = np.empty(n)
    new = np.empty(n)
    trial = np.empty(n)
    moments = np.empty(rank)
    used = np.empty(rank)
    found = np.empty(rank)
    diffusivity = mobility / beta
    t = t_start
    dt = dt_init
    steps = 0
    while t < t_end:
        if steps >= max_steps:
            return t, steps, STATUS_MAX_STEPS, dt
        _drift_diffusion_potential(masses, features, weights, labels, base, entropic, beta,
                                   moments, phi)
        sg_coefficients(phi, widths, centres, diffusivity, coef_a, coef_b)
        while True:
            step = min(dt, t_end - t, dt_max)
            solve_mass_matrix(coef_a, coef_b, step, masses, new, work_c, work_d)
            change = 0.0
            for j in range(n):
                change += abs(new[j] - masses[j])
            if change > 2.0 * step_tol and step > 1e-14:
                dt = 0.5 * step * step_tol / change
                continue
            if rank == 0 or step <= 1e-14:
                break
            # stability of the frozen-potential step: one Picard sweep with the moments of
            # the predictor measures the contraction ρ of m ↦ (I − Δt L[Φ(A(m))])⁻¹ m_n,
            # which is also the amplification of a perturbation by the frozen step at large
            # Δt; accept the predictor while ρ ≤ NL_CONTRACTION
            low_rank_moments(features, new, found)
            res, _chg, size = _moment_residual(found, moments, moments)
            if res <= NL_ATOL * (1.0 + size):
                break
            _potential_from_moments(found, features, weights, labels, base, entropic, beta,
                                    phi)
            sg_coefficients(phi, widths, centres, diffusivity, sweep_a, sweep_b)
            solve_mass_matrix(sweep_a, sweep_b, step, masses, trial, work_c, work_d)
            low_rank_moments(features, trial, used)
            sweep_res, _chg, _size = _moment_residual(used, found, found)
            if sweep_res <= NL_CONTRACTION * res + NL_ATOL * (1.0 + size):
                break
            dt = 0.5 * step
        for j in range(n):
            masses[j] = new[j]
        clipped = step < dt
        t = t + step if step < t_end - t else t_end
        steps += 1
        if not clipped:
            # a step shortened to land on t_end says nothing about the next step size
            if change > 0.0:
                dt = min(2.0 * step, step * step_tol / change)
            else:
                dt = 2.0 * step
            dt = min(dt, dt_max)
        status = _check_state(masses, boundary_tol)
        if status != STATUS_OK:
            return t, steps, status, dt
    return t, steps, STATUS_OK, dt


# ----------------------------------------------------------------------------------------
# Singly diagonally implicit Runge–Kutta steppers (TR-BDF2 and higher-order ESDIRKs)
# ----------------------------------------------------------------------------------------


def _tableau(rows, embedded):
    """``(A, b − b̂)`` of a stiffly accurate ESDIRK (``b`` = last row of ``A``)."""
    a = np.array(rows, dtype=np.float64)
    return a, a[-1] - np.asarray(embedded, dtype=np.float64)


_G = 2.0 - math.sqrt(2.0)
#: TR-BDF2 (Bank et al. 1985) as a three-stage ESDIRK, ``γ = 2 − √2``, diagonal ``γ/2``;
#: the embedded third-order weights give the error estimate of Hosea & Shampine,
#: Appl. Numer. Math. 20 (1996) 21–37.
TRBDF2_TABLEAU = _tableau(
    [[0.0, 0.0, 0.0],
     [_G / 2, _G / 2, 0.0],
     [math.sqrt(2.0) / 4, math.sqrt(2.0) / 4, _G / 2]],
    [(1.0 - math.sqrt(2.0) / 4) / 3, (3.0 * math.sqrt(2.0) / 4 + 1.0) / 3, _G / 6],
)
_G = 1767732205903.0 / 4055673282236.0
#: ESDIRK3(2)4L[2]SA: the implicit tableau of ARK3(2)4L[2]SA, C. A. Kennedy &
#: M. H. Carpenter, "Additive Runge–Kutta schemes for convection–diffusion–reaction
#: equations", Appl. Numer. Math. 44 (2003) 139–181 (``γ ≈ 0.4358665``, stage order 2,
#: L-stable, stiffly accurate; embedded second-order weights ``b̂``). As
#: ``(A, b − b̂)``; ``b`` is the last row of ``A``.
ESDIRK3_TABLEAU = _tableau(
    [[0.0, 0.0, 0.0, 0.0],
     [_G, _G, 0.0, 0.0],
     [2746238789719.0 / 10658868560708.0, -640167445237.0 / 6845629431997.0, _G, 0.0],
     [1471266399579.0 / 7840856788654.0, -4482444167858.0 / 7529755066697.0,
      11266239266428.0 / 11593286722821.0, _G]],
    [2756255671327.0 / 12835298489170.0, -10771552573575.0 / 22201958757719.0,
     9247589265047.0 / 10645013368117.0, 2193209047091.0 / 5459859503100.0],
)
#: ESDIRK4(3)6L[2]SA: the implicit tableau of ARK4(3)6L[2]SA (same reference; ``γ = 1/4``,
#: stage order 2, L-stable, stiffly accurate; embedded third-order weights).
ESDIRK4_TABLEAU = _tableau(
    [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
     [0.25, 0.25, 0.0, 0.0, 0.0, 0.0],
     [8611.0 / 62500.0, -1743.0 / 31250.0, 0.25, 0.0, 0.0, 0.0],
     [5012029.0 / 34652500.0, -654441.0 / 2922500.0, 174375.0 / 388108.0, 0.25, 0.0, 0.0],
     [15267082809.0 / 155376265600.0, -71443401.0 / 120774400.0,
      730878875.0 / 902184768.0, 2285395.0 / 8070912.0, 0.25, 0.0],
     [82889.0 / 524892.0, 0.0, 15625.0 / 83664.0, 69875.0 / 102672.0, -2260.0 / 8211.0,
      0.25]],
    [4586570599.0 / 29645900160.0, 0.0, 178811875.0 / 945068544.0,
     814220225.0 / 1159782912.0, -3700637.0 / 11593932.0, 61727.0 / 225920.0],
)
del _G


@numba.njit(cache=True)
def _apply_sg(coef_a, coef_b, masses, out):
    """``out = L m``: ``(L m)_j = J_{j−½} − J_{j+½}`` with ``J_{j+½} = a_j m_j − b_j m_{j+1}``."""
    n = masses.size
    flux_left = 0.0
    for j in range(n - 1):
        flux = coef_a[j] * masses[j] - coef_b[j] * masses[j + 1]
        out[j] = flux_left - flux
        flux_left = flux
    out[n - 1] = flux_left


@numba.njit(cache=True)
def _combine(base, base_coef, terms, coefs, count, out):
    """``out = base_coef · base + Σ_{q<count} coefs[q] terms[q]`` (one vectorised pass per
    term: faster than assembling the sum inside the elimination, which is serial)."""
    n = out.size
    for j in range(n):
        out[j] = base_coef * base[j]
    for q in range(count):
        c = coefs[q]
        if c != 0.0:
            row = terms[q]
            for j in range(n):
                out[j] += c * row[j]


@numba.njit(cache=True)
def _min_l1_sum(x):
    """``(min(0, min_j x_j), Σ_j |x_j|, Σ_j x_j)``, four partial results at a time (the sums
    are ``inf`` or NaN when ``x`` is not finite)."""
    n = x.size
    m0 = m1 = m2 = m3 = 0.0
    a0 = a1 = a2 = a3 = 0.0
    s0 = s1 = s2 = s3 = 0.0
    j = 0
    while j + 4 <= n:
        v0 = x[j]
        v1 = x[j + 1]
        v2 = x[j + 2]
        v3 = x[j + 3]
        m0 = min(m0, v0)
        m1 = min(m1, v1)
        m2 = min(m2, v2)
        m3 = min(m3, v3)
        a0 += abs(v0)
        a1 += abs(v1)
        a2 += abs(v2)
        a3 += abs(v3)
        s0 += v0
        s1 += v1
        s2 += v2
        s3 += v3
        j += 4
    while j < n:
        m0 = min(m0, x[j])
        a0 += abs(x[j])
        s0 += x[j]
        j += 1
    return min(min(m0, m1), min(m2, m3)), (a0 + a1) + (a2 + a3), (s0 + s1) + (s2 + s3)


@numba.njit(cache=True)
def _extrapolate_moments(node_c, node_val, count, target, points, out, chosen):
    """Moments at ``t_n + target Δt`` from the polynomial through the moments at the
    ``points`` nodes (``t_n`` and the stages computed so far, ``count`` in all) nearest to
    ``target``; the error is ``O(Δt^points)``. Only values are used, never time
    derivatives: the stage values stay bounded as ``Δt → ∞`` (their derivatives need not),
    so large steps stay as robust as implicit Euler."""
    points = min(points, count)
    for q in range(points):
        best = -1
        for k in range(count):
            taken = False
            for r in range(q):
                taken = taken or chosen[r] == k
            if not taken and (best < 0 or abs(node_c[k] - target) < abs(node_c[best] - target)):
                best = k
        chosen[q] = best
    for l in range(out.size):
        out[l] = 0.0
    for q in range(points):
        k = chosen[q]
        weight = 1.0
        for r in range(points):
            if r != q:
                other = node_c[chosen[r]]
                weight *= (target - other) / (node_c[k] - other)
        for l in range(out.size):
            out[l] += weight * node_val[k, l]


@numba.njit(cache=True)
def _integrate_esdirk(masses, widths, centres, features, weights, base, entropic, beta,
                      mobility, t_start, t_end, dt_init, step_tol, dt_max, max_steps,
                      boundary_tol, tab_a, tab_err, exponent, filtered, order, labels):
    """Compiled body of the ESDIRK steppers (see :func:`integrate_drift_diffusion_esdirk`).

    ``tab_a``: Butcher matrix of a stiffly accurate ESDIRK (first row zero, constant
    diagonal ``γ``); ``tab_err = b − b̂``; ``exponent``: of the step-size controller
    (``1/(q + 1)`` for an error estimate ``O(Δt^{q+1})``); ``filtered``: apply
    ``(I − γΔt L)⁻¹`` to the error estimate (needed when the embedded method is not
    stable at infinity); ``order``: with an interaction, the order (2 or 3) to which the
    stage potentials are made consistent; ``labels``: empty (quadratic interaction) or the
    ``y_l`` of the logistic data term (:func:`_potential_from_moments`).
    """
    n = masses.size
    rank = weights.size
    s = tab_a.shape[0]
    gamma = tab_a[s - 1, s - 1]
    tab_c = np.empty(s)
    for i in range(s):
        tab_c[i] = 0.0
        for k in range(i + 1):
            tab_c[i] += tab_a[i, k]
    diffusivity = mobility / beta
    phi = np.empty(n)
    # SG coefficients of the operator of the current stage and of L_n (last entries stay 0)
    coef_a = np.zeros(n)
    coef_b = np.zeros(n)
    start_a = np.zeros(n)
    start_b = np.zeros(n)
    pivot = np.empty(n)
    upper = np.empty(n)
    mult = np.empty(n)
    slopes = np.empty((s, n))  # stage derivatives F_i = L_i Y_i
    rhs = np.empty(n)
    stage = np.empty(n)
    work = np.empty(n)
    spare = np.empty(n)
    cur = masses.copy()
    moments = np.empty(rank)
    found = np.empty(rank)
    node_c = np.empty(s)
    node_val = np.empty((s, rank))
    chosen = np.empty(s, dtype=np.int64)
    coefs = np.empty(s)
    total = 0.0
    for j in range(n):
        total += masses[j]
    if rank == 0:
        _drift_diffusion_potential(masses, features, weights, labels, base, entropic, beta,
                                   moments, phi)
        sg_coefficients(phi, widths, centres, diffusivity, coef_a, coef_b)
    factored = -1.0  # γΔt of the stored factorisation (rank 0)
    t = t_start
    dt = dt_init
    steps = 0
    status = STATUS_OK
    step = 0.0
    err = 0.0
    most_negative = 0.0
    while t < t_end:
        if steps >= max_steps:
            status = STATUS_MAX_STEPS
            break
        if rank > 0:
            _drift_diffusion_potential(cur, features, weights, labels, base, entropic,
                                       beta, moments, phi)
            sg_coefficients(phi, widths, centres, diffusivity, start_a, start_b)
            node_c[0] = 0.0
            for l in range(rank):
                node_val[0, l] = moments[l]
            _apply_sg(start_a, start_b, cur, slopes[0])
        else:
            _apply_sg(coef_a, coef_b, cur, slopes[0])
        rejected = False
        while True:
            step = min(dt, t_end - t, dt_max)
            gdt = gamma * step
            inv = 1.0 / gdt
            inconsistent = False
            for i in range(1, s):
                # Y_i = m_n + Δt Σ_{k<i} a_ik F_k + γΔt L_i Y_i
                for k in range(i):
                    coefs[k] = step * tab_a[i, k]
                _combine(cur, 1.0, slopes, coefs, i, rhs)
                if rank > 0:
                    # stage moments to O(Δt²): the second stage from an implicit-Euler
                    # predictor, the others extrapolated linearly from the two nearest of
                    # t_n and the stages computed so far; for a higher order, the stage is
                    # solved again with the moments of its own solution (O(Δt³))
                    if i == 1:
                        solve_mass_matrix(start_a, start_b, tab_c[1] * step, cur, stage,
                                          work, spare)
                        low_rank_moments(features, stage, moments)
                    else:
                        _extrapolate_moments(node_c, node_val, i, tab_c[i], 2, moments,
                                             chosen)
                    for sweep in range(order - 1):
                        if sweep > 0:
                            low_rank_moments(features, stage, moments)
                        _potential_from_moments(moments, features, weights, labels, base,
                                                entropic, beta, phi)
                        sg_coefficients(phi, widths, centres, diffusivity, coef_a, coef_b)
                        factor_mass_matrix(coef_a, coef_b, gdt, pivot, upper, mult)
                        solve_factored(pivot, upper, mult, rhs, stage)
                    # consistency of the stage (stability at large steps): further Picard
                    # sweeps while the moments of the solution differ from those of its
                    # operator by more than NL_RTOL_ESDIRK of their change over the step
                    for sweep in range(NL_MAX_SWEEPS + 1):
                        low_rank_moments(features, stage, found)
                        res, chg, size = _moment_residual(found, moments, node_val[0])
                        if res <= NL_RTOL_ESDIRK * chg + NL_ATOL * (1.0 + size):
                            break
                        if sweep == NL_MAX_SWEEPS:
                            inconsistent = True
                            break
                        for l in range(rank):
                            moments[l] = found[l]
                        _potential_from_moments(moments, features, weights, labels, base,
                                                entropic, beta, phi)
                        sg_coefficients(phi, widths, centres, diffusivity, coef_a, coef_b)
                        factor_mass_matrix(coef_a, coef_b, gdt, pivot, upper, mult)
                        solve_factored(pivot, upper, mult, rhs, stage)
                    if inconsistent:
                        break
                else:
                    if gdt != factored:
                        factor_mass_matrix(coef_a, coef_b, gdt, pivot, upper, mult)
                        factored = gdt
                    solve_factored(pivot, upper, mult, rhs, stage)
                row = slopes[i]
                for j in range(n):
                    row[j] = (stage[j] - rhs[j]) * inv
                if rank > 0 and i < s - 1:
                    node_c[i] = tab_c[i]
                    low_rank_moments(features, stage, node_val[i])
            if inconsistent and step > 1e-14:
                rejected = True
                dt = 0.5 * step
                continue
            # stiffly accurate: m_{n+1} is the last stage; local error Δt Σ (b_i − b̂_i) F_i
            # (filtered by (I − γΔt L_last)⁻¹), in L1 relative to the mass
            most_negative, size, mass = _min_l1_sum(stage)
            finite = size < np.inf
            for k in range(s):
                coefs[k] = step * tab_err[k]
            _combine(cur, 0.0, slopes, coefs, s, work)
            if filtered:
                solve_factored(pivot, upper, mult, work, work)
            err = _min_l1_sum(work)[1] / total
            if not finite:
                status = STATUS_NONFINITE
                break
            if most_negative < -1e-13 * total and step > 1e-14:
                if err <= step_tol:
                    # backward-Euler fallback (positive for every Δt); its distance to the
                    # higher-order result estimates its local error
                    solve_mass_matrix(coef_a, coef_b, step, cur, spare, rhs, work)
                    diff = 0.0
                    for j in range(n):
                        diff += abs(spare[j] - stage[j])
                    diff /= total
                    if diff <= step_tol:
                        for j in range(n):
                            stage[j] = spare[j]
                        most_negative, size, mass = _min_l1_sum(stage)
                        err = diff
                        break
                rejected = True
                dt = 0.5 * step
                continue
            if err <= step_tol or step <= 1e-14:
                break
            rejected = True
            dt = step * max(0.2, 0.9 * (step_tol / err) ** exponent)
        if status != STATUS_OK:
            break
        # L has zero column sums, but at very large steps (γΔt‖L‖ ≫ 1) the solves of the
        # nearly singular systems lose ~ε γΔt‖L‖ of the mass along the Gibbs direction:
        # restore the total (a uniform factor 1 + O(1e-16 γΔt‖L‖))
        if mass > 0.0:
            scale = total / mass
            for j in range(n):
                stage[j] *= scale
        cur, stage = stage, cur
        clipped = step < dt
        t = t + step if step < t_end - t else t_end
        steps += 1
        if not clipped:
            # a step shortened to land on t_end says nothing about the next step size
            factor = 5.0
            if err > 0.0:
                factor = min(5.0, max(0.2, 0.9 * (step_tol / err) ** exponent))
            if rejected:
                factor = min(factor, 1.0)
            proposal = step * factor
            if rank == 0:
                # round down to a power of 2^(1/8): the factorisation is reused while the
                # step stays on the same rung
                proposal = 2.0 ** (np.floor(8.0 * np.log2(proposal)) / 8.0)
            dt = min(proposal, dt_max)
        if most_negative < -1e-13 * total:
            status = STATUS_NEGATIVE
            break
        if cur[n - 1] > boundary_tol * total:
            status = STATUS_BOUNDARY
            break
    for j in range(n):
        masses[j] = cur[j]
    return t, steps, status, dt


_TRBDF2_A, _TRBDF2_ERR = TRBDF2_TABLEAU
_ESDIRK3_A, _ESDIRK3_ERR = ESDIRK3_TABLEAU
_ESDIRK4_A, _ESDIRK4_ERR = ESDIRK4_TABLEAU


@numba.njit(cache=True)
def integrate_drift_diffusion_trbdf2(masses, widths, centres, features, weights, base,
                                     entropic, beta, mobility, t_start, t_end, dt_init,
                                     step_tol, dt_max, max_steps, boundary_tol, labels=None):
    r"""Second-order (TR-BDF2) version of :func:`integrate_drift_diffusion`.

    Same arguments, return values and Scharfetter–Gummel operator ``L[Φ]`` (``D = μ/β``).
    Each step is the L-stable TR-BDF2 pair with ``γ = 2 − √2`` (both stages use the matrix
    ``I − (γΔt/2) L``):

        m*      − (γΔt/2) L_* m*      = m_n + (γΔt/2) L_n m_n             (trapezoid),
        m_{n+1} − (γΔt/2) L_e m_{n+1} = (m* − (1 − γ)² m_n) / (γ(2 − γ))  (BDF2),

    written as the three-stage ESDIRK :data:`TRBDF2_TABLEAU` and run by the code of
    :func:`integrate_drift_diffusion_esdirk`, whose docstring describes the positivity
    fallback, the reuse of the factorisation without an interaction and the potentials with
    one: here ``L_*`` uses ``Φ`` at an implicit-Euler predictor of ``m*`` and ``L_e`` the
    linear extrapolation of ``Φ`` from ``t_n`` and ``t_n + γΔt`` to ``t_{n+1}``, with no
    second solves, which keeps the scheme second order for the nonlinear equation too.
    Step control: ``step_tol`` bounds the L1 norm (relative to the mass) of the
    local-error estimate of Hosea & Shampine (1996),
    ``2kΔt (f_n/γ − f_*/(γ(1 − γ)) + f_{n+1}/(1 − γ))`` with ``f = L m`` and
    ``k = (−3γ² + 4γ − 2)/(12(2 − γ))`` (the embedded third-order solution of the tableau),
    filtered by ``(I − (γΔt/2) L_e)⁻¹`` (its embedded method is unbounded at infinity); the
    next step is ``Δt · min(5, max(0.2, 0.9 (tol/err)^{1/3}))`` (no growth right after a
    rejected attempt).

    Returns
    -------
    t_reached : float
    n_steps : int
        Accepted steps.
    status : int
        On ``STATUS_NONFINITE`` the masses are those of the last good step.
    dt_next : float
    """
    if labels is None:
        labels = np.empty(0)
    return _integrate_esdirk(masses, widths, centres, features, weights, base, entropic,
                             beta, mobility, t_start, t_end, dt_init, step_tol, dt_max,
                             max_steps, boundary_tol, _TRBDF2_A, _TRBDF2_ERR, 1.0 / 3.0, True,
                             2, labels)


@numba.njit(cache=True)
def integrate_drift_diffusion_esdirk(masses, widths, centres, features, weights, base,
                                     entropic, beta, mobility, t_start, t_end, dt_init,
                                     step_tol, dt_max, max_steps, boundary_tol, labels=None):
    r"""Fourth-order version of :func:`integrate_drift_diffusion`: ESDIRK4(3)6L[2]SA.

    Same arguments, return values and Scharfetter–Gummel operator ``L[Φ]`` (``D = μ/β``) as
    :func:`integrate_drift_diffusion_trbdf2`. Each step is the six-stage, L-stable,
    stiffly accurate ESDIRK of :data:`ESDIRK4_TABLEAU` (Kennedy & Carpenter 2003,
    ``γ = 1/4``) with its embedded third-order solution:

        F_1 = L_n m_n,
        Y_i − γΔt L_i Y_i = m_n + Δt Σ_{k<i} a_ik F_k,   F_i = (Y_i − rhs_i)/(γΔt),
        m_{n+1} = Y_6,

    All five implicit stages share the matrix ``I − γΔt L`` (tridiagonal; twisted
    factorisation of :func:`~reducedpde.solvers.fv.kernels.factor_mass_matrix`, whose two
    interleaved recurrences halve the latency-bound time of a solve). Every stage matrix has
    zero column sums, so the mass is conserved, and ``L m = 0`` makes every stage the
    identity, so the discrete Gibbs state ``m_j ∝ h_j e^{−Φ_j}`` is an exact steady state.
    At very large steps the solves of the nearly singular systems lose about
    ``1e-16 γΔt‖L‖`` of the mass along the Gibbs direction (``1e-8`` by ``t = 1e7`` on the
    test problem, for TR-BDF2 and implicit Euler alike), so each accepted step is rescaled
    to the total of the initial masses: conservation to round-off at any step size.

    Without an interaction (``rank = 0``) ``L`` is built once per call, the proposed steps
    are rounded down to powers of ``2^{1/8}`` and one factorisation serves every step on
    the same rung (and all stages of a step): fourth order. With one (``rank > 0``) ``Φ``
    depends on the masses only through the moments ``A_l``, and each stage ``i`` uses
    ``L_i = L[Φ(Ã_i)]``: ``Ã_2`` from an implicit-Euler predictor to ``t_n + c_2Δt``
    (matrix ``I − c_2Δt L_n``), ``Ã_i`` for the later stages by linear extrapolation of the
    moments at the two nearest of ``t_n`` and the stages already computed (both
    ``O(Δt²)``), after which every stage is solved a second time with the moments of its
    first solution (``O(Δt³)``). Only stage values enter, never the explicit derivative
    ``L_n m_n``, so large steps stay as robust as with TR-BDF2 (which takes the same
    predictor and extrapolation, without the second solves). The scheme is then third order
    for the nonlinear equation (measured 3.0–3.6 in the tests; a third solve per stage makes
    it fourth order, but costs 45% more per step for no fewer steps at tolerances
    1e-4 … 1e-8). Each stage needs its own factorisation (11 per step).

    Step control: ``step_tol`` bounds the L1 norm (relative to the mass) of the local-error
    estimate ``Δt Σ (b_i − b̂_i) F_i``; the next step is
    ``Δt · min(5, max(0.2, 0.9 (tol/err)^{1/4}))`` (no growth right after a rejected
    attempt). The embedded method is A-stable with ``|R̂(−∞)| = 0.15``, so the estimate stays
    bounded on stiff components without the filter ``(I − γΔt L)⁻¹`` that TR-BDF2 needs
    (checked: the filter changes neither the steps nor the error on the benchmark problem).

    Positivity: a higher-order scheme can only be conditionally positive. When a step
    makes a mass more negative than ``−1e-13 ×`` the total, the backward-Euler step of the
    same size with the last stage operator (an M-matrix solve: positive for every ``Δt``)
    is taken instead if its L1 distance to the ESDIRK result, an estimate of its local
    error, is within ``step_tol``; otherwise the step is halved. Near a steady state this
    lets the step grow without bound, as for implicit Euler. ``step_tol = inf`` with
    ``dt_init = dt_max`` gives fixed steps.

    Returns
    -------
    t_reached : float
    n_steps : int
        Accepted steps.
    status : int
        On ``STATUS_NONFINITE`` the masses are those of the last good step.
    dt_next : float
    """
    if labels is None:
        labels = np.empty(0)
    return _integrate_esdirk(masses, widths, centres, features, weights, base, entropic,
                             beta, mobility, t_start, t_end, dt_init, step_tol, dt_max,
                             max_steps, boundary_tol, _ESDIRK4_A, _ESDIRK4_ERR, 0.25, False, 3,
                             labels)


@numba.njit(cache=True)
def integrate_drift_diffusion_esdirk3(masses, widths, centres, features, weights, base,
                                      entropic, beta, mobility, t_start, t_end, dt_init,
                                      step_tol, dt_max, max_steps, boundary_tol, labels=None):
    r"""Third-order variant of :func:`integrate_drift_diffusion_esdirk`: ESDIRK3(2)4L[2]SA.

    The four-stage method of :data:`ESDIRK3_TABLEAU` (``γ ≈ 0.4358665``, embedded
    second-order solution, controller exponent ``1/3``); third order with and without an
    interaction. On the benchmark problem it needs about three times the steps of the
    fourth-order method for the same accuracy, and is slower overall.
    """
    if labels is None:
        labels = np.empty(0)
    return _integrate_esdirk(masses, widths, centres, features, weights, base, entropic,
                             beta, mobility, t_start, t_end, dt_init, step_tol, dt_max,
                             max_steps, boundary_tol, _ESDIRK3_A, _ESDIRK3_ERR, 1.0 / 3.0,
                             False, 3, labels)


__all__ += [
    "ESDIRK3_TABLEAU",
    "ESDIRK4_TABLEAU",
    "TRBDF2_TABLEAU",
    "integrate_drift_diffusion_esdirk",
    "integrate_drift_diffusion_esdirk3",
    "integrate_drift_diffusion_trbdf2",
]
