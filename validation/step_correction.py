"""The ``O(ε)`` step-size term of online SGD against SGD − gradient flow, seed by seed.

For each case, SGD at several ε and the finite-N gradient flow (``particle_dynamics=flow``,
SGD's ``ε → 0`` limit) start from the same initial neurons (same seeds), so the per-seed
difference ``R_SGD(t) − R_flow(t)`` isolates the finite-step effect. The prediction is
``ε B(t)`` with ``B`` from the common-noise expansion (``reducedpde/models/gaussians/
step_noise.py``, docs/corrections.md): the measured ``(R_SGD − R_flow)/ε`` should approach
``B(t)`` as ε → 0, independently of N.

Cases (``gaussians`` scenarios, Δ = 0.5, batch 1):

* ``d40-N200``: d = 40, κ = 0.4, N = 200 (the ``gaussians-quick`` physics), t ≤ 5;
* ``d40-N800``: the same with N = 800, t ≤ 2;
* ``d320-N200``: d = 320, κ = 0.4, N = 200, t ≤ 2.

and the ε-sweep of ``d40-N200`` (ε = 1.6e-4 … 2.5e-6): raw ``|R_SGD − R_flow|`` and
corrected ``|R_SGD − R_flow − ε B|`` at t = 1, 2, 5 with log-log slopes.

Usage::

    python validation/step_correction.py             # about 25 minutes on one core
    python validation/step_correction.py --replot    # table and figure from the JSON

Writes ``validation/results/step_correction.json`` and ``.../step_correction.png``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from reducedpde import api
from reducedpde.atomic import atomic_path
from reducedpde.models import build_model
from reducedpde.models.gaussians.fluctuations import chi_atoms, fluctuation_expansion
from reducedpde.plot import save_figure
from reducedpde.scenarios import resolve

OUT = Path(__file__).resolve().parent / "results"
SEEDS = 8
CASES = {
    "d40-N200": ("gaussians-quick", {"N": 200, "t_max": 5.0, "n_times": 24},
                 (1.6e-4, 4e-5, 1e-5, 2.5e-6)),
    "d40-N800": ("gaussians-quick", {"N": 800, "t_max": 2.0, "n_times": 20}, (4e-5, 1e-5)),
    "d320-N200": ("gaussians", {"N": 200, "kappa": 0.4, "t_max": 2.0, "n_times": 20},
                  (4e-5, 1e-5, 2.5e-6)),
}
REPORT_TIMES = (0.3, 1.0, 2.0, 5.0)


def _nearest(t, times):
    return [int(np.argmin(np.abs(t - s))) for s in times if s <= t[-1] * (1 + 1e-9)]


def _prediction(scenario, params, t):
    cfg = resolve(scenario, params)
    model = build_model(cfg).reduced_model()
    positions, weights = chi_atoms(cfg["kappa"], cfg["d"], cfg["correction_atoms"])
    out = fluctuation_expansion(model, positions, weights, t, modes=cfg["correction_modes"],
                                degree=cfg["correction_degree"], step_batch=int(cfg["batch"]))
    return out["step_variance"] + out["step_mean_shift"]


def run_case(scenario, params, eps_values):
    base = {**params, "seeds": SEEDS}
    started = time.perf_counter()
    flow = api.run_sgd(scenario, {**base, "particle_dynamics": "flow"}, progress=False).sgd
    t = np.asarray(flow.t, float)
    case = {"t": t.tolist(), "B": _prediction(scenario, params, t).tolist(), "eps": {}}
    for eps in eps_values:
        sgd = api.run_sgd(scenario, {**base, "eps": eps}, progress=False).sgd
        risk = np.asarray(sgd.risk, float)
        if not np.allclose(sgd.t, t, rtol=1e-9):
            # SGD records at whole steps: bring it onto the flow's times (error ~ ε |Ṙ|)
            risk = np.array([np.interp(t, sgd.t, seed) for seed in risk])
        diff = risk - np.asarray(flow.risk, float)
        case["eps"][f"{eps:g}"] = {
            "mean": diff.mean(axis=0).tolist(),
            "stderr": (diff.std(axis=0, ddof=1) / np.sqrt(diff.shape[0])).tolist(),
        }
    case["wall_time_s"] = time.perf_counter() - started
    return case


def _slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def report(results):
    lines = []
    for name, case in results["cases"].items():
        t, b = np.array(case["t"]), np.array(case["B"])
        idx = _nearest(t, REPORT_TIMES)
        lines.append(f"\n{name}: (R_SGD - R_flow)/eps, mean over {SEEDS} seeds ± SE, "
                     "against B(t)")
        lines.append("t        " + "".join(f"{t[i]:>16.3g}" for i in idx))
        lines.append("B        " + "".join(f"{b[i]:>16.4g}" for i in idx))
        for eps, entry in case["eps"].items():
            mean, se = np.array(entry["mean"]) / float(eps), np.array(entry["stderr"]) / float(eps)
            lines.append(f"{float(eps):<9.2g}" + "".join(
                f"{mean[i]:>9.4g} ± {se[i]:<4.2g}" for i in idx))
    sweep = results["cases"]["d40-N200"]
    t, b = np.array(sweep["t"]), np.array(sweep["B"])
    keys = sorted(sweep["eps"], key=float)
    eps = np.array([float(k) for k in keys])
    lines.append("\nε-sweep d40-N200: raw |R_SGD - R_flow| and corrected |... - eps B| "
                 "(log-log slope over eps)")
    slopes = {}
    for i in _nearest(t, (1.0, 2.0, 5.0)):
        raw = np.array([abs(sweep["eps"][k]["mean"][i]) for k in keys])
        corrected = np.array([abs(sweep["eps"][k]["mean"][i] - e * b[i])
                              for k, e in zip(keys, eps)])
        se = np.array([sweep["eps"][k]["stderr"][i] for k in keys])
        slopes[f"{t[i]:.3g}"] = {"raw": _slope(eps, raw), "corrected": _slope(eps, corrected)}
        lines.append(f"t = {t[i]:.3g}: raw " + ", ".join(f"{x:.3g}" for x in raw)
                     + f" (slope {slopes[f'{t[i]:.3g}']['raw']:.2f}); corrected "
                     + ", ".join(f"{x:.3g}" for x in corrected)
                     + f" (slope {slopes[f'{t[i]:.3g}']['corrected']:.2f}); SE "
                     + ", ".join(f"{x:.2g}" for x in se)
                     + "  at eps = " + ", ".join(keys))
    results["sweep_slopes"] = slopes
    return "\n".join(lines)


def figure(results, path):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results["cases"]), figsize=(4.2 * len(results["cases"]),
                                                               3.4), sharey=False)
    for ax, (name, case) in zip(axes, results["cases"].items()):
        t, b = np.array(case["t"]), np.array(case["B"])
        ax.plot(t, b, "k-", lw=1.5, label="prediction B(t)")
        for eps, entry in case["eps"].items():
            e = float(eps)
            ax.errorbar(t, np.array(entry["mean"]) / e, yerr=np.array(entry["stderr"]) / e,
                        fmt="o", ms=3, capsize=2, label=f"SGD − flow, ε = {e:g}")
        ax.set_xscale("log")
        ax.set_xlabel("t")
        ax.set_title(name)
        ax.axhline(0.0, color="0.7", lw=0.8)
        lo = min(np.min(b[t >= 0.3]), 0.0)
        ax.set_ylim(lo * 1.3 - 10, 1.3 * np.max(b) + 10)
    axes[0].set_ylabel("(R_SGD − R_flow) / ε")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "step_correction.json"
    if "--replot" in argv:
        results = json.loads(path.read_text())
    else:
        results = {"seeds": SEEDS, "cases": {}}
        for name, (scenario, params, eps_values) in CASES.items():
            results["cases"][name] = run_case(scenario, params, eps_values)
            print(f"{name}: {results['cases'][name]['wall_time_s']:.0f} s", flush=True)
        with atomic_path(path) as tmp:
            Path(tmp).write_text(json.dumps(results, indent=1))
    text = report(results)
    print(text)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(results, indent=1))
    figure(results, OUT / "step_correction.png")
    print(f"wrote {path} and {OUT / 'step_correction.png'}")


if __name__ == "__main__":
    main()
