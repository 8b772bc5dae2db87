"""Radial PDE benchmark: MMN18 Fig. 4 setting (Δ = 0.5, d = 320, κ = 0.1 and 0.4) to t = 100.

The nonlinear reduced PDE (noiseless: MUSCL upwind fluxes + SSP-RK3,
:func:`reducedpde.solvers.fv.steppers.integrate_transport`, low-rank interaction of the MMN18
kernel). Reports the compile time, the time to solution to ``t = 100`` on 2000 cells through
:func:`reducedpde.solvers.fv.radial.solve_radial`, and the cost of one time step as the number of
cells M grows from 250 to 16000 (it must grow linearly: constant ns per cell-step).

Run: ``python -m benchmarks --only radial`` (or ``python -m benchmarks.bench_radial``).
"""

from __future__ import annotations

if __package__ in (None, ""):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"
    import benchmarks  # noqa: F401  (one thread everywhere, before NumPy and Numba load)

import time

import numpy as np

from reducedpde.activations import mmn18
from reducedpde.models.gaussians.radial import GaussianRadialModel, scaled_chi_cdf
from reducedpde.solvers.fv import steppers
from reducedpde.solvers.fv.grid import Grid1D
from reducedpde.solvers.fv.radial import RadialDiscretization, default_output_times, solve_radial

from . import common

CELLS = (250, 500, 1000, 2000, 4000, 8000, 16000)


def _model():
    return GaussianRadialModel(mmn18(), 0.5, 320, r_bound=4.0)


def time_to_solution(kappa, n_cells=2000, t_max=100.0, model=None):
    model = model or _model()
    grid = Grid1D.uniform(0.0, 4.0, n_cells)
    masses = grid.cell_masses(scaled_chi_cdf(kappa, 320))
    times = default_output_times(t_max, 120, 1e-2)
    start = time.perf_counter()
    res = solve_radial(model, grid, masses, times, progress=False)
    return time.perf_counter() - start, res


def cost_per_step(n_cells, n_steps=400, model=None):
    """Best wall time of one SSP-RK3 step (three rate evaluations) on ``n_cells`` cells."""
    model = model or _model()
    grid = Grid1D.uniform(0.0, 4.0, n_cells)
    disc = RadialDiscretization(model, grid)
    masses = grid.cell_masses(scaled_chi_cdf(0.4, 320))
    args = (
        grid.widths,
        grid.centres,
        disc.features,
        disc.feature_derivatives,
        disc.weights,
        disc.potential_derivative,
        2.0,
        0.0,
        1e9,
        0.4,
        1.5,
    )
    steppers.integrate_transport(masses.copy(), *args, 2, 1.0)  # compile / warm up
    best = np.inf
    for _ in range(3):
        m = masses.copy()
        start = time.perf_counter()
        _, steps, _ = steppers.integrate_transport(m, *args, n_steps, 1.0)
        best = min(best, (time.perf_counter() - start) / steps)
    return best, int(disc.weights.size)


def run(quick=False, log=print):
    model = _model()
    result = {"machine": common.machine(), "quick": quick}
    start = time.perf_counter()
    time_to_solution(0.4, n_cells=50, t_max=0.1, model=model)
    result["compile_s"] = time.perf_counter() - start
    n_cells, t_max = (500, 10.0) if quick else (2000, 100.0)
    result["time_to_solution"] = []
    for kappa in (0.1, 0.4):
        log(f"  radial PDE: κ = {kappa}, {n_cells} cells, t = {t_max:g}")
        wall, res = time_to_solution(kappa, n_cells, t_max, model=model)
        result["time_to_solution"].append({
            "kappa": kappa,
            "n_cells": res.attrs["n_cells"],
            "t_max": t_max,
            "steps": res.attrs["n_steps"],
            "wall_s": wall,
            "final_risk": float(res.risk[-1]),
        })
    result["cost_per_step"] = []
    for cells in CELLS[:3] if quick else CELLS:
        log(f"  radial PDE: cost per step, {cells} cells")
        per_step, rank = cost_per_step(cells, 100 if quick else 400, model=model)
        result["cost_per_step"].append({
            "n_cells": cells,
            "step_s": per_step,
            "ns_per_cell_step": per_step / cells * 1e9,
            "kernel_rank": rank,
        })
    ns = [r["ns_per_cell_step"] for r in result["cost_per_step"]]
    result["ns_per_cell_step_max_over_min"] = max(ns) / min(ns)
    return result


def markdown(result) -> str:
    f = common.fmt_time
    rank = result["cost_per_step"][0]["kernel_rank"]
    lines = [
        "## Nonlinear reduced PDE (MMN18 Fig. 4: Δ = 0.5, d = 320)",
        "",
        "Noiseless radial PDE, MUSCL + SSP-RK3 (`integrate_transport`), interaction of rank "
        f"{rank}. Compilation (or cache load) + first call: {f(result['compile_s'])}.",
        "",
        "| κ | cells | t | steps | wall time | final risk |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["time_to_solution"]:
        lines.append(f"| {r['kappa']} | {r['n_cells']} | {r['t_max']:g} | {r['steps']} | "
                     f"{f(r['wall_s'])} | {r['final_risk']:.5f} |")
    lines += [
        "",
        "| cells | time per step | ns per cell-step |",
        "|---|---|---|",
    ]
    for r in result["cost_per_step"]:
        lines.append(f"| {r['n_cells']} | {f(r['step_s'])} | {r['ns_per_cell_step']:.1f} |")
    lines += ["", f"Cost per cell-step varies by a factor "
              f"{result['ns_per_cell_step_max_over_min']:.2f} from "
              f"{result['cost_per_step'][0]['n_cells']} to "
              f"{result['cost_per_step'][-1]['n_cells']} cells (1 = exactly linear)."]
    return "\n".join(lines)


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(markdown(run(args.quick)))


if __name__ == "__main__":
    main()
