r"""Compiled time integrators for 1-D mean-field equations with a low-rank interaction.

The integrators solve, for the cell masses ``m`` of :mod:`reducedpde.fv.kernels`,

    ∂_t ρ = μ ∂_r(ρ ∂_r ψ_λ) + (μ/β) ∂_r(∂_r ρ − ρ ∂_r S),                         (1)
    ψ_λ(r; ρ) = b(r) + Σ_l w_l A_l f_l(r),    A_l = ∫ f_l dρ,

with mobility ``μ`` (``μ = 2`` for the conventions of this package with ``ξ = 1``), a
"base" potential ``b`` (single-neuron potential plus weight decay), a low-rank interaction
``(w_l, f_l)`` and an entropic weight ``S`` (``S = (d − 1) ln r`` for the radial law of a
rotation-invariant measure on ``R^d``). Time-dependent step sizes ``ξ(t)`` are handled by the
caller through the time change ``τ = ∫ ξ``.

* :func:`integrate_transport` — ``β = ∞``: MUSCL upwind fluxes, SSP-RK3, adaptive
  ``Δt = cfl · h_min / max|u|`` with ``u = −μ ∂_r ψ_λ`` at the faces.
* :func:`integrate_drift_diffusion` — ``β < ∞``: Scharfetter–Gummel fluxes for
  ``Φ = β ψ_λ − S`` and linearly implicit Euler (``ψ`` frozen at the start of a step). The
  step is adapted so that the L1 change of the masses per step stays near ``step_tol``:
  it is not limited by the diffusive CFL, and it grows as the solution approaches the
  steady state.
* :func:`integrate_drift_diffusion_trbdf2` — ``β < ∞``, second order: the same fluxes with
  the L-stable TR-BDF2 pair and local-error control. Far more accurate per step in
  transients; positive only up to round-off (``−1e-13`` of the mass) and slower than
  implicit Euler to settle on the exact discrete Gibbs state, so it is not yet the default
  of :func:`reducedpde.fv.radial.solve_radial`.

Return status codes: ``STATUS_OK``, ``STATUS_BOUNDARY`` (mass reached the last cell),
``STATUS_NONFINITE`` (NaN/inf in the state), ``STATUS_NEGATIVE`` (negative mass beyond
round-off), ``STATUS_MAX_STEPS``.
"""

from __future__ import annotations

import numba
import numpy as np

