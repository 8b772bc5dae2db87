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
    python validation/finite_n_table.py --predictions-only   # recompute the predictions
    python validation/finite_n_table.py --sgd-only 3200 0.4 8  # SGD rows without the flow
    python validation/finite_n_table.py --rerun 800            # flow and SGD columns of one N

Each SGD column has its prediction ``R + A/N + ε B`` beside it: the ``O(1/N)`` terms plus
the ``O(ε)`` common-noise term of online SGD (docs/corrections.md), with ``B`` on 32 and
on 16 atoms (their difference estimates the error of ``B``).

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
SIZES = {200: (8, 20.0, 1.0), 800: (8, 1.0, 1.0)}
EPS_VALUES = (1e-5, 5e-6)
REPORT_TIMES = (1.0, 20.0)


def _mean_and_se(series, t, at):
    i = int(np.argmin(np.abs(t - at)))
    if abs(t[i] - at) > 1e-6 * at:
        raise RuntimeError(f"no output at t = {at:g} (nearest {t[i]:g})")
    values = series[:, i]
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def mean_field_at(kappa, times):
    """``(R(ρ_t), A(t))`` at ``times`` ⊂ {1, 20}: the PDE with both on its output grid."""
    pde = api.run_pde(SCENARIO, {"kappa": kappa, "t_max": 20.0, "t_min": 0.05, "n_times": 14,
                                 "correction": "full", "correction_modes": 3},
                      progress=False).pde
    coefficient = pde.extra["correction_variance"] + pde.extra["correction_mean_shift"]
    out = {}
    for at in times:
        i = int(np.argmin(np.abs(pde.t - at)))
        if abs(pde.t[i] - at) > 1e-6 * at:
            raise RuntimeError(f"the PDE has no output at t = {at:g}")
        out[at] = (float(pde.risk[i]), float(coefficient[i]))
    return out


def run_flow(kappa, n, seeds, horizon):
    """The gradient flow to ``horizon`` with both report times on its output grid."""
    # outputs 0 and 13 log-spaced times from 1/horizon to horizon: t = 1 is the middle one
    grid = {"t_min": 1.0 / horizon, "n_times": 14} if horizon > 1 else {"n_times": 12}
    return api.run_sgd(SCENARIO, {"kappa": kappa, "N": n, "seeds": seeds, "t_max": horizon,
                                  "particle_dynamics": "flow", **grid},
                       progress=False).sgd


def step_coefficients(kappa, times, atoms=(32, 16)):
    """``B(t)`` of the ``O(ε)`` SGD term at ``times`` on ``atoms`` (the second: the estimate
    of its discretisation error)."""
    from reducedpde.models import build_model
    from reducedpde.models.gaussians.fluctuations import chi_atoms, fluctuation_expansion
    from reducedpde.scenarios import resolve

    cfg = resolve(SCENARIO, {"kappa": kappa})
    model = build_model(cfg).reduced_model()
    out = []
    for n_atoms in atoms:
        positions, weights = chi_atoms(kappa, cfg["d"], n_atoms)
        terms = fluctuation_expansion(model, positions, weights, np.asarray(times, float),
                                      modes=3, degree=cfg["correction_degree"], step_batch=1)
        out.append(terms["step_variance"] + terms["step_mean_shift"])
    return out


def add_step_predictions(rows):
    """Set the PDE and O(1/N) columns from the PDE's own output times and add the
    O(1/N) + O(ε) prediction of each SGD column (``eps B`` on top of O(1/N))."""
    for kappa in KAPPAS:
        mine = [r for r in rows if r["kappa"] == kappa]
        times = sorted({r["t"] for r in mine})
        exact = mean_field_at(kappa, times)
        for r in mine:
            risk, coefficient = exact[r["t"]]
            r["pde"], r["o1n_prediction"] = risk, risk + coefficient / r["N"]
        fine, coarse = step_coefficients(kappa, [0.0, *times])
        for r in mine:
            i = 1 + times.index(r["t"])
            r["step_B"], r["step_B_half_atoms"] = float(fine[i]), float(coarse[i])
            for eps in EPS_VALUES:
                r[f"prediction eps={eps:g}"] = r["o1n_prediction"] + eps * float(fine[i])


def print_table(rows):
    names = ["flow"] + [f"sgd eps={eps:g}" for eps in EPS_VALUES]
    steps = [f"prediction eps={eps:g}" for eps in EPS_VALUES]
    print("| κ | N | t | PDE | O(1/N) | " + " | ".join(names) + " | "
          + " | ".join(f"O(1/N) + O(ε), ε = {eps:g}" for eps in EPS_VALUES)
          + " | B (32 / 16 atoms) |")
    print("|---" * (7 + len(names) + len(steps)) + "|")
    for r in rows:
        cells = " | ".join(f"{r[k][0]:.5f} ± {r[k][1]:.5f}" if k in r else "—"
                           for k in names)
        predicted = " | ".join(f"{r[k]:.5f}" if k in r else "—" for k in steps)
        b = f"{r['step_B']:.4g} / {r['step_B_half_atoms']:.4g}" if "step_B" in r else "—"
        print(f"| {r['kappa']:g} | {r['N']} | {r['t']:g} | {r['pde']:.5f} | "
              f"{r['o1n_prediction']:.5f} | {cells} | {predicted} | {b} |")


