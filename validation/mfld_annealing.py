"""Annealed mean-field Langevin dynamics of the radial model: R and L against β.

1. ``validate`` on the ``gaussians-mfld`` scenario (annealed PDE and particle SGD with the
   same schedule, β = 80, 160, 320): round-end risk of both, certificate and its fitted
   rate per round.
2. A longer ladder (adaptive rounds, β = 80 … 80·2^(K−1)): the round-end risk R, the
   objective L = ½R + (λ_k/2)∫r² + β⁻¹∫ρ log(ρ/r^{d−1}) and the mean norm against β, next
   to the noiseless minimiser of ½R (the scaled weight decay λ_k = 2^-k λ vanishes as
   β → ∞), approximated by a long noiseless run with λ = 0.

    python validation/mfld_annealing.py --out validation/results

Writes ``mfld_annealing.json``, ``mfld_annealing.png`` and the HDF5 of step 1.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from reducedpde import api, io


def round_end_rows(pde):
    ends = np.searchsorted(pde.t, pde.extra["round_end_t"])
    return [
        {"beta": float(b), "t_end": float(pde.t[i]), "risk": float(pde.risk[i]),
         "objective": float(pde.extra["free_energy"][i]), "mean_norm": float(pde.mean_norm[i]),
         "gap": float(g), "gap_rate": float(r)}
        for b, i, g, r in zip(pde.extra["round_beta"], ends, pde.extra["round_gap"],
                              pde.extra["round_gap_rate"])
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation/results")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {}

    start = time.perf_counter()
    run = api.validate("gaussians-mfld", progress=False)
    io.save(run, out / "mfld_annealing_validate.h5")
    sgd = run.sgd
    sgd_ends = np.searchsorted(sgd.t, run.pde.extra["round_end_t"] - 1e-9)
    summary["validate"] = {
        "wall_s": time.perf_counter() - start,
        "rounds": round_end_rows(run.pde),
        "sgd_round_end_risk_mean": [float(sgd.risk[:, i].mean()) for i in sgd_ends],
        "sgd_round_end_risk_std": [float(sgd.risk[:, i].std()) for i in sgd_ends],
        "sgd_round_end_beta": [float(sgd.extra["beta"][i]) for i in sgd_ends],
        "comparison": {k: v for k, v in run.comparison.metrics.items()
                       if isinstance(v, (int, float, bool))},
    }
    print(json.dumps(summary["validate"], indent=1))
    (out / "mfld_annealing.json").write_text(json.dumps(summary, indent=1))

    start = time.perf_counter()
    ladder = api.run_pde("gaussians-mfld", {
        "anneal": "adaptive", "rounds": args.rounds, "round_time": 400.0,
        "round_gap_tol": 1e-12, "n_times": 40 * args.rounds, "min_resolved_cells": 0.0},
        progress=False).pde
    summary["ladder"] = {"wall_s": time.perf_counter() - start,
                         "rounds": round_end_rows(ladder)}
    print(json.dumps(summary["ladder"], indent=1))

    start = time.perf_counter()
    noiseless = api.run_pde("gaussians-mfld", {"anneal": "none", "beta": "inf", "lam": 0.0,
                                               "t_max": 2000.0, "n_times": 60},
                            progress=False).pde
    half_risk = 0.5 * noiseless.risk
    summary["noiseless"] = {
        "wall_s": time.perf_counter() - start, "t_max": 2000.0,
        "risk": float(noiseless.risk[-1]), "objective": float(half_risk[-1]),
        "mean_norm": float(noiseless.mean_norm[-1]),
        "risk_at_half_time": float(noiseless.risk[np.searchsorted(noiseless.t, 1000.0)]),
    }
    print(json.dumps(summary["noiseless"], indent=1))
    (out / "mfld_annealing.json").write_text(json.dumps(summary, indent=1))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["ladder"]["rounds"]
    beta = np.array([r["beta"] for r in rows])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, key, label in zip(axes, ("risk", "objective", "gap"),
                              ("risk R", "objective L", "certificate at round end")):
        values = [max(r[key], 1e-18) if key == "gap" else r[key] for r in rows]
        ax.plot(beta, values, "o-", label="annealed PDE (round ends)")
        if key != "gap":
            ax.axhline(summary["noiseless"][key], color="k", ls="--",
                       label="noiseless minimiser (λ = 0, t = 2000)")
        else:
            ax.set_yscale("log")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("β")
        ax.set_title(label)
    axes[0].plot(summary["validate"]["sgd_round_end_beta"],
                 summary["validate"]["sgd_round_end_risk_mean"], "s", mfc="none",
                 label="SGD N = 200 (2 seeds)")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "mfld_annealing.png", dpi=120)


if __name__ == "__main__":
    main()
