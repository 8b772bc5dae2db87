r"""Finite-volume solver for radial mean-field equations with a low-rank interaction.

Solves, for the radial law ``ρ̄_t`` of a rotation-invariant neuron distribution,

    ∂_t ρ̄ = 2ξ(t) ∂_r(ρ̄ ∂_r ψ_λ(r; ρ̄)) + (2ξ(t)/β) ∂_r(∂_r ρ̄ − ((d−1)/r) ρ̄)

on a :class:`~reducedpde.solvers.fv.grid.Grid1D` with no-flux ends, for any model exposing
``potential``, ``potential_derivative``, ``kernel`` (a low-rank interaction with
``weights``, ``features`` and ``feature_derivatives``), ``lam``, ``beta`` and ``d``
(e.g. :class:`reducedpde.models.gaussians.GaussianRadialModel`). A drift that is not the
gradient of the low-rank ``ψ_λ`` enters as a ``velocity_field`` (noiseless) or a
``potential_field`` (noisy: the logistic loss,
:class:`~reducedpde.models.gaussians.classification.LogisticPotential`).

The right-hand side is proportional to ``ξ(t)``, so a step-size schedule is a time change:
the solver integrates in ``τ = ∫_0^t ξ(s) ds`` with ``ξ ≡ 1`` and reports the physical times.

Checkpoints (:class:`~reducedpde.checkpointing.Checkpointing`) are taken at output times: the
cell masses, the next implicit step size and the outputs so far. The steppers restart at
every output time, so a resumed run repeats the uninterrupted one bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from scipy.integrate import quad
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ...checkpointing import Checkpointing, deferred_interrupts
from ...results import PDEResult
from . import steppers
from .grid import Grid1D

__all__ = ["RadialDiscretization", "SolverError", "default_output_times", "solve_radial"]

MOBILITY = 2.0  # the factor 2 of ∂_t ρ = 2ξ ∇·(ρ ∇Ψ_λ) + ...

#: time integrators of the noisy equation (same arguments and return values)
NOISY_STEPPERS = {
    "implicit-euler": steppers.integrate_drift_diffusion,
    "trbdf2": steppers.integrate_drift_diffusion_trbdf2,
    "esdirk4": steppers.integrate_drift_diffusion_esdirk,
}


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
    field : object or None
        A potential that is not the low-rank ``ψ_λ`` (``potential_field`` of
        :func:`solve_radial`): then :meth:`psi`, :meth:`free_energy` and :meth:`gibbs_gap`
        are its own, and :meth:`stepper_potential` hands its arrays to the steppers.
    """

    def __init__(self, model, grid: Grid1D, potential_field=None):
        self.model = model
        self.grid = grid
        self.field = potential_field
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
        if self.field is not None:
            return self.field.psi(masses)
        return self.potential + (self.weights * self.moments(masses)) @ self.features

    def stepper_potential(self) -> tuple:
        """``(features, weights, base, labels)`` of the potential for the noisy steppers
        (:mod:`~reducedpde.solvers.fv.steppers`): the low-rank kernel (``labels`` None) or
        the field's arrays."""
        if self.field is not None:
            field = self.field
            return field.features, field.weights, field.base, field.labels
        return self.features, self.weights, self.potential, None

    def free_energy(self, masses) -> float:
        r"""``F = ½ R + (λ/2) Σ m_j x_j² + β⁻¹ Σ m_j log(m_j / (h_j x_j^{d−1}))``.

        The entropy term is present only for ``β < ∞``; ``F`` is non-increasing in time.
        With a potential field the entropy-free part is the field's ``energy(masses)``
        (e.g. ``½ L + (λ/2) Σ m_j x_j²`` for the logistic loss).
        """
        grid, model = self.grid, self.model
        if self.field is not None:
            energy = float(self.field.energy(masses))
        else:
            energy = 0.5 * self.risk(masses) + 0.5 * model.lam * masses @ grid.centres**2
        if model.noisy:
            pos = masses > 0
            m = masses[pos]
            energy += (
                m @ (np.log(m) - np.log(grid.widths[pos]) - self.entropic[pos])
            ) / model.beta
        return float(energy)

    def gibbs_gap(self, masses) -> float:
        r"""Certificate ``β⁻¹ KL(m ‖ p(m))`` with the proximal Gibbs law
        ``p_j ∝ h_j x_j^{d−1} exp(−β ψ_λ(x_j; m))`` (:func:`reducedpde.mfld.gibbs_gap`);
        an upper bound of ``F(m) − min F``, zero at the discrete Gibbs state (noisy only).
        """
        from ...mfld import gibbs_gap

        return gibbs_gap(masses, self.psi(masses), np.log(self.grid.widths) + self.entropic,
                         self.model.beta)