def _finish(rows):
    """PDE and prediction columns, then the JSON (atomically) and the table."""
    add_step_predictions(rows)
    with atomic_path(OUT) as tmp:
        Path(tmp).write_text(json.dumps(rows, indent=2))
    print_table(rows)


def main(argv=None):
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if "--rerun-flow" in argv:
        # recompute the flow columns of one N (e.g. after a change of its output grid)
        n = int(argv[argv.index("--rerun-flow") + 1])
        rows = json.loads(OUT.read_text())
        seeds, horizon, _ = SIZES[n]
        for kappa in KAPPAS:
            flow = run_flow(kappa, n, seeds, horizon)
            for r in rows:
                if r["kappa"] == kappa and r["N"] == n:
                    r["flow"] = _mean_and_se(flow.risk, flow.t, r["t"])
        _finish(rows)
        return
    if "--rerun" in argv:
        # recompute the flow and SGD columns of one N of SIZES (e.g. with more seeds)
        n = int(argv[argv.index("--rerun") + 1])
        rows = json.loads(OUT.read_text())
        seeds, flow_horizon, sgd_horizon = SIZES[n]
        for kappa in KAPPAS:
            runs = {"flow": run_flow(kappa, n, seeds, flow_horizon)}
            for eps in EPS_VALUES:
                runs[f"sgd eps={eps:g}"] = api.run_sgd(
                    SCENARIO, {"kappa": kappa, "N": n, "seeds": seeds, "n_times": 12,
                               "t_max": sgd_horizon, "eps": eps}, progress=False).sgd
            for r in rows:
                if r["kappa"] == kappa and r["N"] == n:
                    r["seeds"] = seeds
                    for name, run in runs.items():
                        if r["t"] <= run.t[-1] * (1 + 1e-9):
                            r[name] = _mean_and_se(run.risk, run.t, r["t"])
            print(f"kappa={kappa:g} N={n} done", flush=True)
        _finish(rows)
        return
    if "--sgd-only" in argv:
        # SGD rows without the flow (whose N²d pair gradient is out of reach at large N)
        i = argv.index("--sgd-only")
        n, kappa, seeds = int(argv[i + 1]), float(argv[i + 2]), int(argv[i + 3])
        rows = [r for r in json.loads(OUT.read_text())
                if not (r["N"] == n and r["kappa"] == kappa)]
        row = {"kappa": kappa, "N": n, "t": 1.0, "seeds": seeds}   # PDE columns: _finish
        for eps in EPS_VALUES:
            run = api.run_sgd(SCENARIO, {"kappa": kappa, "N": n, "seeds": seeds,
                                         "n_times": 12, "t_max": 1.0, "eps": eps},
                              progress=False).sgd
            row[f"sgd eps={eps:g}"] = _mean_and_se(run.risk, run.t, 1.0)
        rows.append(row)
        rows.sort(key=lambda r: (r["kappa"], r["N"], r["t"]))
        _finish(rows)
        return
    if "--predictions-only" in argv:
        rows = json.loads(OUT.read_text())
        _finish(rows)
        return
    rows = []
    for kappa in KAPPAS:
        for n, (seeds, flow_horizon, sgd_horizon) in SIZES.items():
            common = {"kappa": kappa, "N": n, "seeds": seeds, "n_times": 12}
            runs = {}
            started = time.perf_counter()
            runs["flow"] = run_flow(kappa, n, seeds, flow_horizon)
            for eps in EPS_VALUES:
                runs[f"sgd eps={eps:g}"] = api.run_sgd(
                    SCENARIO, {**common, "t_max": sgd_horizon, "eps": eps},
                    progress=False).sgd
            for at in REPORT_TIMES:
                if at > flow_horizon:
                    continue
                row = {"kappa": kappa, "N": n, "t": at, "seeds": seeds}  # PDE: _finish
                for name, run in runs.items():
                    if at <= run.t[-1] * (1 + 1e-9):
                        row[name] = _mean_and_se(run.risk, run.t, at)
                rows.append(row)
                print(json.dumps(row), flush=True)
            print(f"kappa={kappa:g} N={n}: {time.perf_counter() - started:.0f} s", flush=True)
    _finish(rows)


if __name__ == "__main__":
    main()
