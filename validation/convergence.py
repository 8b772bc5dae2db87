"""PDE vs SGD discrepancy as the number of neurons N grows (fixed small ε).

The MMN18 bound predicts a discrepancy of order √(max(1/N, ε)) as long as 1/N ≫ ε. For each
N this runs `reducedpde validate` on the ``gaussians-quick`` physics (d = 40, κ = 0.4) up to
``t_max`` and records, per SGD run (one seed) and then averaged over seeds:

* ``risk``      — sup_t |R_seed(t) − R_PDE(t)|;
* ``mean_norm`` — sup_t |mean_i ‖w_i‖ − ∫ r dρ̄_t|;
* ``w1``        — max over snapshot times of W1(empirical law of the N norms, ρ̄_t);

and ``risk_ensemble`` = sup_t |mean over seeds of R(t) − R_PDE(t)| (fluctuations averaged
out, leaving the biases). Log-log slopes in N are fitted to each.

Usage::

    python validation/convergence.py [--out validation/results] [--seeds 4]
    python validation/convergence.py --from-files      # re-analyse existing result files
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from reducedpde import api, io
from reducedpde.compare import wasserstein1_samples
from reducedpde.plot import save_figure

METRICS = ("risk", "mean_norm", "w1", "risk_ensemble")


def summarize(result) -> dict:
    """Per-seed discrepancies of one validation result (see the module docstring)."""
    pde, sgd = result.pde, result.sgd
    risk_pde = np.interp(sgd.t, pde.t, pde.risk)
    norm_pde = np.interp(sgd.t, pde.t, pde.mean_norm)
    samples = sgd.extra["snapshot_norm"]  # (seeds, snapshots, N)
    w1 = []
    for seed_samples in samples:
        per_time = []
        for k, ts in enumerate(sgd.snapshot_times):
            j = int(np.argmin(np.abs(pde.snapshot_times - ts)))
            per_time.append(wasserstein1_samples(seed_samples[k], pde.grid_edges,
                                                 pde.densities[j]))
        w1.append(max(per_time))
    return {
        "N": int(result.config["N"]),
        "risk": float(np.mean(np.abs(sgd.risk - risk_pde).max(axis=1))),
        "mean_norm": float(np.mean(np.abs(sgd.mean_norm - norm_pde).max(axis=1))),
        "w1": float(np.mean(w1)),
        "risk_ensemble": float(np.abs(sgd.risk.mean(axis=0) - risk_pde).max()),
        "tolerance": float(result.comparison.tolerance),
        "seeds": int(sgd.risk.shape[0]),
        "wall_time_sgd_s": float(sgd.attrs["wall_time_s"]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation/results")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--sizes", default="100,200,400,800,1600,3200")
    parser.add_argument("--eps", type=float, default=1e-6)
    parser.add_argument("--t-max", type=float, default=1.0)
    parser.add_argument("--from-files", action="store_true",
                        help="analyse convergence_N*.h5 in --out instead of running")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in (int(n) for n in args.sizes.split(",")):
        path = out / f"convergence_N{n}.h5"
        if args.from_files:
            if not path.exists():
                continue
            result = io.load(path)
        else:
            params = {"N": n, "eps": args.eps, "t_max": args.t_max, "seeds": args.seeds,
                      "t_min": 1e-2, "n_times": 40}
            result = api.validate("gaussians-quick", params, progress=not args.quiet)
            io.save(result, path)
        rows.append(summarize(result))
        print(rows[-1], flush=True)
    ns = np.array([r["N"] for r in rows], float)
    slopes = {m: float(np.polyfit(np.log(ns), np.log([r[m] for r in rows]), 1)[0])
              for m in METRICS}
    print("log-log slopes in N:", {m: round(v, 3) for m, v in slopes.items()})
    (out / "convergence.json").write_text(json.dumps(
        {"rows": rows, "slopes": slopes, "eps": args.eps, "t_max": args.t_max}, indent=2))

    import matplotlib.pyplot as plt

    fig = plt.figure(layout="constrained", figsize=(5.5, 4.2))
    ax = fig.add_subplot()
    labels = {"risk": "sup |ΔR| (one run)", "mean_norm": "sup |Δ mean‖w‖| (one run)",
              "w1": "max W1 (one run)", "risk_ensemble": "sup |ΔR| (mean of runs)"}
    for m, marker in zip(METRICS, "osD^"):
        ax.loglog(ns, [r[m] for r in rows], marker + "-",
                  label=f"{labels[m]}, slope {slopes[m]:.2f}")
    ax.loglog(ns, rows[0]["w1"] * np.sqrt(ns[0] / ns), "k--", label="∝ N^(-1/2)")
    ax.loglog(ns, rows[0]["risk_ensemble"] * ns[0] / ns, "k:", label="∝ N^(-1)")
    ax.set_xlabel("N (neurons)")
    ax.set_ylabel("SGD − PDE discrepancy")
    ax.legend(fontsize=7)
    save_figure(fig, out / "convergence.png")


if __name__ == "__main__":
    main()
