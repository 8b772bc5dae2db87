"""Free-energy estimate of noisy particle SGD against the PDE's free energy at equilibrium.

Problem: ``gaussians`` with d = 20, β = 50, λ = 0.1, κ = 0.4 (Δ = 0.5, MMN18 activation).
The PDE (400 cells, ESDIRK4 at 1e-6; 800 cells as a check of the grid) gives the Gibbs
state's objective L* = ½R + (λ/2)∫r² + β⁻¹∫ρ̄ log(ρ̄/r^{d−1}) and the i.i.d. risk excess
V* = ∫D dρ̄ − ∫∫u dρ̄ dρ̄ there. For the continuous-time N-particle Langevin dynamics at
its equilibrium, the expected particle estimate (exact entropy) lies in
[L*, L* + V*/(2N)] (docs/mfld.md §6). SGD adds the O(ε/b) shift of its sampling noise;
the runs use batch 8 and two step sizes to measure it. The leading-order value of
N(E L̂ − L*) at ε → 0 is :func:`reducedpde.models.gaussians.gibbs_excess.
gibbs_free_energy_excess`.

    python validation/particle_free_energy.py --out validation/results

Writes ``particle_free_energy.json`` (about three minutes on one core).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from reducedpde import api
from reducedpde.activations import get_activation
from reducedpde.mfld import particle_free_energy_summary
from reducedpde.models.gaussians.gibbs_excess import gibbs_free_energy_excess

PROBLEM = {"d": 20, "beta": 50.0, "lam": 0.1, "kappa": 0.4, "delta": 0.5}
PDE = {"stepper": "esdirk4", "step_tol": 1e-6, "error_estimate": "none", "t_max": 20.0,
       "n_times": 30, "t_min": 0.1}
#: (N, ε, batch, seeds)
RUNS = [(500, 5e-4, 8, 4), (1000, 5e-4, 8, 4), (2000, 5e-4, 8, 4), (2000, 1e-3, 8, 4),
        (2000, 1e-3, 1, 4)]
T_MAX = 10.0


def equilibrium(cells: int) -> dict:
    pde = api.run_pde("gaussians", {**PROBLEM, **PDE, "cells": cells}, progress=False).pde
    assert pde.snapshot_times[-1] == pde.t[-1]
    edges = pde.grid_edges
    excess = gibbs_free_energy_excess(get_activation("mmn18"), PROBLEM["delta"], PROBLEM["d"],
                                      PROBLEM["beta"], 0.5 * (edges[1:] + edges[:-1]),
                                      pde.cell_masses[-1], pde.risk[-1])
    return {"cells": cells, "t": float(pde.t[-1]),
            "free_energy": float(pde.extra["free_energy"][-1]),
            "gibbs_gap": float(pde.extra["gibbs_gap"][-1]), "risk": float(pde.risk[-1]),
            "mean_norm": float(pde.mean_norm[-1]), "iid_risk_excess": excess["iid_excess"],
            "iid_risk_excess_traced": excess["traced"],
            "predicted_N_times_difference": excess["predicted"],
            "by_degree": excess["by_degree"]}


def particle_row(N, eps, batch, seeds, star) -> dict:
    start = time.perf_counter()
    params = {**PROBLEM, "N": N, "eps": eps, "batch": batch, "seeds": seeds,
              "t_max": T_MAX, "n_times": 7, "t_min": T_MAX / 32, "n_snapshots": 2}
    sgd = api.run_sgd("gaussians", params, progress=False).sgd
    s = particle_free_energy_summary(sgd)
    bound = star["iid_risk_excess"] / (2 * N)
    mean, se = float(s["mean"][-1]), float(s["stderr"][-1])
    return {"N": N, "eps": eps, "batch": batch, "seeds": seeds, "t": float(sgd.t[-1]),
            "estimate": mean, "stderr": se,
            "entropy_stderr": float(s["entropy_stderr"][-1]),
            "per_seed": sgd.extra["free_energy_estimate"][:, -1].tolist(),
            "estimate_half_time": float(s["mean"][-2]),
            "risk": float(sgd.risk[:, -1].mean()), "difference": mean - star["free_energy"],
            "bound": bound, "N_times_difference": N * (mean - star["free_energy"]),
            "wall_time_s": time.perf_counter() - start}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("validation/results"))
    args = parser.parse_args()
    star = equilibrium(400)
    fine = equilibrium(800)
    print(f"PDE: L* = {star['free_energy']:.7f} (800 cells: {fine['free_energy']:.7f}), "
          f"gap {star['gibbs_gap']:.2g}, R* = {star['risk']:.6f}, V* = "
          f"{star['iid_risk_excess']:.4f} (traced {star['iid_risk_excess_traced']:.4f}), "
          f"predicted N (L - L*) = {star['predicted_N_times_difference']:.4f}")
    rows = []
    for N, eps, batch, seeds in RUNS:
        row = particle_row(N, eps, batch, seeds, star)
        rows.append(row)
        print(f"N={N:5d} eps={eps:g} b={batch}: L = {row['estimate']:.6f} +- "
              f"{row['stderr']:.1e} (t={row['t']:g}; t={row['t'] / 2:g}: "
              f"{row['estimate_half_time']:.6f}), L - L* = {row['difference']:.5f}, "
              f"V*/(2N) = {row['bound']:.5f}, N (L - L*) = {row['N_times_difference']:.2f}"
              f"  [{row['wall_time_s']:.0f} s]")
    # the step term from the two step sizes at N = 2000, batch 8
    a = next(r for r in rows if (r["N"], r["eps"], r["batch"]) == (2000, 5e-4, 8))
    b = next(r for r in rows if (r["N"], r["eps"], r["batch"]) == (2000, 1e-3, 8))
    slope = (b["estimate"] - a["estimate"]) / (b["eps"] - a["eps"])
    extrapolated = a["estimate"] - slope * a["eps"]
    slope_se = math.hypot(a["stderr"], b["stderr"]) / (b["eps"] - a["eps"])
    print(f"step term at N=2000, b=8: dL/deps = {slope:.3g} +- {slope_se:.2g}; eps -> 0: "
          f"L = {extrapolated:.6f}, L - L* = {extrapolated - star['free_energy']:.5f}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "particle_free_energy.json"
    path.write_text(json.dumps({"problem": PROBLEM, "pde": star, "pde_fine": fine,
                                "runs": rows, "step_slope": slope, "step_slope_se": slope_se,
                                "extrapolated": extrapolated}, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
