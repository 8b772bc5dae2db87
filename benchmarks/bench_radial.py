"""Radial PDE benchmark: MMN18 Fig. 4 setting (Δ=0.5, d=320, κ=0.1 and 0.4) to t=100.

Reports compile time, wall time after compilation, steps, and the cost per step and per
cell-step as the number of cells grows (must be linear in the number of cells).

Run: ``python benchmarks/bench_radial.py`` (single thread; NUMBA_NUM_THREADS=1).
"""

from __future__ import annotations

import os

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import time

import numpy as np

from reducedpde.activations import mmn18
from reducedpde.fv import steppers
from reducedpde.fv.grid import Grid1D
from reducedpde.fv.radial import RadialDiscretization, default_output_times, solve_radial
from reducedpde.models.gaussians import GaussianRadialModel, scaled_chi_cdf


def time_to_solution(kappa, n_cells=2000, t_max=100.0):
    model = GaussianRadialModel(mmn18(), 0.5, 320, r_bound=4.0)
    grid = Grid1D.uniform(0.0, 4.0, n_cells)
    masses = grid.cell_masses(scaled_chi_cdf(kappa, 320))
    times = default_output_times(t_max, 120, 1e-2)
    start = time.perf_counter()
    res = solve_radial(model, grid, masses, times, progress=False)
    return time.perf_counter() - start, res


def cost_per_step(n_cells, n_steps=400):
    model = GaussianRadialModel(mmn18(), 0.5, 320, r_bound=4.0)
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
    return best


def main():
    start = time.perf_counter()
    time_to_solution(0.4, n_cells=50, t_max=0.1)
    print(f"compilation + first call: {time.perf_counter() - start:.2f} s")
    print("\n| kappa | cells | steps | wall time (s) | final risk |")
    print("|---|---|---|---|---|")
    for kappa in (0.1, 0.4):
        wall, res = time_to_solution(kappa)
        print(
            f"| {kappa} | {res.attrs['n_cells']} | {res.attrs['n_steps']} | {wall:.2f} "
            f"| {res.risk[-1]:.5f} |"
        )
    print("\n| cells | time per step (us) | ns per cell-step |")
    print("|---|---|---|")
    for n_cells in (250, 500, 1000, 2000, 4000, 8000, 16000):
        per_step = cost_per_step(n_cells)
        print(f"| {n_cells} | {per_step * 1e6:.1f} | {per_step / n_cells * 1e9:.1f} |")


if __name__ == "__main__":
    main()
