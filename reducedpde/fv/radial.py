r"""Finite-volume solver for radial mean-field equations with a low-rank interaction.

Solves, for the radial law ``ρ̄_t`` of a rotation-invariant neuron distribution,

    ∂_t ρ̄ = 2ξ(t) ∂_r(ρ̄ ∂_r ψ_λ(r; ρ̄)) + (2ξ(t)/β) ∂_r(∂_r ρ̄ − ((d−1)/r) ρ̄)

on a :class:`~reducedpde.fv.grid.Grid1D` with no-flux ends, for any model exposing
``potential``, ``potential_derivative``, ``kernel`` (a low-rank interaction with
``weights``, ``features`` and ``feature_derivatives``), ``lam``, ``beta`` and ``d``
(e.g. :class:`reducedpde.models.gaussians.GaussianRadialModel`).

The right-hand side is proportional to ``ξ(t)``, so a step-size schedule is a time change:
the solver integrates in ``τ = ∫_0^t ξ(s) ds`` with ``ξ ≡ 1`` and reports the physical times.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from scipy.integrate import quad
from tqdm.auto import tqdm

from ..results import PDEResult
from . import steppers
from .grid import Grid1D

__all__ = ["RadialDiscretization", "SolverError", "default_output_times", "solve_radial"]

MOBILITY = 2.0  # the factor 2 of ∂_t ρ = 2ξ ∇·(ρ ∇Ψ_λ) + ...


class SolverError(RuntimeError):
    """A solver stopped early; ``partial`` holds the result up to the last good output."""

    def __init__(self, message: str, partial: PDEResult | None = None):
        super().__init__(message)
        self.partial = partial


class RadialDiscretization:
    """Everything about a model that the kernels need, evaluated once on a grid.

    Attributes
    ----------
    features : ndarray (rank, M)
        ``f_l`` at the cell centres.
    feature_derivatives : ndarray (rank, M + 1)
        ``f_l'`` at the edges.
    weights : ndarray (rank,)
    potential : ndarray (M,)
        ``v + λ r²/2`` at the centres (the base potential ``b``).
    potential_derivative : ndarray (M + 1,)
        ``v' + λ r`` at the edges.
    entropic : ndarray (M,)
        ``(d − 1) ln r`` at the centres (noisy runs only).
    """

    def __init__(self, model, grid: Grid1D):
        self.model = model
        self.grid = grid
        kernel = model.kernel
        r_c, r_f = grid.centres, grid.edges
        self.features = np.ascontiguousarray(kernel.features(r_c))
        self.feature_derivatives = np.ascontiguousarray(kernel.feature_derivatives(r_f))
        self.weights = np.ascontiguousarray(kernel.weights, dtype=float)
        self.single_potential = model.potential(r_c)
        self.potential = self.single_potential + 0.5 * model.lam * r_c**2
        self.potential_derivative = np.ascontiguousarray(
            model.potential_derivative(r_f) + model.lam * r_f
        )
        if model.noisy:
            self.entropic = (model.d - 1.0) * np.log(r_c)
        else:
            self.entropic = np.zeros_like(r_c)

    def moments(self, masses) -> np.ndarray:
        return self.features @ masses

    def risk(self, masses) -> float:
        """Discrete ``R = 1 + 2 Σ_j m_j v(x_j) + Σ_l w_l A_l²``."""
        moments = self.moments(masses)
        return float(1.0 + 2.0 * self.single_potential @ masses + self.weights @ moments**2)

    def psi(self, masses) -> np.ndarray:
        """``ψ_λ(x_j; ρ̄)`` at the cell centres."""
        return self.potential + (self.weights * self.moments(masses)) @ self.features

    def free_energy(self, masses) -> float:
        r"""``F = ½ R + (λ/2) Σ m_j x_j² + β⁻¹ Σ m_j log(m_j / (h_j x_j^{d−1}))``.

        The entropy term is present only for ``β < ∞``; ``F`` is non-increasing in time.
        """
        grid, model = self.grid, self.model
        energy = 0.5 * self.risk(masses) + 0.5 * model.lam * masses @ grid.centres**2
        if model.noisy:
            pos = masses > 0
            m = masses[pos]
            energy += (
                m @ (np.log(m) - np.log(grid.widths[pos]) - self.entropic[pos])
            ) / model.beta
        return float(energy)


def default_output_times(t_max: float, n_times: int = 200, t_min: float | None = None):
    """``0`` followed by ``n_times − 1`` log-spaced times from ``t_min`` (default
    ``t_max·1e-4``) to ``t_max``."""
    if t_min is None:
        t_min = t_max * 1e-4
    return np.concatenate([[0.0], np.geomspace(t_min, t_max, n_times - 1)])


def _time_change(times: np.ndarray, xi: Callable[[float], float] | None) -> np.ndarray:
    """``τ(t) = ∫_0^t ξ``, accumulated interval by interval."""
    if xi is None:
        return times.copy()
    taus = np.zeros_like(times)
    for i in range(1, times.size):
        piece, _ = quad(xi, times[i - 1], times[i], limit=200)
        taus[i] = taus[i - 1] + piece
    if np.any(np.diff(taus) < 0) or not np.all(np.isfinite(taus)):
        raise ValueError("xi must be a non-negative, integrable function of t")
    return taus


def solve_radial(
    model,
    grid: Grid1D,
    initial_masses,
    times,
    snapshot_times=None,
    xi: Callable[[float], float] | None = None,
    cfl: float = 0.4,
    limiter_theta: float = 1.5,
    step_tol: float = 2e-3,
    boundary_tol: float = 1e-9,
    max_steps: int = 50_000_000,
    progress: bool = True,
) -> PDEResult:
    r"""Integrate the radial equation and record the risk, mean norm and densities.

    Parameters
    ----------
    model : GaussianRadialModel or compatible
    grid : Grid1D
        Cells on ``[0, r_max]``.
    initial_masses : array_like, shape (M,)
        Cell masses of ``ρ̄_0`` (normalised to one here).
    times : array_like
        Increasing output times, starting at 0.
    snapshot_times : array_like, optional
        Subset of ``times`` at which densities are stored (default: about 12 of them,
        log-spaced, plus ``t = 0`` and the last time).
    xi : callable, optional
        Step-size schedule ``ξ(t) ≥ 0``; ``None`` means ``ξ ≡ 1``.
    cfl : float
        Courant number of the noiseless scheme, in ``(0, 0.5]`` (positivity needs ≤ 0.5).
    limiter_theta : float
        Generalised-minmod parameter in ``[1, 2]`` (1: minmod, 2: monotonised central).
    step_tol : float
        Target L1 change of the masses per implicit step (noisy runs).
    boundary_tol : float
        Stop with an error when the last cell holds more than this mass fraction.
    max_steps : int
        Safety limit on the total number of steps.
    progress : bool
        Show a progress bar.

    Returns
    -------
    PDEResult
        ``extra['free_energy']`` holds ``F`` at the output times.

    A ``KeyboardInterrupt`` (Ctrl-C) stops the run cleanly: the result holds the output
    times completed so far and ``attrs['interrupted'] = True``.

    Raises
    ------
    SolverError
        When mass reaches ``r_max`` (enlarge ``r_max``), the state becomes non-finite or
        negative, or ``max_steps`` is exceeded. ``err.partial`` keeps the run so far.
    """
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size < 2 or times[0] != 0.0 or np.any(np.diff(times) <= 0):
        raise ValueError("times must be increasing, start at 0 and have at least 2 entries")
    if not 0.0 < cfl <= 0.5:
        raise ValueError(f"cfl must lie in (0, 0.5], got {cfl}")
    if not 1.0 <= limiter_theta <= 2.0:
        raise ValueError(f"limiter_theta must lie in [1, 2], got {limiter_theta}")
    masses = np.array(initial_masses, dtype=float)
    if masses.shape != (grid.n_cells,):
        raise ValueError(
            f"initial_masses must have one entry per cell ({grid.n_cells}), got {masses.shape}"
        )
    if np.any(masses < 0) or not np.all(np.isfinite(masses)) or masses.sum() <= 0:
        raise ValueError("initial_masses must be finite, non-negative and not all zero")
    masses /= masses.sum()
    if snapshot_times is None:
        idx = np.unique(np.round(np.linspace(0, times.size - 1, 13)).astype(int))
        snapshot_times = times[idx]
    snapshot_times = np.asarray(snapshot_times, dtype=float)
    snap_index = np.searchsorted(times, snapshot_times)
    if np.any(snap_index >= times.size) or not np.allclose(times[snap_index], snapshot_times):
        raise ValueError("snapshot_times must be a subset of times")

    disc = RadialDiscretization(model, grid)
    taus = _time_change(times, xi)
    n_t = times.size
    risk = np.full(n_t, np.nan)
    mean_norm = np.full(n_t, np.nan)
    free_energy = np.full(n_t, np.nan)
    densities = np.full((snapshot_times.size, grid.n_cells), np.nan)
    snap_of = {int(i): k for k, i in enumerate(snap_index)}

    def record(i):
        risk[i] = disc.risk(masses)
        mean_norm[i] = masses @ grid.centres
        free_energy[i] = disc.free_energy(masses)
        if i in snap_of:
            densities[snap_of[i]] = masses / grid.widths

    noisy = model.noisy
    attrs = {
        "solver": "fv-sg-implicit-euler" if noisy else "fv-muscl-ssprk3",
        "n_cells": grid.n_cells,
        "r_max": float(grid.edges[-1]),
        "kernel_rank": int(disc.weights.size),
        "kernel_tail_bound": float(model.kernel.tail_bound),
        "dt_policy": (
            f"implicit Euler, L1 change per step ~ {step_tol:g}"
            if noisy
            else f"SSP-RK3, dt = {cfl:g} h_min / max|u|, limiter theta = {limiter_theta:g}"
        ),
    }
    start = time.perf_counter()
    record(0)
    recorded = 1
    total_steps = 0
    dt_next = 1e-6
    bar = tqdm(total=n_t - 1, desc="PDE", unit="out", disable=not progress, leave=False)
    try:
        for i in range(1, n_t):
            if noisy:
                t_reached, steps, status, dt_next = steppers.integrate_drift_diffusion(
                    masses, grid.widths, grid.centres, disc.features, disc.weights,
                    disc.potential, disc.entropic, model.beta, MOBILITY, taus[i - 1], taus[i],
                    dt_next, step_tol, math.inf, max_steps - total_steps, boundary_tol,
                )
            else:
                t_reached, steps, status = steppers.integrate_transport(
                    masses, grid.widths, grid.centres, disc.features, disc.feature_derivatives,
                    disc.weights, disc.potential_derivative, MOBILITY, taus[i - 1], taus[i],
                    cfl, limiter_theta, max_steps - total_steps, boundary_tol,
                )
            total_steps += steps
            if status != steppers.STATUS_OK:
                attrs.update(n_steps=total_steps, wall_time_s=time.perf_counter() - start)
                partial = _pack(times, risk, mean_norm, free_energy, snapshot_times, densities,
                                grid, attrs)
                raise SolverError(_failure_message(status, times, taus, t_reached, grid),
                                  partial)
            record(i)
            recorded = i + 1
            bar.update()
    except KeyboardInterrupt:
        # keep every output time completed so far (the kernels return between outputs)
        attrs["interrupted"] = True
        keep = snap_index < recorded
        times, risk, mean_norm, free_energy = (
            times[:recorded], risk[:recorded], mean_norm[:recorded], free_energy[:recorded]
        )
        snapshot_times, densities = snapshot_times[keep], densities[keep]
    finally:
        bar.close()
    attrs.setdefault("interrupted", False)
    attrs.update(n_steps=total_steps, wall_time_s=time.perf_counter() - start)
    return _pack(times, risk, mean_norm, free_energy, snapshot_times, densities, grid, attrs)


def _pack(times, risk, mean_norm, free_energy, snapshot_times, densities, grid, attrs):
    return PDEResult(
        t=times,
        risk=risk,
        mean_norm=mean_norm,
        snapshot_times=snapshot_times,
        densities=densities,
        grid_edges=grid.edges.copy(),
        attrs=dict(attrs),
        extra={"free_energy": free_energy},
    )


def _failure_message(status, times, taus, tau_reached, grid):
    t_phys = float(np.interp(tau_reached, taus, times))
    text = f"PDE solver stopped at t={t_phys:.6g}: {steppers.STATUS_MESSAGES[status]}"
    if status == steppers.STATUS_BOUNDARY:
        text += f" r_max={grid.edges[-1]:g}; rerun with a larger r_max"
    elif status in (steppers.STATUS_NONFINITE, steppers.STATUS_NEGATIVE):
        text += "; reduce cfl (noiseless) or step_tol (noisy)"
    return text
