r"""Finite-volume solver for the ``k = 1`` ``(a, s, r)`` multi-index dynamics.

The noiseless mean-field law ``ρ̄_t(a, s, r)`` of
:class:`~reducedpde.models.multiindex.MultiIndexModel` (single-index target ``y = φ(z)``,
``z ∈ R``) solves the continuity equation

    ∂_t ρ̄ + ∂_a(ȧ ρ̄) + ∂_s(ṡ ρ̄) + ∂_r(ṙ ρ̄) = 0,        r ≥ 0,

    ȧ = −2ξ_a(∂_aΨ + λa),   ṡ = −2ξ_w(∂_sΨ + λs),   ṙ = −2ξ_w(∂_rΨ + λr),

    ∂_aΨ = −E_z[e σ_r(sz)],   ∂_sΨ = −a E_z[e σ_r'(sz) z],   ∂_rΨ = −a E_z[e ∂_rσ_r(sz)],

with the residual ``e = φ − f̄``, ``f̄(z) = ∫ a σ_r(sz) dρ̄`` and ``E_z`` the latent rule
``Σ_q w_q (·)(z_q)`` of the model. The unknowns are the masses ``m[i, j, l]`` of the cells of
a tensor grid ``(a_i, s_j, r_l)``; the discrete measure is ``Σ m[i,j,l] δ_{(a_i, s_j, r_l)}``
(cell-centre atoms), so the risk and the velocity are those of
:class:`~reducedpde.models.multiindex.MultiIndexModel` for these atoms.

Velocity on the faces
    ``∂_aΨ`` does not depend on ``a`` and ``∂_sΨ``, ``∂_rΨ`` are linear in ``a``. On a fixed
    grid the feature tables ``σ_{r_l}(s_j z_q)`` (cell centres), ``∂_tσ_{r_l}(s_{j±½} z_q) z_q``
    (``s``-faces × ``r``-centres) and ``∂_rσ_{r_{l±½}}(s_j z_q)`` (``s``-centres × ``r``-faces)
    are computed once. Per Runge–Kutta stage:

        A[j, l]    = Σ_i m[i,j,l] a_i                                  O(Ma Ms Mr),
        f̄_q        = Σ_{j,l} A[j,l] σ_{r_l}(s_j z_q),   e_q = φ_q − f̄_q   O(Ms Mr Q),
        g_a[j,l]   = −Σ_q w_q e_q σ_{r_l}(s_j z_q),
        g_s[j±½,l] = −Σ_q w_q e_q ∂_tσ_{r_l}(s_{j±½} z_q) z_q,
        g_r[j,l±½] = −Σ_q w_q e_q ∂_rσ_{r_{l±½}}(s_j z_q),

    and the face velocities ``ȧ = −2ξ_a(g_a[j,l] + λ a_{i±½})``,
    ``ṡ = −2ξ_w(a_i g_s[j±½,l] + λ s_{j±½})``, ``ṙ = −2ξ_w(a_i g_r[j,l±½] + λ r_{l±½})``

    with ``a_i`` the centre of the cell row for the ``s``- and ``r``-faces (exact, since the
    velocity is linear in ``a``). Cost per stage ``O(Ms Mr Q + Ma Ms Mr)``.

Fluxes and time stepping
    Dimension-unsplit: the rate is the sum over the three axes of the 1-D MUSCL upwind
    rate :func:`reducedpde.solvers.fv.kernels.transport_rate` along every grid line, with no flux
    through the outer faces. At ``r = 0`` the no-flux face is the constraint ``r ≥ 0``:
    mass carried towards ``r = 0`` collects in the first ``r``-cell, the discrete
    counterpart of :meth:`MultiIndexModel.velocity` cancelling an inward ``ṙ`` at ``r = 0``.
    Time stepping is SSP-RK3.

Positivity (CFL bound)
    Let ``c_k = max_f |u_{k,f}| / h_{k,min}`` for axis ``k ∈ {a, s, r}`` and
    ``c = c_a + c_s + c_r``. The forward-Euler step ``m + Δt Σ_k L_k m`` is the convex
    combination ``Σ_k α_k (m + (Δt/α_k) L_k m)`` with ``α_k = c_k / c``; each term is a
    1-D MUSCL update along the lines of axis ``k`` with Courant number
    ``(Δt/α_k) c_k = Δt c``, hence non-negative when ``Δt c ≤ ½``
    (:mod:`reducedpde.solvers.fv.kernels`: the outflow of a cell is at most
    ``Δt (|u_{j+½}| ρ^R_j + |u_{j−½}| ρ^L_j) ≤ 2Δt c_k m_j`` because the limited face
    values satisfy ``ρ^L_j + ρ^R_j = 2ρ_j``). The solver takes ``Δt = cfl / c`` with
    ``cfl ≤ ½``. With equal weights ``α_k = 1/3`` the same argument gives the (more
    restrictive) ``Δt ≤ min_k (h_k/max|u_k|)/6``; since ``c ≤ 3 max_k c_k`` the bound used
    here is never smaller. SSP-RK3 is a convex combination of forward-Euler steps with the
    stage velocities, so it is positive when ``Δt c(stage) ≤ ½`` at all three stages; a
    step whose stage velocities violate this is redone with ``Δt = cfl / (1.05 max c(stage))``.

Noisy models (finite ``β``, finite ``d > k + 1``)
    The density ``ρ̄`` w.r.t. ``da ds dr`` solves (model docstring, "Noise")

        ∂_t ρ̄ = Σ_{x ∈ {a,s,r}} ∂_x(D_x (∂_x ρ̄ + ρ̄ ∂_x Φ)),
        Φ = β Ψ_λ − (d−k−1) log r,   D_a = 2ξ_a/β,   D_s = D_r = 2ξ_w/β,

    i.e. the drift ``−2ξ ∂Ψ_λ`` plus, in ``r``, the Bessel drift ``D_r (d−k−1)/r``, both
    written through the potential ``Φ``; the Gibbs state is ``ρ̄ ∝ e^{−Φ}``. The flux
    along each axis is the Scharfetter–Gummel flux of
    :func:`reducedpde.solvers.fv.kernels.sg_coefficients` with ``Φ`` at the cell centres,

        J_{j+½} = (D/δ)[B(ΔΦ) m_j/h_j − B(−ΔΦ) m_{j+1}/h_{j+1}],
        ΔΦ = Φ_{j+1} − Φ_j,   δ = x_{j+1} − x_j,   B(z) = z/(eᶻ − 1),

    with no flux through the outer faces and through ``r = 0`` (the first interior
    ``r``-face and all centres have ``r > 0``, so ``log r`` is finite). The potential costs
    nothing extra: ``Ψ(a_i, s_j, r_l) = a_i ∂_aΨ(s_j, r_l) = a_i g_a[j,l]`` (the tables
    ``f1z``, ``f2`` are not used). We use the potential difference rather than a face
    velocity ``u_f`` (cell Péclet number ``u_f δ/D``; on a uniform axis the two
    agree to ``O(δ³)``) because then every flux vanishes exactly when ``m ∝ h e^{−Φ}``: the discrete
    steady states are exactly the self-consistent Gibbs laws on the cell centres,
    ``m[i,j,l] ∝ h_a h_s h_r r_l^{d−k−1} exp(−β Ψ_λ(a_i, s_j, r_l; m))``. Moreover, with
    ``μ = log(m/h) + Φ`` one has ``J_{j+½} = (D/δ) B(ΔΦ) e^{−Φ_j}(e^{μ_j} − e^{μ_{j+1}})``,
    and ``μ_j = ∂F/∂m_j`` for the convex discrete free energy
    ``F(m) = Σ m (log(m/h) − (d−k−1) log r + βλ|θ|²/2) + β R(m)/2`` (``∂R/∂m_j = 2Ψ_j``),
    so ``dF/dt = −Σ_faces J_{j+½}(μ_j − μ_{j+1}) ≤ 0`` along the semi-discrete flow: the
    run relaxes to the unique minimiser of ``F``, the fixed point above (tests: to
    round-off).

    Positivity: a forward-Euler step is ``m_j^+ = (1 − Δt O_j) m_j + Δt·(inflow ≥ 0)``
    with the outflow coefficient of the cell summed over the three axes,

        O_j = Σ_x (D_x/h_{x,j}) [B(ΔΦ_{j+½})/δ_{j+½} + B(−ΔΦ_{j−½})/δ_{j−½}]   (B ≥ 0),

    (end faces omitted), so the step is non-negative iff ``Δt max_j O_j ≤ 1``. The solver
    uses ``c = ½ max_j O_j`` in place of the MUSCL ``c`` and the same rule
    ``Δt = cfl / c`` (``cfl ≤ ½``), stage checks and retries, hence SSP-RK3 stays
    positive. As ``B(z) → 1`` for small ``|ΔΦ|``, ``O_j ≈ Σ_x 2D_x/h_x²`` where diffusion
    dominates: the step is diffusive, ``Δt ∝ h²/D``, acceptable on moderate grids (a
    ``16³`` grid at ``β = 10`` takes about 0.7 ms per step). For ``β → ∞``,
    ``(D/δ)B(ΔΦ) → u⁺`` and ``(D/δ)B(−ΔΦ) → u⁻`` with ``u = −2ξ ΔΨ_λ/δ`` (the Bessel
    part of ``ΔΦ`` is ``O(1)`` and drops out): the scheme tends to the *first-order*
    upwind scheme (not the MUSCL one; the gap is ``O(h)``) and ``Δt`` to the upwind CFL
    step. The limiter is not used for noisy models.

Free energy and certificate (noisy models)
    ``𝓛(m) = F(m)/β`` (``F`` the discrete free energy above), i.e.

        𝓛 = ½R + (λ/2) Σ m‖θ‖² + β⁻¹ Σ m log(m / (h r^{d−k−1})),   h = h_a h_s h_r

    (the entropy carries the reduced Jacobian ``r^{d−k−1}``), is recorded as
    ``free_energy`` at the output times, together with the certificate
    ``gibbs_gap = β⁻¹ KL(m ‖ p(m))``, ``p ∝ h r^{d−k−1} e^{−βψ_λ(·; m)}`` (the proximal
    Gibbs law on the same grid, :mod:`reducedpde.mfld`). The entropy-free part is a
    convex quadratic in ``m`` (latent weights ``w_q > 0``), so
    ``𝓛(m) − min 𝓛 ≤ gibbs_gap``, with both zero at the fixed point above. The
    diffusivities ``2ξ/β`` put both layers at the temperature ``1/β``, so the flow is a
    gradient flow of ``𝓛`` in the metric ``diag(2ξ_a, 2ξ_w, 2ξ_w)``: the limit and the
    certificate do not depend on ``ξ_a/ξ_w``, only the rate of decay does.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numba
import numpy as np
from tqdm.auto import tqdm

from . import steppers
from .grid import Grid1D
from .kernels import bernoulli, grid_factors, transport_rate
from .radial import SolverError
from .steppers import (
    STATUS_BOUNDARY,
    STATUS_MAX_STEPS,
    STATUS_NEGATIVE,
    STATUS_NONFINITE,
    STATUS_OK,
)

__all__ = ["MultiIndexFVResult", "MultiIndexGridFeatures", "solve_multiindex_fv"]

_AXES = ("a", "s", "r")


# ---------------------------------------------------------------------------------------
# Compiled kernels
# ---------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _network_output(masses, a_centres, f0, weighted_a, output):
    """``A[j,l] = Σ_i m[i,j,l] a_i`` and ``f̄_q = Σ_{j,l} A[j,l] f0[j,l,q]``."""
    n_a, n_s, n_r = masses.shape
    n_q = f0.shape[2]
    for j in range(n_s):
        for l in range(n_r):
            weighted_a[j, l] = 0.0
    for i in range(n_a):
        ai = a_centres[i]
        for j in range(n_s):
            for l in range(n_r):
                weighted_a[j, l] += masses[i, j, l] * ai
    for q in range(n_q):
        output[q] = 0.0
    for j in range(n_s):
        for l in range(n_r):
            c = weighted_a[j, l]
            if c != 0.0:
                for q in range(n_q):
                    output[q] += c * f0[j, l, q]


@numba.njit(cache=True)
def _contract(table, weighted_residual, out):
    """``out[j, l] = −Σ_q table[j, l, q] we_q``."""
    n_j, n_l, n_q = table.shape
    for j in range(n_j):
        for l in range(n_l):
            acc = 0.0
            for q in range(n_q):
                acc += table[j, l, q] * weighted_residual[q]
            out[j, l] = -acc


@numba.njit(cache=True)
def _psi_gradients(masses, a_centres, f0, f1z, f2, phi, qweights, weighted_a, output,
                   weighted_residual, g_a, g_s, g_r):
    """Network output and the ``a``-independent parts of ``∇Ψ`` on the faces.

    ``g_a[j,l] = ∂_aΨ(s_j, r_l)``, ``g_s[j',l] = ∂_sΨ/a`` at ``(s_{j'−½}, r_l)`` and
    ``g_r[j,l'] = ∂_rΨ/a`` at ``(s_j, r_{l'−½})``.
    """
    _network_output(masses, a_centres, f0, weighted_a, output)
    for q in range(output.size):
        weighted_residual[q] = qweights[q] * (phi[q] - output[q])
    _contract(f0, weighted_residual, g_a)
    _contract(f1z, weighted_residual, g_s)
    _contract(f2, weighted_residual, g_r)


@numba.njit(cache=True)
def _sweep_lines(masses, velocity, factors, theta, rate, accumulate):
    """1-D MUSCL rates along axis 1 of the 3-D views ``masses``/``rate`` (``(P, n, Q)``),
    with the face velocities ``velocity[p, :, q]`` (``n + 1`` faces) of each line; adds
    to ``rate`` when ``accumulate``. Returns ``max |u|`` over the interior faces."""
    n_p, n, n_q = masses.shape
    line = np.empty(n)
    line_rate = np.empty(n)
    left = np.empty(n)
    right = np.empty(n)
    u = np.empty(n + 1)
    umax = 0.0
    for p in range(n_p):
        for q in range(n_q):
            for f in range(n + 1):
                u[f] = velocity[p, f, q]
            for f in range(1, n):
                umax = max(umax, abs(u[f]))
            for k in range(n):
                line[k] = masses[p, k, q]
            transport_rate(line, factors, u, theta, left, right, line_rate)
            for k in range(n):
                if accumulate:
                    rate[p, k, q] += line_rate[k]
                else:
                    rate[p, k, q] = line_rate[k]
    return umax


@numba.njit(cache=True)
def _unsplit_rate(masses, a_centres, a_faces, s_faces, r_faces, f0, f1z, f2, phi, qweights,
                  xi_a, xi_w, lam, factors_a, factors_s, factors_r, inv_hmin, theta,
                  weighted_a, output, weighted_residual, g_a, g_s, g_r, u_a, u_s, u_r, rate):
    """``rate = Σ_{k ∈ {a,s,r}} L_k m`` (1-D MUSCL rates along every line); returns ``c``.

    ``c = Σ_k max_f |u_{k,f}| / h_{k,min}`` over the interior faces (the CFL sum of the
    module docstring). ``u_a`` ``(Ms, Ma+1, Mr)``, ``u_s`` ``(Ma, Ms+1, Mr)`` and ``u_r``
    ``(Ma, Mr+1, Ms)`` receive the face velocities, the line axis in the middle.
    """
    n_a, n_s, n_r = masses.shape
    _psi_gradients(masses, a_centres, f0, f1z, f2, phi, qweights, weighted_a, output,
                   weighted_residual, g_a, g_s, g_r)
    two_xi_a = 2.0 * xi_a
    two_xi_w = 2.0 * xi_w
    for i in range(n_a):
        ai = a_centres[i]
        for j in range(n_s):
            for l in range(n_r):
                # ṡ = −2ξ_w(a_i g_s[j',l] + λ s_f),  ṙ = −2ξ_w(a_i g_r[j,l'] + λ r_f)
                u_s[i, j, l] = -two_xi_w * (ai * g_s[j, l] + lam * s_faces[j])
                u_r[i, l, j] = -two_xi_w * (ai * g_r[j, l] + lam * r_faces[l])
            u_r[i, n_r, j] = -two_xi_w * (ai * g_r[j, n_r] + lam * r_faces[n_r])
        for l in range(n_r):
            u_s[i, n_s, l] = -two_xi_w * (ai * g_s[n_s, l] + lam * s_faces[n_s])
    for f in range(n_a + 1):
        for j in range(n_s):
            for l in range(n_r):
                # ȧ = −2ξ_a(g_a[j,l] + λ a_f), independent of a_i
                u_a[j, f, l] = -two_xi_a * (g_a[j, l] + lam * a_faces[f])
    umax_a = _sweep_lines(masses.transpose(1, 0, 2), u_a, factors_a, theta,
                          rate.transpose(1, 0, 2), False)
    umax_s = _sweep_lines(masses, u_s, factors_s, theta, rate, True)
    umax_r = _sweep_lines(masses.transpose(0, 2, 1), u_r, factors_r, theta,
                          rate.transpose(0, 2, 1), True)
    return umax_a * inv_hmin[0] + umax_s * inv_hmin[1] + umax_r * inv_hmin[2]


@numba.njit(cache=True)
def _sg_sweep_lines(masses, potential, widths, centres, diffusivity, rate, outflow,
                    accumulate):
    """Scharfetter–Gummel rates along axis 1 of the 3-D views ``masses``/``potential``/
    ``rate``/``outflow`` (``(P, n, Q)``); ``widths``/``centres`` are those of the line axis.

    ``J_{j+½} = (D/δ)[B(ΔΦ) m_j/h_j − B(−ΔΦ) m_{j+1}/h_{j+1}]`` with
    ``ΔΦ = Φ_{j+1} − Φ_j``, ``δ = x_{j+1} − x_j`` (no flux through the end faces);
    ``rate`` receives ``J_{j−½} − J_{j+½}`` (added when ``accumulate``) and ``outflow``
    the coefficient of ``m_j`` in its outflow, ``(D/δ)B(ΔΦ_{j+½})/h_j +
    (D/δ)B(−ΔΦ_{j−½})/h_j`` (always added).
    """
    n_p, n, n_q = masses.shape
    for p in range(n_p):
        for q in range(n_q):
            if not accumulate:
                for k in range(n):
                    rate[p, k, q] = 0.0
            for k in range(n - 1):
                scale = diffusivity / (centres[k + 1] - centres[k])
                dphi = potential[p, k + 1, q] - potential[p, k, q]
                out_left = scale * bernoulli(dphi) / widths[k]
                out_right = scale * bernoulli(-dphi) / widths[k + 1]
                flux = out_left * masses[p, k, q] - out_right * masses[p, k + 1, q]
                rate[p, k, q] -= flux
                rate[p, k + 1, q] += flux
                outflow[p, k, q] += out_left
                outflow[p, k + 1, q] += out_right


@numba.njit(cache=True)
def _sg_rate(masses, a_centres, s_centres, r_centres, a_widths, s_widths, r_widths, f0,
             phi, qweights, xi_a, xi_w, lam, beta, entropic, weighted_a, output,
             weighted_residual, g_a, potential, outflow, rate):
    """Noisy rate ``Σ_k L_k^SG m`` (Scharfetter–Gummel along every line); returns ``c``.

    ``Φ = β Ψ_λ − (d−k−1) log r`` at the cell centres with ``Ψ(a_i, s_j, r_l) = a_i g_a[j,l]``
    (``g_a = ∂_aΨ``); ``D_a = 2ξ_a/β``, ``D_s = D_r = 2ξ_w/β``. ``c`` is half the largest
    outflow coefficient ``max_cell Σ_k o_k`` (so that ``Δt c ≤ ½`` is the positivity
    condition ``Δt max Σ_k o_k ≤ 1`` of the module docstring).
    """
    n_a, n_s, n_r = masses.shape
    _network_output(masses, a_centres, f0, weighted_a, output)
    for q in range(output.size):
        weighted_residual[q] = qweights[q] * (phi[q] - output[q])
    _contract(f0, weighted_residual, g_a)
    half_lam = 0.5 * lam
    for i in range(n_a):
        ai = a_centres[i]
        for j in range(n_s):
            sj = s_centres[j]
            for l in range(n_r):
                rl = r_centres[l]
                psi_lam = ai * g_a[j, l] + half_lam * (ai * ai + sj * sj + rl * rl)
                potential[i, j, l] = beta * psi_lam - entropic * np.log(rl)
                outflow[i, j, l] = 0.0
    d_a = 2.0 * xi_a / beta
    d_w = 2.0 * xi_w / beta
    _sg_sweep_lines(masses.transpose(1, 0, 2), potential.transpose(1, 0, 2), a_widths,
                    a_centres, d_a, rate.transpose(1, 0, 2), outflow.transpose(1, 0, 2),
                    False)
    _sg_sweep_lines(masses, potential, s_widths, s_centres, d_w, rate, outflow, True)
    _sg_sweep_lines(masses.transpose(0, 2, 1), potential.transpose(0, 2, 1), r_widths,
                    r_centres, d_w, rate.transpose(0, 2, 1), outflow.transpose(0, 2, 1),
                    True)
    return 0.5 * outflow.max()


@numba.njit(cache=True)
def _rate(noisy, masses, a_centres, a_faces, s_faces, r_faces, f0, f1z, f2, phi, qweights,
          xi_a, xi_w, lam, factors_a, factors_s, factors_r, inv_hmin, theta, s_centres,
          r_centres, a_widths, s_widths, r_widths, beta, entropic, weighted_a, output,
          weighted_residual, g_a, g_s, g_r, u_a, u_s, u_r, potential, outflow, rate):
    """MUSCL rate (:func:`_unsplit_rate`) or, when ``noisy``, SG rate (:func:`_sg_rate`)."""
    if noisy:
        return _sg_rate(masses, a_centres, s_centres, r_centres, a_widths, s_widths,
                        r_widths, f0, phi, qweights, xi_a, xi_w, lam, beta, entropic,
                        weighted_a, output, weighted_residual, g_a, potential, outflow, rate)
    return _unsplit_rate(masses, a_centres, a_faces, s_faces, r_faces, f0, f1z, f2, phi,
                         qweights, xi_a, xi_w, lam, factors_a, factors_s, factors_r,
                         inv_hmin, theta, weighted_a, output, weighted_residual, g_a, g_s,
                         g_r, u_a, u_s, u_r, rate)


@numba.njit(cache=True)
def _check_state_3d(masses, boundary_tol):
    """``(status, where)``: ``where`` is the flat index of the most negative cell
    (``STATUS_NEGATIVE``) or ``2·axis + side`` of the outer slab holding too much mass
    (``STATUS_BOUNDARY``; side 0 = lower, 1 = upper; ``r = 0`` is not an outer slab)."""
    n_a, n_s, n_r = masses.shape
    flat = masses.reshape(masses.size)
    total = 0.0
    most_negative = 0.0
    where = -1
    for n in range(flat.size):
        m = flat[n]
        if not np.isfinite(m):
            return STATUS_NONFINITE, n
        total += m
        if m < most_negative:
            most_negative = m
            where = n
    if most_negative < -1e-13 * total:
        return STATUS_NEGATIVE, where
    limit = boundary_tol * total
    slabs = np.zeros(6)
    for i in range(n_a):
        for j in range(n_s):
            for l in range(n_r):
                m = masses[i, j, l]
                if i == 0:
                    slabs[0] += m
                if i == n_a - 1:
                    slabs[1] += m
                if j == 0:
                    slabs[2] += m
                if j == n_s - 1:
                    slabs[3] += m
                if l == n_r - 1:
                    slabs[5] += m
    for k in range(6):
        if slabs[k] > limit:
            return STATUS_BOUNDARY, k
    return STATUS_OK, -1


@numba.njit(cache=True)
def _integrate(masses, a_centres, a_faces, s_faces, r_faces, f0, f1z, f2, phi, qweights,
               xi_a, xi_w, lam, factors_a, factors_s, factors_r, inv_hmin, theta, noisy,
               s_centres, r_centres, a_widths, s_widths, r_widths, beta, entropic, t_start,
               t_end, cfl, max_steps, boundary_tol):
    """SSP-RK3 from ``t_start`` to ``t_end`` in place (MUSCL rate, or SG when ``noisy``).

    ``Δt = cfl / c(m)``; the step is redone with ``Δt = cfl / (1.05 max c(stage))`` when a
    stage velocity gives ``Δt c(stage) > ½`` (positivity, see the module docstring; the 5 %
    margin makes the retries terminate, since ``c(stage) → c(m)`` as ``Δt → 0``).

    Returns
    -------
    t, steps, status, where, retries
        ``where`` locates a failure (:func:`_check_state_3d`); ``retries`` counts the
        redone steps.
    """
    n_s, n_r, n_q = f0.shape
    weighted_a = np.empty((n_s, n_r))
    output = np.empty(n_q)
    weighted_residual = np.empty(n_q)
    g_a = np.empty((n_s, n_r))
    g_s = np.empty((n_s + 1, n_r))
    g_r = np.empty((n_s, n_r + 1))
    n_a = masses.shape[0]
    u_a = np.empty((n_s, n_a + 1, n_r))
    u_s = np.empty((n_a, n_s + 1, n_r))
    u_r = np.empty((n_a, n_r + 1, n_s))
    potential = np.empty(masses.shape)
    outflow = np.empty(masses.shape)
    n = masses.size
    rate0 = np.empty(masses.shape)
    rate = np.empty(masses.shape)
    stage1 = np.empty(masses.shape)
    stage2 = np.empty(masses.shape)
    flat = masses.reshape(n)
    flat_rate0 = rate0.reshape(n)
    flat_rate = rate.reshape(n)
    flat1 = stage1.reshape(n)
    flat2 = stage2.reshape(n)
    t = t_start
    steps = 0
    retries = 0
    while t < t_end:
        if steps >= max_steps:
            return t, steps, STATUS_MAX_STEPS, -1, retries
        c_bound = _rate(noisy, masses, a_centres, a_faces, s_faces, r_faces, f0, f1z, f2,
                        phi, qweights, xi_a, xi_w, lam, factors_a, factors_s, factors_r,
                        inv_hmin, theta, s_centres, r_centres, a_widths, s_widths,
                        r_widths, beta, entropic, weighted_a, output, weighted_residual,
                        g_a, g_s, g_r, u_a, u_s, u_r, potential, outflow, rate0)
        while True:
            dt = t_end - t
            if c_bound > 0.0:
                dt = min(dt, cfl / c_bound)
            for k in range(n):
                flat1[k] = flat[k] + dt * flat_rate0[k]
            c1 = _rate(noisy, stage1, a_centres, a_faces, s_faces, r_faces, f0, f1z,
                       f2, phi, qweights, xi_a, xi_w, lam, factors_a, factors_s,
                       factors_r, inv_hmin, theta, s_centres, r_centres, a_widths,
                       s_widths, r_widths, beta, entropic, weighted_a, output,
                       weighted_residual, g_a, g_s, g_r, u_a, u_s, u_r, potential,
                       outflow, rate)
            if dt * c1 > 0.5:
                c_bound = 1.05 * max(c_bound, c1)
                retries += 1
                continue
            for k in range(n):
                flat2[k] = 0.75 * flat[k] + 0.25 * (flat1[k] + dt * flat_rate[k])
            c2 = _rate(noisy, stage2, a_centres, a_faces, s_faces, r_faces, f0, f1z,
                       f2, phi, qweights, xi_a, xi_w, lam, factors_a, factors_s,
                       factors_r, inv_hmin, theta, s_centres, r_centres, a_widths,
                       s_widths, r_widths, beta, entropic, weighted_a, output,
                       weighted_residual, g_a, g_s, g_r, u_a, u_s, u_r, potential,
                       outflow, rate)
            if dt * c2 > 0.5:
                c_bound = 1.05 * max(c_bound, c2)
                retries += 1
                continue
            break
        for k in range(n):
            flat[k] = flat[k] / 3.0 + (2.0 / 3.0) * (flat2[k] + dt * flat_rate[k])
        t = t + dt if dt < t_end - t else t_end
        steps += 1
        status, where = _check_state_3d(masses, boundary_tol)
        if status != STATUS_OK:
            return t, steps, status, where, retries
    return t, steps, STATUS_OK, -1, retries


# ---------------------------------------------------------------------------------------
# Python layer
# ---------------------------------------------------------------------------------------


class MultiIndexGridFeatures:
    r"""The model evaluated once on a fixed ``(a, s, r)`` grid (``k = 1``).

    Attributes
    ----------
    f0 : ndarray, shape (Ms, Mr, Q)
        ``σ_{r_l}(s_j z_q)`` at the cell centres.
    f1z : ndarray, shape (Ms + 1, Mr, Q)
        ``∂_tσ_{r_l}(s_{j'} z_q) z_q`` at the ``s``-faces × ``r``-centres.
    f2 : ndarray, shape (Ms, Mr + 1, Q)
        ``∂_rσ_{r_{l'}}(s_j z_q)`` at the ``s``-centres × ``r``-faces.
    norms : ndarray, shape (Ms, Mr)
        ``√(s_j² + r_l²)``.
    """

    def __init__(self, model, grid_a: Grid1D, grid_s: Grid1D, grid_r: Grid1D):
        self.model = model
        self.grid_a, self.grid_s, self.grid_r = grid_a, grid_s, grid_r
        sc, sf = grid_s.centres, grid_s.edges
        rc, rf = grid_r.centres, grid_r.edges
        z = model.nodes[:, 0]
        self.f0 = self._table(sc, rc, 0)
        self.f1z = np.ascontiguousarray(self._table(sf, rc, 1) * z)
        self.f2 = self._table(sc, rf, 2)
        self.phi = np.ascontiguousarray(model.phi, dtype=float)
        self.qweights = np.ascontiguousarray(model.qweights, dtype=float)
        self.norms = np.sqrt(sc[:, None] ** 2 + rc[None, :] ** 2)
        self.factors = tuple(grid_factors(g.widths, g.centres) for g in (grid_a, grid_s, grid_r))
        self.inv_hmin = np.array([1.0 / np.min(g.widths) for g in (grid_a, grid_s, grid_r)])

    def _table(self, s_values, r_values, which):
        ss, rr = np.meshgrid(s_values, r_values, indexing="ij")
        values = self.model.features(ss.reshape(-1, 1), rr.ravel())[which]
        return np.ascontiguousarray(values.reshape((*ss.shape, -1)))

    def output(self, masses) -> np.ndarray:
        """``f̄(z_q) = Σ m[i,j,l] a_i σ_{r_l}(s_j z_q)``, shape (Q,)."""
        weighted_a = np.empty(self.f0.shape[:2])
        out = np.empty(self.f0.shape[2])
        _network_output(masses, self.grid_a.centres, self.f0, weighted_a, out)
        return out

    def risk(self, masses) -> float:
        """``E φ² − 2 E[φ f̄] + E f̄²``, the formula of ``MultiIndexModel.risk``."""
        f = self.output(masses)
        w = self.qweights
        return float(self.model.phi_second_moment - 2.0 * (w @ (self.phi * f)) + w @ (f * f))

    # -- free energy and certificate (reducedpde.mfld) -----------------------------------

    def psi(self, masses) -> np.ndarray:
        r"""``ψ_λ = ∂F/∂m`` at the cell centres, shape (Ma, Ms, Mr):

        .. math::

            ψ_λ(a_i, s_j, r_l; m) = a_i\,g_a[j, l] + \tfrac{λ}{2}(a_i^2 + s_j^2 + r_l^2),
            \qquad g_a[j, l] = -Σ_q w_q e_q σ_{r_l}(s_j z_q),

        the potential of the Scharfetter–Gummel fluxes (``Φ = β ψ_λ − (d−k−1) log r``).
        """
        f = self.output(masses)
        g_a = -(self.f0 @ (self.qweights * (self.phi - f)))
        ac, sc, rc = self.grid_a.centres, self.grid_s.centres, self.grid_r.centres
        square = ac[:, None, None] ** 2 + sc[None, :, None] ** 2 + rc[None, None, :] ** 2
        return ac[:, None, None] * g_a[None, :, :] + 0.5 * self.model.lam * square

    def energy(self, masses) -> float:
        r"""Entropy-free part ``F(m) = ½ R(m) + (λ/2) Σ m[i,j,l] (a_i² + s_j² + r_l²)``.

        ``∂R/∂m[i,j,l] = 2Ψ(a_i, s_j, r_l; m)``, so ``∂F/∂m = ψ_λ`` (:meth:`psi`). ``R`` is
        a non-negative quadratic form in ``m`` (``Σ_q w_q f̄_q²`` with ``w_q > 0`` and ``f̄``
        linear in ``m``) plus a linear part, so ``F`` is convex in ``m``.
        """
        ac, sc, rc = self.grid_a.centres, self.grid_s.centres, self.grid_r.centres
        second = (masses.sum(axis=(1, 2)) @ ac**2 + masses.sum(axis=(0, 2)) @ sc**2
                  + masses.sum(axis=(0, 1)) @ rc**2)
        return float(0.5 * self.risk(masses) + 0.5 * self.model.lam * second)

    def log_reference(self) -> np.ndarray:
        r"""``log w = log(h_a h_s h_r) + (d−k−1) log r_l``, shape (Ma, Ms, Mr): cell volume
        times the reduced Jacobian ``r^{d−k−1}`` (noisy models only)."""
        model = self.model
        if not model.noisy:
            raise ValueError("log_reference: the model is noiseless (beta = inf)")
        ha, hs, hr = (np.log(g.widths) for g in (self.grid_a, self.grid_s, self.grid_r))
        jacobian = (model.d - model.k - 1.0) * np.log(self.grid_r.centres)
        return ha[:, None, None] + hs[None, :, None] + (hr + jacobian)[None, None, :]

    def free_energy(self, masses) -> float:
        r"""The objective ``𝓛(m) = F(m) + β⁻¹ Σ m log(m / (h_a h_s h_r r_l^{d−k−1}))``.

        The discrete form of
        :math:`\tfrac12 R + \tfrac{λ}{2}\int\Vert θ\Vert^2 dρ + β^{-1}\int ρ\log ρ` in the
        full space ``(a, w)``, up to the constant ``β⁻¹ log|S^{d−k−1}|``
        (:func:`reducedpde.mfld.entropy_objective`); ``β𝓛`` is the discrete free energy of
        the module docstring ("Noisy models"), non-increasing along the semi-discrete
        Scharfetter–Gummel flow. Noiseless models: ``F`` alone. Evaluated, like
        :meth:`gibbs_gap`, for the probability law ``m / Σm``: the time stepper conserves
        ``Σm = 1`` only to round-off, and near equilibrium ``𝓛`` of the unnormalised masses
        drifts with that error (by ``(Σm − 1) β⁻¹(1 − log Z)``), which is larger than the
        decrease left to measure.
        """
        masses = np.asarray(masses, dtype=float)
        masses = masses / masses.sum()
        energy = self.energy(masses)
        if not self.model.noisy:
            return energy
        from ...mfld import entropy_objective

        return entropy_objective(energy, masses.ravel(), self.log_reference().ravel(),
                                 self.model.beta)

    def gibbs_gap(self, masses) -> float:
        r"""Certificate ``β⁻¹ KL(m ‖ p(m))`` with the proximal Gibbs law on the same grid,
        ``p[i,j,l] ∝ h_a h_s h_r r_l^{d−k−1} exp(−β ψ_λ(a_i, s_j, r_l; m))``
        (:func:`reducedpde.mfld.gibbs_gap`). ``F`` being convex, it bounds
        ``𝓛(m) − min 𝓛`` from above and vanishes exactly at the discrete Gibbs state
        ``m = p(m)``, the steady state of the scheme (noisy models only). Evaluated for
        the probability law ``m / Σm``: the time stepper conserves ``Σm = 1`` only to
        round-off (``~10⁻¹³`` after thousands of steps), and ``Σ m log(m/p)`` would carry
        that error as ``Σm − 1``, which can make the gap of a converged run negative.
        """
        from ...mfld import gibbs_gap

        masses = np.asarray(masses, dtype=float)
        masses = masses / masses.sum()
        return gibbs_gap(masses.ravel(), self.psi(masses).ravel(),
                         self.log_reference().ravel(), self.model.beta)


@dataclass
class MultiIndexFVResult:
    r"""Output of :func:`solve_multiindex_fv`.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
    risk : ndarray, shape (n_t,)
        ``E_z[(φ − f̄)²]`` of the cell-centre atoms (no ½).
    mean_a : ndarray, shape (n_t,)
    mean_s : ndarray, shape (n_t, 1)
        (shape of :class:`~reducedpde.solvers.lagrangian.multiindex.MultiIndexLagrangianResult`).
    mean_r : ndarray, shape (n_t,)
    mean_norm : ndarray, shape (n_t,)
        ``Σ m √(s² + r²)``.
    density_a, density_s, density_r : ndarray, shape (n_t, M_axis)
        Marginal densities (marginal cell mass / width) at every output time.
    min_mass : ndarray, shape (n_t,)
        Smallest cell mass at every output time (``≥ 0`` up to round-off).
    free_energy : ndarray, shape (n_t,)
        The objective ``𝓛(m) = ½R + (λ/2) Σ m‖θ‖² + β⁻¹ Σ m log(m / (h_a h_s h_r
        r^{d−k−1}))`` (:meth:`MultiIndexGridFeatures.free_energy`; noiseless: without the
        entropy).
    gibbs_gap : ndarray, shape (n_t,) or None
        Noisy models: the certificate ``β⁻¹ KL(m ‖ p(m))`` ≥ ``𝓛(m) − min 𝓛``
        (:meth:`MultiIndexGridFeatures.gibbs_gap`); ``None`` when noiseless.
    masses : ndarray, shape (Ma, Ms, Mr)
        Cell masses at the last recorded time.
    grid_edges : dict of str to ndarray
        Cell edges of the ``"a"``, ``"s"`` and ``"r"`` grids.
    n_steps : int
    wall_time : float
        Seconds spent in the time loop.
    status : str
        ``"ok"``, ``"interrupted"`` or (in ``SolverError.partial``) the failure.
    attrs : dict
        Solver name, grid shape, ``cfl``, limiter, step policy, number of steps,
        ``cfl_retries`` (steps redone because a stage velocity broke ``Δt c ≤ ½``), wall
        time, ``interrupted`` and the model config.
    """

    t: np.ndarray
    risk: np.ndarray
    mean_a: np.ndarray
    mean_s: np.ndarray
    mean_r: np.ndarray
    mean_norm: np.ndarray
    density_a: np.ndarray
    density_s: np.ndarray
    density_r: np.ndarray
    min_mass: np.ndarray
    free_energy: np.ndarray
    gibbs_gap: np.ndarray | None
    masses: np.ndarray
    grid_edges: dict
    n_steps: int
    wall_time: float
    status: str
    attrs: dict = field(default_factory=dict)


def _check_model(model):
    if getattr(model, "spherical", False):
        raise ValueError("model: the spherical variant is not supported (use the free "
                         "(a, s, r) MultiIndexModel with spherical=False)")
    if getattr(model, "k", None) != 1:
        raise ValueError(f"model: the finite-volume solver needs latent dimension k = 1, "
                         f"got k={getattr(model, 'k', None)}")
    for name in ("features", "phi", "qweights", "nodes", "phi_second_moment", "noisy"):
        if not hasattr(model, name):
            raise ValueError(f"model: expected a MultiIndexModel, missing {name!r}")
    if model.noisy:
        beta = getattr(model, "beta", None)
        d = getattr(model, "d", None)
        if beta is None or not (0.0 < beta < math.inf):
            raise ValueError(f"model: a noisy model needs a finite beta > 0, got beta={beta}")
        if d is None or not (math.isfinite(d) and d > model.k + 1):
            raise ValueError(f"model: a noisy model needs a finite input dimension "
                             f"d > k + 1 = {model.k + 1} (the Bessel drift "
                             f"(2ξ_w/β)(d−k−1)/r), got d={d}")


def solve_multiindex_fv(
    model,
    grid_a: Grid1D,
    grid_s: Grid1D,
    grid_r: Grid1D,
    masses0,
    times,
    *,
    cfl: float = 0.4,
    limiter_theta: float = 1.5,
    max_steps: int = 10_000_000,
    boundary_tol: float = 1e-8,
    progress: bool = False,
    on_record=None,
) -> MultiIndexFVResult:
    r"""Integrate ``∂_tρ̄ + ∂_a(ȧρ̄) + ∂_s(ṡρ̄) + ∂_r(ṙρ̄) = 0`` on an ``(a, s, r)`` grid.

    Noiseless ``k = 1`` :class:`~reducedpde.models.multiindex.MultiIndexModel`; velocity
    ``(ȧ, ṡ, ṙ) = −2(ξ_a(∂_aΨ + λa), ξ_w(∂_sΨ + λs), ξ_w(∂_rΨ + λr))`` on the cell faces,
    dimension-unsplit MUSCL upwind fluxes with no flux through the outer faces (and
    through ``r = 0``), SSP-RK3 with ``Δt = cfl / Σ_k (max|u_k| / h_k)``, which keeps the
    masses non-negative for ``cfl ≤ ½`` (see the module docstring for the argument).

    Noisy model (finite ``β``): the drift–diffusion equation of the model docstring with
    Scharfetter–Gummel fluxes in the potential ``Φ = βΨ_λ − (d−k−1) log r`` (exact
    discrete Gibbs steady states) and ``Δt = 2 cfl / max_cell Σ_k (SG outflow
    coefficient)``, positive for ``cfl ≤ ½``; ``Δt ∝ h²`` where diffusion dominates
    (module docstring, "Noisy models").

    Parameters
    ----------
    model : MultiIndexModel
        ``k = 1``, ``spherical=False``; noiseless (``beta = inf``) or noisy (finite
        ``beta > 0`` with finite ``d > k + 1``).
    grid_a, grid_s, grid_r : Grid1D
        Cells in ``a``, ``s`` and ``r``; ``grid_r`` must start at ``r = 0``.
    masses0 : array_like, shape (Ma, Ms, Mr)
        Initial cell masses (finite, non-negative; normalised to sum to one here).
    times : array_like
        Strictly increasing output times; ``times[0]`` is the initial time.
    cfl : float
        Courant number in ``(0, ½]``.
    limiter_theta : float
        Generalised-minmod parameter in ``[1, 2]`` (not used by the noisy SG scheme).
    max_steps : int
        Safety limit on the total number of steps.
    boundary_tol : float
        Stop when an outer slab of cells (first/last ``a``, first/last ``s``, last ``r``)
        holds more than this fraction of the mass. For noisy models the Gibbs tails reach
        every cell; choose the box so that they stay below this fraction, or raise it.
    progress : bool
        Show a progress bar over the output times.
    on_record : callable, optional
        ``on_record(k, masses)`` is called once output time ``times[k]`` is recorded
        (``k = 0, 1, …``) with the cell masses ``(Ma, Ms, Mr)`` at that time. The array is
        the solver's state: read it (copy what you keep), do not modify it.

    Returns
    -------
    MultiIndexFVResult
        With the objective ``free_energy`` at every output time and, for noisy models,
        the certificate ``gibbs_gap = β⁻¹ KL(m ‖ p(m))`` of the proximal Gibbs law
        ``p ∝ h_a h_s h_r r^{d−k−1} e^{−βψ_λ(·; m)}`` on the same grid
        (:class:`MultiIndexGridFeatures`). A ``KeyboardInterrupt`` returns the output
        times completed so far with ``status = "interrupted"``.

    Raises
    ------
    ValueError
        Unsupported model or bad input (the message names the parameter).
    SolverError
        Non-finite or negative masses, mass in an outer slab, or ``max_steps``; the
        message gives the time reached (and the axis or cell); ``err.partial`` holds the
        result up to the last completed output time.
    """
    _check_model(model)
    for name, g in (("grid_a", grid_a), ("grid_s", grid_s), ("grid_r", grid_r)):
        if not isinstance(g, Grid1D):
            raise ValueError(f"{name} must be a Grid1D, got {type(g).__name__}")
    if grid_r.edges[0] != 0.0:
        raise ValueError(f"grid_r must start at r = 0, got r = {grid_r.edges[0]:g}")
    shape = (grid_a.n_cells, grid_s.n_cells, grid_r.n_cells)
    masses = np.array(masses0, dtype=float)
    if masses.shape != shape:
        raise ValueError(f"masses0 must have shape (Ma, Ms, Mr) = {shape}, got {masses.shape}")
    if not np.all(np.isfinite(masses)) or np.any(masses < 0) or not masses.sum() > 0:
        raise ValueError("masses0 must be finite, non-negative and not all zero")
    masses = np.ascontiguousarray(masses / masses.sum())
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size < 2 or np.any(np.diff(times) <= 0):
        raise ValueError("times must be a strictly increasing 1-D array with at least 2 entries")
    if not 0.0 < cfl <= 0.5:
        raise ValueError(f"cfl must lie in (0, 0.5], got {cfl}")
    if not 1.0 <= limiter_theta <= 2.0:
        raise ValueError(f"limiter_theta must lie in [1, 2], got {limiter_theta}")
    if not boundary_tol >= 0.0:
        raise ValueError(f"boundary_tol must be >= 0, got {boundary_tol}")

    disc = MultiIndexGridFeatures(model, grid_a, grid_s, grid_r)
    n_t = times.size
    risk = np.full(n_t, np.nan)
    mean_a = np.full(n_t, np.nan)
    mean_s = np.full((n_t, 1), np.nan)
    mean_r = np.full(n_t, np.nan)
    mean_norm = np.full(n_t, np.nan)
    dens = [np.full((n_t, g.n_cells), np.nan) for g in (grid_a, grid_s, grid_r)]
    min_mass = np.full(n_t, np.nan)
    free_energy = np.full(n_t, np.nan)
    gap = np.full(n_t, np.nan) if model.noisy else None
    ac, sc, rc = grid_a.centres, grid_s.centres, grid_r.centres

    def record(k):
        risk[k] = disc.risk(masses)
        marg_a = masses.sum(axis=(1, 2))
        marg_sr = masses.sum(axis=0)
        marg_s = marg_sr.sum(axis=1)
        marg_r = marg_sr.sum(axis=0)
        mean_a[k] = marg_a @ ac
        mean_s[k, 0] = marg_s @ sc
        mean_r[k] = marg_r @ rc
        mean_norm[k] = np.sum(marg_sr * disc.norms)
        min_mass[k] = masses.min()
        free_energy[k] = disc.free_energy(masses)
        if gap is not None:
            gap[k] = disc.gibbs_gap(masses)
        for d, marg, g in zip(dens, (marg_a, marg_s, marg_r), (grid_a, grid_s, grid_r)):
            d[k] = marg / g.widths
        if on_record is not None:
            on_record(k, masses)

    noisy = bool(model.noisy)
    if noisy:
        attrs = {
            "solver": "fv-multiindex-sg-ssprk3",
            "grid_shape": shape,
            "cfl": cfl,
            "dt_policy": (f"SSP-RK3, dt = {2 * cfl:g} / max_cell sum_k(SG outflow "
                          f"coefficient), unsplit"),
        }
    else:
        attrs = {
            "solver": "fv-multiindex-muscl-ssprk3",
            "grid_shape": shape,
            "cfl": cfl,
            "limiter_theta": limiter_theta,
            "dt_policy": f"SSP-RK3, dt = {cfl:g} / sum_k(max|u_k| / h_k), unsplit",
        }
    attrs.update({
        "latent_nodes": int(model.nodes.shape[0]),
        "config": model.to_config(),
    })
    edges = {name: g.edges.copy() for name, g in zip(_AXES, (grid_a, grid_s, grid_r))}
    fa, fs, fr = disc.factors
    args = (ac, grid_a.edges, grid_s.edges, grid_r.edges, disc.f0, disc.f1z, disc.f2, disc.phi,
            disc.qweights, model.xi_a, model.xi_w, model.lam, fa, fs, fr, disc.inv_hmin,
            float(limiter_theta), noisy, grid_s.centres, grid_r.centres, grid_a.widths,
            grid_s.widths, grid_r.widths, float(model.beta) if noisy else 1.0,
            float(model.d - model.k - 1.0) if noisy else 0.0)

    def pack(n_rec, status, n_steps, wall):
        return MultiIndexFVResult(
            t=times[:n_rec].copy(), risk=risk[:n_rec], mean_a=mean_a[:n_rec],
            mean_s=mean_s[:n_rec], mean_r=mean_r[:n_rec], mean_norm=mean_norm[:n_rec],
            density_a=dens[0][:n_rec], density_s=dens[1][:n_rec], density_r=dens[2][:n_rec],
            min_mass=min_mass[:n_rec], free_energy=free_energy[:n_rec],
            gibbs_gap=None if gap is None else gap[:n_rec], masses=last_good.copy(),
            grid_edges=edges,
            n_steps=n_steps, wall_time=wall, status=status,
            attrs=dict(attrs, n_steps=n_steps, wall_time_s=wall, cfl_retries=total_retries),
        )

    start = time.perf_counter()
    record(0)
    last_good = masses.copy()
    recorded = 1
    total_steps = 0
    total_retries = 0
    status_text = "ok"
    bar = tqdm(total=n_t - 1, desc="FV", unit="out", disable=not progress, leave=False)
    try:
        for k in range(1, n_t):
            t_reached, steps, status, where, retries = _integrate(
                masses, *args, times[k - 1], times[k], float(cfl),
                int(max_steps - total_steps), float(boundary_tol),
            )
            total_steps += steps
            total_retries += retries
            if status != steppers.STATUS_OK:
                wall = time.perf_counter() - start
                message = _failure_message(status, where, t_reached, disc)
                partial = pack(recorded, message, total_steps, wall)
                raise SolverError(message, partial)
            record(k)
            last_good = masses.copy()
            recorded = k + 1
            bar.update()
    except KeyboardInterrupt:
        status_text = "interrupted"
    finally:
        bar.close()
    wall = time.perf_counter() - start
    attrs["interrupted"] = status_text == "interrupted"
    return pack(recorded, status_text, total_steps, wall)


def _failure_message(status, where, t_reached, disc) -> str:
    text = f"multi-index FV solver stopped at t={t_reached:.6g}: "
    text += steppers.STATUS_MESSAGES[status]
    grids = (disc.grid_a, disc.grid_s, disc.grid_r)
    if status == steppers.STATUS_BOUNDARY:
        axis, side = divmod(int(where), 2)
        g = grids[axis]
        edge = g.edges[-1] if side else g.edges[0]
        text += (f" on the {_AXES[axis]} axis ({'upper' if side else 'lower'} end "
                 f"{_AXES[axis]} = {edge:g}); enlarge grid_{_AXES[axis]}")
    elif status in (steppers.STATUS_NEGATIVE, steppers.STATUS_NONFINITE):
        i, j, l = np.unravel_index(int(where), tuple(g.n_cells for g in grids))
        text += (f" in the cell (a, s, r) = ({grids[0].centres[i]:.4g}, "
                 f"{grids[1].centres[j]:.4g}, {grids[2].centres[l]:.4g})")
        if status == steppers.STATUS_NEGATIVE:
            text += "; reduce cfl"
    elif status == steppers.STATUS_MAX_STEPS:
        text += "; raise max_steps or use a coarser grid"
    return text
