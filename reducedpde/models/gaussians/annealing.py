r"""Annealed mean-field Langevin runs of the radial (Gaussian-classes) model.

Round ``k = 0, …, K−1`` runs at the inverse temperature ``β_k = 2^k β_0`` (seed 000's
temperature ``λ_k = 2^{−k} λ_0``, ``λ = 1/β``) for a time ``T`` (``round_time``), starting
from the state at the end of round ``k − 1``. Weight decay per round (``anneal_decay``):

* ``scaled`` (default, seed 000's scaled prior): ``λ_{pkg,k} = 2^{−k} λ_{pkg,0}``, i.e. the
  prior pull ``λ_{pkg} r²/2 = λ_k λ' r²`` shrinks with the temperature (``λ' = β_0λ_{pkg,0}/2``
  fixed) and the Gibbs law ``∝ r^{d−1} e^{−βψ} e^{−λ' r²}`` keeps the same Gaussian prior;
* ``fixed``: ``λ_{pkg,k} = λ_{pkg,0}``; the limit ``β → ∞`` is the noiseless minimiser of
  ``½R + (λ_{pkg}/2)∫r²``.

``anneal=geometric`` gives every round the time ``T``; ``anneal=adaptive`` ends a round at the
first output time where the certificate ``β_k⁻¹ KL(m ‖ p_m)`` (:mod:`reducedpde.mfld`) is below
``round_gap_tol`` (``T`` is then the longest round). Each round is one
:func:`~reducedpde.solvers.fv.radial.solve_radial` call (the PDE) or one stretch of the same
particle run whose kernel gets ``β_k`` and ``λ_k`` (SGD, geometric only).
"""

from __future__ import annotations

import copy
import math
import sys
import time

import numpy as np

__all__ = ["anneal_schedule", "annealed_output_times", "particle_schedule", "round_of_times",
           "solve_annealed_pde"]


def anneal_schedule(cfg) -> tuple[np.ndarray, np.ndarray, float]:
    """``(β_k, λ_k, T)`` for ``k < rounds``: ``β_k = 2^k β``, ``λ_k`` per ``anneal_decay``."""
    if cfg["anneal"] == "none":
        raise ValueError("parameter 'anneal' is 'none': there is no schedule")
    if math.isinf(cfg["beta"]):
        raise ValueError("parameter 'beta' must be finite (β_0 > 0) when anneal != none, got "
                         "inf")
    k = np.arange(cfg["rounds"], dtype=float)
    betas = cfg["beta"] * 2.0**k
    lams = cfg["lam"] * (2.0**-k if cfg["anneal_decay"] == "scaled" else np.ones_like(k))
    round_time = cfg["round_time"] if cfg["round_time"] > 0 else cfg["t_max"] / cfg["rounds"]
    return betas, lams, float(round_time)


