"""PDE vs SGD discrepancy as the number of neurons N grows (fixed small ε).

The MMN18 bound predicts a discrepancy ∝ √(max(1/N, ε)): a log-log slope of −1/2 in N as
long as 1/N ≫ ε. For each N this runs `reducedpde validate` on the ``gaussians-quick``
physics (d = 40, κ = 0.4) up to ``t_max`` and records

* ``per_run``  = mean over seeds of sup_t |R_seed(t) − R_PDE(t)| (the distance of one SGD
  run from the PDE, the quantity in the theorem), and
* ``ensemble`` = sup_t |mean_seeds R(t) − R_PDE(t)| (fluctuations averaged out, leaving the
  O(1/N) and O(ε d) biases).

Usage::

    python validation/convergence.py [--out validation/results] [--seeds 4]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from reducedpde import api, io
from reducedpde.plot import save_figure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation/results")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--sizes", default="100,200,400,800,1600,3200")
    parser.add_argument("--eps", type=float, default=1e-6)
    parser.add_argument("--t-max", type=float, default=1.0)
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [int(n) for n in args.sizes.split(",")]
    rows = []
    for n in sizes:
        params = {"N": n, "eps": args.eps, "t_max": args.t_max, "seeds": args.seeds,
                  "t_min": 1e-2, "n_times": 40}
        result = api.validate("gaussians-quick", params, progress=not args.quiet)
        io.save(result, out / f"convergence_N{n}.h5")
        risk_pde = np.interp(result.sgd.t, result.pde.t, result.pde.risk)
        per_run = float(np.mean(np.abs(result.sgd.risk - risk_pde).max(axis=1)))
        rows.append({"N": n, "per_run": per_run,
                     "ensemble": result.comparison.metrics["sup_risk"],
                     "tolerance": result.comparison.tolerance,
                     "wall_time_sgd_s": result.sgd.attrs["wall_time_s"]})
        print(rows[-1], flush=True)
    ns = np.array([r["N"] for r in rows], float)
    slope_run = float(np.polyfit(np.log(ns), np.log([r["per_run"] for r in rows]), 1)[0])
    slope_ens = float(np.polyfit(np.log(ns), np.log([r["ensemble"] for r in rows]), 1)[0])
    print(f"log-log slope per run: {slope_run:.3f}; ensemble mean: {slope_ens:.3f}")
    (out / "convergence.json").write_text(json.dumps(
        {"rows": rows, "slope_per_run": slope_run, "slope_ensemble": slope_ens,
         "eps": args.eps, "t_max": args.t_max, "seeds": args.seeds}, indent=2))

    import matplotlib.pyplot as plt

    fig = plt.figure(layout="constrained", figsize=(5, 4))
    ax = fig.add_subplot()
    ax.loglog(ns, [r["per_run"] for r in rows], "o-", label=f"one run (slope {slope_run:.2f})")
    ax.loglog(ns, [r["ensemble"] for r in rows], "s-",
              label=f"mean of {args.seeds} runs (slope {slope_ens:.2f})")
    ref = rows[0]["per_run"] * np.sqrt(ns[0] / ns)
    ax.loglog(ns, ref, "k--", label="N^(-1/2)")
    ax.set_xlabel("N")
    ax.set_ylabel("sup_t |R_SGD − R_PDE|")
    ax.legend()
    save_figure(fig, out / "convergence.png")


if __name__ == "__main__":
    main()
