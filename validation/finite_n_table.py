"""R(t = 1) and R(t = 20) of finite networks in the MMN18 Fig. 4 setting (d = 320).

SGD runs to t = 1 only (SGD to t = 20 at N = 200 costs about four minutes per seed
and step size here); the flow of N = 200 runs to t = 20.

For κ ∈ {0.1, 0.4} and each N of :data:`SIZES`: the finite-N gradient flow (SGD's ε → 0
limit, ``particle_dynamics=flow``) and SGD at two step sizes, each over several seeds (mean
and standard error of the mean), against the mean-field PDE and its O(1/N) prediction
(``correction=full``; docs/corrections.md). Horizons per N are limited by the cost of the
flow on two cores (the pair gradient costs N² d per evaluation).

Usage::

    python validation/finite_n_table.py        # about forty minutes on two cores

Writes ``validation/results/finite_n_table.json`` and prints a Markdown table.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from reducedpde import api
from reducedpde.atomic import atomic_path

OUT = Path(__file__).resolve().parent / "results" / "finite_n_table.json"
SCENARIO = "gaussians-fig4"
KAPPAS = (0.1, 0.4)
#: N → (seeds, horizon of the flow, horizon of SGD)
SIZES = {200: (8, 20.0, 1.0), 800: (4, 1.0, 1.0)}
EPS_VALUES = (1e-5, 5e-6)
REPORT_TIMES = (1.0, 20.0)


def _mean_and_se(series, t, at):
    i = int(np.argmin(np.abs(t - at)))
    values = series[:, i]
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def main():
    rows = []
    for kappa in KAPPAS:
        t_max = max(h for _, h, _ in SIZES.values())
        pde = api.run_pde(SCENARIO, {"kappa": kappa, "t_max": t_max, "n_times": 40,
                                     "correction": "full", "correction_modes": 3},
                          progress=False).pde
        coefficient = pde.extra["correction_variance"] + pde.extra["correction_mean_shift"]
        for n, (seeds, flow_horizon, sgd_horizon) in SIZES.items():
            common = {"kappa": kappa, "N": n, "seeds": seeds, "n_times": 12}
            runs = {}
            started = time.perf_counter()
            runs["flow"] = api.run_sgd(SCENARIO, {**common, "t_max": flow_horizon,
                                                  "particle_dynamics": "flow"},
                                       progress=False).sgd
            for eps in EPS_VALUES:
                runs[f"sgd eps={eps:g}"] = api.run_sgd(
                    SCENARIO, {**common, "t_max": sgd_horizon, "eps": eps},
                    progress=False).sgd
            for at in REPORT_TIMES:
                if at > flow_horizon:
                    continue
                row = {"kappa": kappa, "N": n, "t": at, "seeds": seeds,
                       "pde": float(np.interp(at, pde.t, pde.risk)),
                       "o1n_prediction": float(np.interp(at, pde.t,
                                                         pde.risk + coefficient / n))}
                for name, run in runs.items():
                    if at <= run.t[-1] * (1 + 1e-9):
                        row[name] = _mean_and_se(run.risk, run.t, at)
                rows.append(row)
                print(json.dumps(row), flush=True)
            print(f"kappa={kappa:g} N={n}: {time.perf_counter() - started:.0f} s", flush=True)
    with atomic_path(OUT) as tmp:
        Path(tmp).write_text(json.dumps(rows, indent=2))
    names = ["flow"] + [f"sgd eps={eps:g}" for eps in EPS_VALUES]
    print("| κ | N | t | PDE | O(1/N) | " + " | ".join(names) + " |")
    print("|---" * (5 + len(names)) + "|")
    for r in rows:
        cells = " | ".join(f"{r[k][0]:.5f} ± {r[k][1]:.5f}" if k in r else "—"
                           for k in names)
        print(f"| {r['kappa']:g} | {r['N']} | {r['t']:g} | {r['pde']:.5f} | "
              f"{r['o1n_prediction']:.5f} | {cells} |")


if __name__ == "__main__":
    main()