def _round_local_times(cfg, round_time: float) -> np.ndarray:
    """``0``, then log-spaced from ``min(t_min, T/100)`` to ``T``: ``n_times // rounds``
    points per round (at least 4)."""
    n = max(4, cfg["n_times"] // cfg["rounds"])
    first = min(cfg["t_min"], round_time / 100.0)
    return np.concatenate([[0.0], np.geomspace(first, round_time, n - 1)])


def annealed_output_times(cfg) -> tuple[np.ndarray, np.ndarray]:
    """Output times of a geometric schedule (rounds back to back) and the snapshot times
    ``0`` and every round end."""
    _, _, round_time = anneal_schedule(cfg)
    local = _round_local_times(cfg, round_time)
    times = [np.zeros(1)] + [k * round_time + local[1:] for k in range(cfg["rounds"])]
    times = np.concatenate(times)
    snaps = np.concatenate([[0.0], round_time * np.arange(1, cfg["rounds"] + 1)])
    return times, snaps


def round_of_times(times, round_time: float, rounds: int) -> np.ndarray:
    """Round index of the step that leads to each time (time 0: round 0)."""
    times = np.asarray(times, dtype=float)
    k = np.ceil(times / round_time - 1e-9) - 1
    return np.clip(k, 0, rounds - 1).astype(int)


def solve_annealed_pde(reduction, *, initial_density=None, progress=True):
    """Annealed radial PDE: one :func:`solve_radial` call per round (or per output interval
    group for ``adaptive``), each from the previous end state with the new ``β_k, λ_k``.

    Returns
    -------
    PDEResult
        The series of every round back to back on one clock (each round's local ``t = 0``
        is the previous round's end and is not repeated); ``extra`` adds ``beta`` and
        ``lam`` (per output time, those of the step that led to it), ``round_end_t``,
        ``round_beta``, ``round_gap`` (certificate at each round end) and
        ``round_gap_rate`` (fitted exponential rate of the certificate in each round,
        :func:`reducedpde.mfld.fit_gap_rate`); snapshots at ``t = 0`` and every round end.
    """
    from ...mfld import fit_gap_rate
    from ...results import PDEResult
    from ...solvers.fv.radial import solve_radial

    cfg = reduction.config
    betas, lams, round_time = anneal_schedule(cfg)
    adaptive = cfg["anneal"] == "adaptive"
    grid = reduction.grid()
    masses = reduction.initial_masses(grid, initial_density)
    masses = masses / masses.sum()
    base = reduction.reduced_model()
    local = _round_local_times(cfg, round_time)
    options = dict(cfl=cfg["cfl"], limiter_theta=cfg["limiter_theta"],
                   step_tol=cfg["step_tol"], stepper=cfg["stepper"],
                   min_resolved_cells=cfg["min_resolved_cells"], progress=False)
    series = {name: [] for name in ("t", "risk", "mean_norm", "free_energy", "gibbs_gap",
                                    "beta", "lam")}
    snapshots = [masses / grid.widths]
    snap_t = [0.0]
    round_end_t, round_gap, round_rate = [], [], []
    offset, n_steps, attrs = 0.0, 0, None
    start = time.perf_counter()
    for k, (beta, lam) in enumerate(zip(betas, lams)):
        model = copy.copy(base)
        model.beta, model.lam = float(beta), float(lam)
        pieces = [local] if not adaptive else np.array_split(
            np.arange(1, local.size), max(1, (local.size - 1) // 4))
        t_round, gap_round = [], []
        t_here = 0.0
        for piece in pieces:
            times = local if not adaptive else np.concatenate([[t_here], local[piece]])
            res = solve_radial(model, grid, masses, times - times[0],
                               snapshot_times=[0.0, times[-1] - times[0]], **options)
            attrs = attrs or dict(res.attrs)
            n_steps += res.attrs["n_steps"]
            masses = res.cell_masses[-1]
            first = 1 if (k > 0 or t_round or series["t"]) else 0
            series["t"].append(offset + times[first:])
            series["risk"].append(res.risk[first:])
            series["mean_norm"].append(res.mean_norm[first:])
            series["free_energy"].append(res.extra["free_energy"][first:])
            series["gibbs_gap"].append(res.extra["gibbs_gap"][first:])
            series["beta"].append(np.full(times.size - first, beta))
            series["lam"].append(np.full(times.size - first, lam))
            t_round.append(times[1:])
            gap_round.append(res.extra["gibbs_gap"][1:])
            t_here = times[-1]
            if adaptive and res.extra["gibbs_gap"][-1] < cfg["round_gap_tol"]:
                break
        offset += t_here
        round_end_t.append(offset)
        round_gap.append(float(gap_round[-1][-1]))
        round_rate.append(fit_gap_rate(np.concatenate(t_round), np.concatenate(gap_round))[0])
        snapshots.append(masses / grid.widths)
        snap_t.append(offset)
        if progress:
            print(f"round {k + 1}/{cfg['rounds']}: beta = {beta:g}, t = {offset:g}, "
                  f"gap = {round_gap[-1]:.3g}", file=sys.stderr)
    attrs.update(n_steps=n_steps, wall_time_s=time.perf_counter() - start, interrupted=False,
                 anneal=cfg["anneal"], rounds=int(cfg["rounds"]))
    out = {name: np.concatenate(parts) for name, parts in series.items()}
    return PDEResult(
        t=out["t"], risk=out["risk"], mean_norm=out["mean_norm"],
        snapshot_times=np.asarray(snap_t), densities=np.array(snapshots),
        grid_edges=grid.edges.copy(), attrs=attrs,
        extra={"free_energy": out["free_energy"], "gibbs_gap": out["gibbs_gap"],
               "beta": out["beta"], "lam": out["lam"],
               "round_end_t": np.asarray(round_end_t), "round_beta": betas.copy(),
               "round_gap": np.asarray(round_gap), "round_gap_rate": np.asarray(round_rate)},
    )


def particle_schedule(cfg) -> dict:
    """The schedule handed to :func:`.particles.simulate_gaussians` (geometric only: the
    particles have no certificate to end a round on)."""
    if cfg["anneal"] == "adaptive":
        raise ValueError("parameter 'anneal' must be 'geometric' for particles: adaptive "
                         "round ends need the Gibbs gap, which a particle run does not have")
    betas, lams, round_time = anneal_schedule(cfg)
    return {"round_time": round_time, "betas": betas, "lams": lams}