from .kernels import (
    grid_factors,
    low_rank_moments,
    sg_coefficients,
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


@numba.njit(cache=True)
def _integrate_transport(masses, factors, h_min, features, feature_derivatives, weights,
                        base_derivative, mobility, t_start, t_end, cfl, theta, max_steps,
                        boundary_tol):
    """Compiled body of :func:`integrate_transport` (geometry factors precomputed)."""
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
            dt = min(dt, cfl * h_min / umax)
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
    return _integrate_transport(
        masses, grid_factors(widths, centres), float(np.min(widths)), features,
        feature_derivatives, weights, base_derivative, mobility, t_start, t_end, cfl, theta,
        max_steps, boundary_tol,
    )


@numba.njit(cache=True)
def _drift_diffusion_potential(masses, features, weights, base, entropic, beta, moments, out):
    """``Φ_j = β (b_j + Σ_l w_l A_l f_l(x_j)) − S_j`` at the cell centres."""
    low_rank_moments(features, masses, moments)
    n = masses.size
    rank = weights.size
    for j in range(n):
        psi = base[j]
        for l in range(rank):
            psi += weights[l] * moments[l] * features[l, j]
        out[j] = beta * psi - entropic[j]


@numba.njit(cache=True)
def integrate_drift_diffusion(masses, widths, centres, features, weights, base, entropic,
                              beta, mobility, t_start, t_end, dt_init, step_tol, dt_max,
                              max_steps, boundary_tol):
    """Advance the noisy equation (1) from ``t_start`` to ``t_end`` in place.

    Each step freezes ``Φ = β ψ_λ[m] − S`` at the current masses and solves the backward
    Euler system of the Scharfetter–Gummel operator with ``D = μ/β``. A step whose L1 change
    exceeds ``2 step_tol`` is redone with a smaller ``Δt``; the next ``Δt`` aims at an L1
    change of ``step_tol`` and at most doubles.

    Returns
    -------
    t_reached : float
    n_steps : int
    status : int
    dt_next : float
        The step proposed for the next call (pass it back as ``dt_init``).
    """
    n = masses.size
    phi = np.empty(n)
    coef_a = np.empty(n)
    coef_b = np.empty(n)
    work_c = np.empty(n)
    work_d = np.empty(n)
    new = np.empty(n)
    moments = np.empty(weights.size)
    diffusivity = mobility / beta
    t = t_start
    dt = dt_init
    steps = 0
    while t < t_end:
        if steps >= max_steps:
            return t, steps, STATUS_MAX_STEPS, dt
        _drift_diffusion_potential(masses, features, weights, base, entropic, beta, moments, phi)
        sg_coefficients(phi, widths, centres, diffusivity, coef_a, coef_b)
        while True:
            step = min(dt, t_end - t, dt_max)
            solve_mass_matrix(coef_a, coef_b, step, masses, new, work_c, work_d)
            change = 0.0
            for j in range(n):
                change += abs(new[j] - masses[j])
            if change <= 2.0 * step_tol or step <= 1e-14:
                break
            dt = 0.5 * step * step_tol / change
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


@numba.njit(cache=True)
def integrate_drift_diffusion_trbdf2(masses, widths, centres, features, weights, base,
                                     entropic, beta, mobility, t_start, t_end, dt_init,
                                     step_tol, dt_max, max_steps, boundary_tol):
    r"""Second-order (TR-BDF2) version of :func:`integrate_drift_diffusion`.

    Same arguments, return values and Scharfetter–Gummel operator ``L[Φ]`` (``D = μ/β``).
    Each step is the L-stable TR-BDF2 pair with ``γ = 2 − √2`` (both stages use the matrix
    ``I − (γΔt/2) L``; tridiagonal, solved by the Thomas algorithm):

        m*      − (γΔt/2) L_* m*      = m_n + (γΔt/2) L_n m_n             (trapezoid),
        m_{n+1} − (γΔt/2) L_e m_{n+1} = (m* − (1 − γ)² m_n) / (γ(2 − γ))  (BDF2).

    ``L_n = L[Φ(m_n)]``. With an interaction (``rank > 0``) the potential is not frozen:
    ``L_*`` uses ``Φ`` at an implicit-Euler predictor of ``m*``, and ``L_e`` the linear
    extrapolation of ``Φ`` from ``t_n`` and ``t_n + γΔt`` to ``t_{n+1}``, so the scheme is
    second order for the nonlinear equation too. Without one (``rank = 0``) ``L`` is built
    once per call, the proposed steps are rounded down to powers of ``2^{1/8}`` and the LU
    factorisation is reused while the step stays on the same rung. Every
    stage matrix has zero column sums, so the mass is conserved to round-off, and
    ``L m = 0`` makes every stage the identity, so the discrete Gibbs state
    ``m_j ∝ h_j e^{−Φ_j}`` is an exact steady state.

    Step control: ``step_tol`` bounds the L1 norm (relative to the mass) of the local-error
    estimate of Hosea & Shampine (1996), ``2kΔt (f_n/γ − f_*/(γ(1 − γ)) + f_{n+1}/(1 − γ))``
    with ``f = L m`` and ``k = (−3γ² + 4γ − 2)/(12(2 − γ))``, filtered by
    ``(I − (γΔt/2) L_e)⁻¹``; the next step is ``Δt · min(5, max(0.2, 0.9 (tol/err)^{1/3}))``
    (no growth right after a rejected attempt).

    Positivity: a second-order scheme can only be conditionally positive. When a step
    makes a mass more negative than ``−1e-13 ×`` the total, the backward-Euler step of the
    same size with ``L_e`` (an M-matrix solve: positive for every ``Δt``) is taken instead
    if its L1 distance to the TR-BDF2 result, an estimate of its local error, is within
    ``step_tol``; otherwise the step is halved. Near a steady state this lets the step
    grow without bound, as for implicit Euler. ``step_tol = inf`` with
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
    n = masses.size
    rank = weights.size
    gamma = 2.0 - np.sqrt(2.0)
    c_star = 1.0 / (gamma * (2.0 - gamma))
    c_old = (1.0 - gamma) ** 2 / (gamma * (2.0 - gamma))
    k_err = (-3.0 * gamma**2 + 4.0 * gamma - 2.0) / (12.0 * (2.0 - gamma))
    w_n = 2.0 * k_err / gamma
    w_s = -2.0 * k_err / (gamma * (1.0 - gamma))
    w_e = 2.0 * k_err / (1.0 - gamma)
    diffusivity = mobility / beta
    phi_n = np.empty(n)
    phi_s = np.empty(n)
    # SG coefficients of L_n, L_* and L_e (last entries stay 0: no flux through r_max)
    a_n = np.zeros(n)
    b_n = np.zeros(n)
    a_s = np.zeros(n)
    b_s = np.zeros(n)
    a_e = np.zeros(n)
    b_e = np.zeros(n)
    # LU factors of I − (γΔt/2) L_* and of I − (γΔt/2) L_e: reciprocal pivots, upper and
    # lower multipliers (forward substitution d_j = rhs_j p_j + q_j d_{j−1})
    pivot_s = np.empty(n)
    upper_s = np.empty(n)
    pivot_e = np.empty(n)
    upper_e = np.empty(n)
    mult_s = np.zeros(n)
    mult_e = np.zeros(n)
    work = np.empty(n)
    rhs = np.empty(n)
    stage = np.empty(n)
    cur = masses.copy()
    new = np.empty(n)
    f_n = np.empty(n)
    tau = np.empty(n)
    moments = np.empty(rank)
    total = 0.0
    for j in range(n):
        total += masses[j]
    if rank == 0:
        _drift_diffusion_potential(masses, features, weights, base, entropic, beta, moments,
                                   phi_n)
        sg_coefficients(phi_n, widths, centres, diffusivity, a_n, b_n)
        a_s, b_s, a_e, b_e = a_n, b_n, a_n, b_n
        pivot_e, upper_e, mult_e = pivot_s, upper_s, mult_s
    factored = -1.0  # γΔt/2 of the stored factorisation (rank 0)
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
            _drift_diffusion_potential(cur, features, weights, base, entropic, beta,
                                       moments, phi_n)
            sg_coefficients(phi_n, widths, centres, diffusivity, a_n, b_n)
        rejected = False
        while True:
            step = min(dt, t_end - t, dt_max)
            half = 0.5 * gamma * step
            if rank > 0:
                # implicit-Euler predictor of m*, for the potential at t_n + γΔt
                solve_mass_matrix(a_n, b_n, gamma * step, cur, stage, pivot_s, upper_s)
                _drift_diffusion_potential(stage, features, weights, base, entropic, beta,
                                           moments, phi_s)
                sg_coefficients(phi_s, widths, centres, diffusivity, a_s, b_s)
            refactor = rank > 0 or half != factored
            # one forward pass: f_n = L_n m_n, rhs = m_n + (γΔt/2) f_n, (factorisation and)
            # forward substitution; J_{j+1/2} = a_j m_j − b_j m_{j+1}, (Lm)_j = J_{j−½} − J_{j+½}
            c_prev = 0.0
            d_prev = 0.0
            a_prev = 0.0
            b_prev = 0.0
            flux_left = 0.0
            m_next = cur[0]
            for j in range(n):
                m_j = m_next
                a_j = a_s[j]
                b_j = b_s[j]
                flux = 0.0
                if j < n - 1:
                    m_next = cur[j + 1]
                    flux = a_n[j] * m_j - b_n[j] * m_next
                f = flux_left - flux
                flux_left = flux
                f_n[j] = f
                r = m_j + half * f
                rhs[j] = r
                if refactor:
                    lower = -half * a_prev
                    p = 1.0 / (1.0 + half * (b_prev + a_j) - lower * c_prev)
                    c_prev = -half * b_j * p
                    q = half * a_prev * p
                    pivot_s[j] = p
                    upper_s[j] = c_prev
                    mult_s[j] = q
                    d_prev = r * p + q * d_prev
                else:
                    d_prev = r * pivot_s[j] + mult_s[j] * d_prev
                work[j] = d_prev
                a_prev = a_j
                b_prev = b_j
            if rank == 0:
                factored = half
            # back substitution -> m*; tau = w_n f_n + w_s f_* (f_* = (m* − rhs)/half);
            # rhs <- right-hand side of the BDF2 stage
            x = 0.0
            for j in range(n - 1, -1, -1):
                x = work[j] - upper_s[j] * x
                stage[j] = x
                tau[j] = w_n * f_n[j] + w_s * (x - rhs[j]) / half
                rhs[j] = c_star * x - c_old * cur[j]
            if rank > 0:
                # Φ extrapolated linearly to t_{n+1}; factorise I − (γΔt/2) L_e
                _drift_diffusion_potential(stage, features, weights, base, entropic, beta,
                                           moments, phi_s)
                for j in range(n):
                    phi_s[j] = phi_n[j] + (phi_s[j] - phi_n[j]) / gamma
                sg_coefficients(phi_s, widths, centres, diffusivity, a_e, b_e)
                c_prev = 0.0
                d_prev = 0.0
                a_prev = 0.0
                b_prev = 0.0
                for j in range(n):
                    a_j = a_e[j]
                    b_j = b_e[j]
                    lower = -half * a_prev
                    p = 1.0 / (1.0 + half * (b_prev + a_j) - lower * c_prev)
                    c_prev = -half * b_j * p
                    q = half * a_prev * p
                    pivot_e[j] = p
                    upper_e[j] = c_prev
                    mult_e[j] = q
                    d_prev = rhs[j] * p + q * d_prev
                    work[j] = d_prev
                    a_prev = a_j
                    b_prev = b_j
            else:
                d_prev = 0.0
                for j in range(n):
                    d_prev = rhs[j] * pivot_e[j] + mult_e[j] * d_prev
                    work[j] = d_prev
            # back substitution -> m_{n+1}; complete tau; positivity and finiteness
            x = 0.0
            most_negative = 0.0
            finite = True
            for j in range(n - 1, -1, -1):
                x = work[j] - upper_e[j] * x
                new[j] = x
                most_negative = min(most_negative, x)
                finite = finite and abs(x) < np.inf
                tau[j] = step * (tau[j] + w_e * (x - rhs[j]) / half)
            # filtered error estimate ‖(I − (γΔt/2) L_e)⁻¹ tau‖₁ / total
            d_prev = 0.0
            for j in range(n):
                d_prev = tau[j] * pivot_e[j] + mult_e[j] * d_prev
                work[j] = d_prev
            x = 0.0
            err = 0.0
            for j in range(n - 1, -1, -1):
                x = work[j] - upper_e[j] * x
                err += abs(x)
            err /= total
            if not finite:
                status = STATUS_NONFINITE
                break
            if most_negative < -1e-13 * total and step > 1e-14:
                if err <= step_tol:
                    # backward-Euler fallback (positive for every Δt); its distance to the
                    # TR-BDF2 result estimates its local error
                    solve_mass_matrix(a_e, b_e, step, cur, stage, work, tau)
                    diff = 0.0
                    for j in range(n):
                        diff += abs(stage[j] - new[j])
                    diff /= total
                    if diff <= step_tol:
                        for j in range(n):
                            new[j] = stage[j]
                        most_negative = 0.0
                        err = diff
                        break
                rejected = True
                dt = 0.5 * step
                continue
            if err <= step_tol or step <= 1e-14:
                break
            rejected = True
            dt = step * max(0.2, 0.9 * (step_tol / err) ** (1.0 / 3.0))
        if status != STATUS_OK:
            break
        cur, new = new, cur
        clipped = step < dt
        t = t + step if step < t_end - t else t_end
        steps += 1
        if not clipped:
            # a step shortened to land on t_end says nothing about the next step size
            factor = 5.0
            if err > 0.0:
                factor = min(5.0, max(0.2, 0.9 * (step_tol / err) ** (1.0 / 3.0)))
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


__all__.append("integrate_drift_diffusion_trbdf2")
