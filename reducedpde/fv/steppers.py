r"""Compiled time integrators for 1-D mean-field equations with a low-rank interaction.

Both integrators solve, for the cell masses ``m`` of :mod:`reducedpde.fv.kernels`,

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