def default_output_times(t_max: float, n_times: int = 200, t_min: float | None = None):
    """``0`` followed by ``n_times − 1`` log-spaced times from ``t_min`` (default
    ``t_max·1e-4``) to ``t_max``."""
    if t_min is None:
        t_min = t_max * 1e-4
    return np.concatenate([[0.0], np.geomspace(t_min, t_max, n_times - 1)])


def time_change(times: np.ndarray, xi: Callable[[float], float] | None) -> np.ndarray:
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
    stepper: str = "implicit-euler",
    boundary_tol: float = 1e-9,
    max_steps: int = 50_000_000,
    min_resolved_cells: float = 5.0,
    progress: bool = True,
    checkpointing: Checkpointing | None = None,
    velocity_field: Callable | None = None,
    potential_field=None,
    observe: Callable | None = None,
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
        Noisy runs: target L1 change of the masses per step (``implicit-euler``) or
        L1 tolerance of the local error estimate (``trbdf2``, ``esdirk4``).
    stepper : {"implicit-euler", "trbdf2", "esdirk4"}
        Time integrator of noisy runs (:mod:`reducedpde.solvers.fv.steppers`): backward Euler
        (first order, positive for every step), TR-BDF2 (second order) or ESDIRK4(3)6L[2]SA
        (fourth order); all L-stable, on the same Scharfetter–Gummel operator. The
        higher-order ones are positive by construction of their fallback (a step with a
        negative mass is redone) and much cheaper at equal accuracy.
    boundary_tol : float
        Stop with an error when the last cell holds more than this mass fraction.
    max_steps : int
        Safety limit on the total number of steps.
    min_resolved_cells : float
        Noisy runs only: stop with an error when the density occupies fewer cells than
        this, measured by the participation number ``1/Σ_j p_j²`` of the cell masses
        ``p_j`` (``≈ 3.5 σ/h`` for a Gaussian of width ``σ`` on cells of width ``h``).
        Large ``β`` and ``d`` make the Gibbs law ``∝ r^{d−1} exp(−βΨ_λ)`` narrower than
        the grid can resolve; the Scharfetter–Gummel scheme stays positive there but its
        answer is then meaningless. ``0`` disables the check.
    progress : bool
        Show a progress bar.
    checkpointing : Checkpointing, optional
        Checkpoints at output times (every ``every_s`` seconds and when stopped by a
        signal) handed to ``checkpointing.save(state, partial result)``, and resumption
        from ``checkpointing.resume``.
    velocity_field : callable, optional
        Noiseless runs only: a drift that is not the gradient of the low-rank ``ψ_λ``.
        ``velocity_field(masses, out)`` writes the edge velocities ``u`` of
        ``∂_τ ρ̄ + ∂_r(u ρ̄) = 0`` (``τ = ∫ξ``; outer edges 0) into ``out`` (``M + 1``) and
        returns ``max |u|``; the masses are advanced by the same SSP-RK3 / MUSCL scheme
        (:func:`~reducedpde.solvers.fv.steppers.integrate_transport_field`). ``risk``,
        ``free_energy`` are still those of the model's low-rank quadratic risk.
    potential_field : object, optional
        Noisy runs only: a potential ``ψ_λ`` that is not the low-rank one, in the form of
        the steppers' ``labels`` argument: attributes ``features`` (rank × M, the moments
        ``A = features @ m``), ``weights``, ``labels`` and ``base`` (``ψ_λ = base +
        Σ_l weights_l ℓ'(labels_l A_l) features_l``, the logistic data term), and methods
        ``psi(masses)`` (``ψ_λ`` at the centres) and ``energy(masses)`` (the entropy-free
        part whose gradient it is; e.g.
        :class:`~reducedpde.models.gaussians.classification.LogisticPotential`). The same
        Scharfetter–Gummel steppers advance the masses, each step or stage with the
        potential of its own moments; ``free_energy`` and ``gibbs_gap`` are those of the
        field (``risk`` stays the model's low-rank quadratic risk).
    observe : callable, optional
        ``observe(masses) -> {name: float}`` at every output time; each name becomes an
        ``extra`` series (checkpointed with the others).

    Returns
    -------
    PDEResult
        ``extra['free_energy']`` holds ``F`` at the output times; noisy runs add
        ``extra['gibbs_gap']``, the certificate ``β⁻¹ KL(m ‖ p(m))`` ≥ ``F − min F``;
        ``observe`` adds its series.

    Ctrl-C or SIGTERM stops the run at the next output time: the result holds the output
    times completed so far, ``attrs['interrupted'] = True`` and, with ``checkpointing``,
    the state to resume from in ``.checkpoint``.

    Raises
    ------
    SolverError
        When mass reaches ``r_max`` (enlarge ``r_max``), the state becomes non-finite or
        negative, ``max_steps`` is exceeded, or a noisy density is narrower than the grid
        resolves (``min_resolved_cells``). ``err.partial`` keeps the run so far.
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

    if velocity_field is not None and model.noisy:
        raise ValueError("velocity_field: only noiseless runs (beta = inf) take a velocity "
                         "field")
    if potential_field is not None and not model.noisy:
        raise ValueError("potential_field: only noisy runs (beta < inf) take a potential "
                         "field; noiseless runs take a velocity_field")
    disc = RadialDiscretization(model, grid, potential_field)
    taus = time_change(times, xi)
    n_t = times.size
    risk = np.full(n_t, np.nan)
    mean_norm = np.full(n_t, np.nan)
    free_energy = np.full(n_t, np.nan)
    gibbs_gap = np.full(n_t, np.nan) if model.noisy else None
    densities = np.full((snapshot_times.size, grid.n_cells), np.nan)
    snap_of = {int(i): k for k, i in enumerate(snap_index)}
    observed: dict[str, np.ndarray] = {}

    def record(i):
        if observe is not None:
            for key, value in observe(masses).items():
                observed.setdefault(key, np.full(n_t, np.nan))[i] = value
        risk[i] = disc.risk(masses)
        mean_norm[i] = masses @ grid.centres
        free_energy[i] = disc.free_energy(masses)
        if gibbs_gap is not None:
            gibbs_gap[i] = disc.gibbs_gap(masses)
        if i in snap_of:
            densities[snap_of[i]] = masses / grid.widths

    if stepper not in NOISY_STEPPERS:
        raise ValueError(f"stepper must be one of {sorted(NOISY_STEPPERS)}, got {stepper!r}")
    drift_diffusion = NOISY_STEPPERS[stepper]
    noisy = model.noisy
    attrs = {
        "solver": f"fv-sg-{stepper}" if noisy else "fv-muscl-ssprk3",
        "n_cells": grid.n_cells,
        "r_max": float(grid.edges[-1]),
        "kernel_rank": int(disc.weights.size),
        "kernel_tail_bound": float(model.kernel.tail_bound),
        "dt_policy": (
            (f"implicit Euler, L1 change per step ~ {step_tol:g}" if stepper == "implicit-euler"
             else f"{stepper}, local error tolerance {step_tol:g} (L1)")
            if noisy
            else f"SSP-RK3, dt = {cfl:g} min_f h_f / |u_f|, limiter theta = {limiter_theta:g}"
        ),
    }
    if velocity_field is not None:
        attrs["velocity"] = "velocity_field callback (not the low-rank gradient)"
    potential_features, potential_weights, potential_base, potential_labels = (
        disc.stepper_potential())
    field_args = {} if potential_labels is None else {"labels": potential_labels}
    if potential_field is not None:
        attrs["potential"] = (f"potential_field {type(potential_field).__name__} "
                              f"({potential_weights.size} moments; not the low-rank kernel)")
    start = time.perf_counter()
    ckpt = checkpointing
    wall_before = 0.0
    total_steps = 0
    dt_next = 1e-6
    recorded = 0
    if ckpt is not None and ckpt.resume is not None:
        recorded, total_steps, dt_next, wall_before = _restore(
            ckpt.resume, times, masses, risk, mean_norm, free_energy, densities)
        if gibbs_gap is not None and "gibbs_gap" in ckpt.resume:
            gibbs_gap[...] = np.asarray(ckpt.resume["gibbs_gap"], dtype=float)
        for key, value in ckpt.resume.get("observed", {}).items():
            observed[key] = np.array(value, dtype=float)

    def wall():
        return wall_before + time.perf_counter() - start

    def fail(message):
        attrs.update(n_steps=total_steps, wall_time_s=wall())
        partial = _pack(times, risk, mean_norm, free_energy, snapshot_times, densities, grid,
                        attrs, gap=gibbs_gap, observed=observed)
        raise SolverError(message, partial)

    def check_resolution(i):
        if not noisy or min_resolved_cells <= 0:
            return
        cells = occupied_cells(masses)
        if cells < min_resolved_cells:
            fail(_resolution_message(cells, min_resolved_cells, times[i], grid, model))

    def truncated(n):
        keep = snap_index < n
        return _pack(times[:n], risk[:n], mean_norm[:n], free_energy[:n],
                     snapshot_times[keep], densities[keep], grid,
                     dict(attrs, n_steps=total_steps, wall_time_s=wall(), interrupted=True),
                     gap=None if gibbs_gap is None else gibbs_gap[:n],
                     observed={key: v[:n] for key, v in observed.items()})

    last_save = time.monotonic()
    latest = None

    def checkpoint():
        nonlocal last_save, latest
        latest = {
            "times": times.copy(), "next_output": recorded, "masses": masses.copy(),
            "dt_next": float(dt_next), "n_steps": int(total_steps), "wall_time_s": wall(),
            "risk": risk.copy(), "mean_norm": mean_norm.copy(),
            "free_energy": free_energy.copy(), "densities": densities.copy(),
        }
        if gibbs_gap is not None:
            latest["gibbs_gap"] = gibbs_gap.copy()
        if observed:
            latest["observed"] = {key: v.copy() for key, v in observed.items()}
        if ckpt.save is not None:
            partial = truncated(recorded)
            partial.checkpoint = latest
            ckpt.save(latest, partial)
        last_save = time.monotonic()

    if recorded == 0:
        check_resolution(0)
        record(0)
        recorded = 1
    bar = tqdm(total=n_t - 1, initial=recorded - 1, desc="PDE", unit="out",
               disable=not progress, leave=False)
    stopped = False
    with deferred_interrupts() as stop:
        try:
            for i in range(recorded, n_t):
                if stop.requested:
                    stopped = True
                    break
                if velocity_field is not None:
                    with threadpool_limits(limits=1, user_api="blas"):
                        t_reached, steps, status = steppers.integrate_transport_field(
                            masses, grid.widths, grid.centres, velocity_field, taus[i - 1],
                            taus[i], cfl, limiter_theta, max_steps - total_steps,
                            boundary_tol,
                        )
                elif noisy:
                    t_reached, steps, status, dt_next = drift_diffusion(
                        masses, grid.widths, grid.centres, potential_features,
                        potential_weights, potential_base, disc.entropic, model.beta,
                        MOBILITY, taus[i - 1], taus[i], dt_next, step_tol, math.inf,
                        max_steps - total_steps, boundary_tol, **field_args,
                    )
                else:
                    t_reached, steps, status = steppers.integrate_transport(
                        masses, grid.widths, grid.centres, disc.features,
                        disc.feature_derivatives, disc.weights, disc.potential_derivative,
                        MOBILITY, taus[i - 1], taus[i], cfl, limiter_theta,
                        max_steps - total_steps, boundary_tol,
                    )
                total_steps += steps
                if status != steppers.STATUS_OK:
                    fail(_failure_message(status, times, taus, t_reached, grid))
                check_resolution(i)
                record(i)
                recorded = i + 1
                bar.update()
                if (ckpt is not None and ckpt.every_s is not None and recorded < n_t
                        and time.monotonic() - last_save >= ckpt.every_s):
                    checkpoint()
            if stopped and ckpt is not None:
                checkpoint()
        except KeyboardInterrupt:
            # a second signal, or an interrupt raised inside a kernel call's Python wrapper:
            # keep every output time completed so far and the latest periodic checkpoint
            stopped = True
        finally:
            bar.close()
    if stopped:
        result = truncated(recorded)
        result.checkpoint = latest
        return result
    attrs.update(interrupted=False, n_steps=total_steps, wall_time_s=wall())
    return _pack(times, risk, mean_norm, free_energy, snapshot_times, densities, grid, attrs,
                 gap=gibbs_gap, observed=observed)


def _restore(state, times, masses, risk, mean_norm, free_energy, densities):
    """Copy a checkpoint into the solver's arrays; returns
    ``(next output index, steps so far, next implicit step, wall time so far)``."""
    stored_times = np.asarray(state["times"], dtype=float)
    if stored_times.shape != times.shape or not np.array_equal(stored_times, times):
        raise ValueError("resume: the checkpoint was taken with different output times")
    for name, target in (("masses", masses), ("risk", risk), ("mean_norm", mean_norm),
                         ("free_energy", free_energy), ("densities", densities)):
        value = np.asarray(state[name], dtype=float)
        if value.shape != target.shape:
            raise ValueError(f"resume: checkpoint array {name} has shape {value.shape}, this "
                             f"run needs {target.shape} (different grid?)")
        target[...] = value
    return (int(state["next_output"]), int(state["n_steps"]), float(state["dt_next"]),
            float(state["wall_time_s"]))


def _pack(times, risk, mean_norm, free_energy, snapshot_times, densities, grid, attrs,
          gap=None, observed=None):
    extra = {"free_energy": free_energy}
    if gap is not None:
        extra["gibbs_gap"] = gap
    extra.update(observed or {})
    return PDEResult(
        t=times,
        risk=risk,
        mean_norm=mean_norm,
        snapshot_times=snapshot_times,
        densities=densities,
        grid_edges=grid.edges.copy(),
        attrs=dict(attrs),
        extra=extra,
    )


def occupied_cells(masses) -> float:
    """Participation number ``(Σ_j m_j)² / Σ_j m_j²``: how many cells the mass occupies."""
    masses = np.asarray(masses, dtype=float)
    return float(masses.sum() ** 2 / np.sum(masses * masses))


def _resolution_message(cells, minimum, t, grid, model):
    width = float(np.max(grid.widths))
    return (
        f"PDE solver stopped at t={t:.6g}: the noisy density occupies only {cells:.2g} cells "
        f"(participation number; minimum min_resolved_cells={minimum:g}), i.e. its width "
        f"is about {cells / 3.5 * width:.2g} for cells of {width:.2g}: beta={model.beta:g} "
        f"and d={model.d:g} make the law narrower than the grid resolves. Increase cells "
        "(or reduce r_max), or lower beta"
    )


def _failure_message(status, times, taus, tau_reached, grid):
    t_phys = float(np.interp(tau_reached, taus, times))
    text = f"PDE solver stopped at t={t_phys:.6g}: {steppers.STATUS_MESSAGES[status]}"
    if status == steppers.STATUS_BOUNDARY:
        text += f" r_max={grid.edges[-1]:g}; rerun with a larger r_max"
    elif status in (steppers.STATUS_NONFINITE, steppers.STATUS_NEGATIVE):
        text += "; reduce cfl (noiseless) or step_tol (noisy)"
    return text
