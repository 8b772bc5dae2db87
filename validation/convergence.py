"""Raw and corrected PDE predictions against finite networks, as N grows and as ε shrinks.

On the ``gaussians-quick`` physics (d = 40, Δ = 0.5, κ = 0.4, t ≤ 5):

* **versus N** (``ε → 0``): the finite-N gradient flow (``particle_dynamics=flow``, SGD's
  ``ε → 0`` limit at fixed N, docs/gradient_flow.md) for N = 100 … 800 against the
  mean-field PDE (raw) and the ``O(1/N)`` prediction (``correction=full``,
  docs/corrections.md). Without step-size effects the raw gap should fall like ``1/N``
  and the corrected one like ``1/N²``;
* **versus ε** (N = 200): SGD at ε = 1e-3 … 1e-6 against the flow of the same initial
  neurons (the finite-ε part alone, expected ``∝ ε``), against the predictions (raw,
  ``O(1/N)``, and ``O(1/N) + O(ε)`` with the common-noise step term ``εB``), and the
  step effect after its correction, ``SGD − flow − εB`` (expected ``o(ε)``).

Discrepancy: ``sup_t |mean over seeds of R(t) − R_pred(t)|`` over the output times with
``t ≥ 0.5`` (earlier times, where the risk is of order one, are dominated by the
seed-to-seed noise of the initial risk), with the standard error of the seed mean at the
worst time; also the signed gaps at t = 1 and t = 5. Log-log slopes are least-squares fits.

Usage::

    python validation/convergence.py            # about 30 minutes on one core
    python validation/convergence.py --replot   # slopes and figure from the JSON

Writes ``validation/results/convergence.json`` and ``validation/results/convergence.png``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from reducedpde import api
from reducedpde.atomic import atomic_path
from reducedpde.plot import save_figure

OUT = Path(__file__).resolve().parent / "results"
SCENARIO = "gaussians-quick"
TIMES = {"t_max": 5.0, "n_times": 16}
SIZES = {100: 8, 200: 8, 400: 6, 800: 4}
EPS_VALUES = (1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
EPS_SEEDS = 8
T_FROM = 0.5


def _gap(series, t, prediction_t, prediction):
    """Seed mean minus prediction on ``t`` (``prediction`` interpolated), and its SE."""
    mean = series.mean(axis=0)
    stderr = series.std(axis=0, ddof=1) / np.sqrt(series.shape[0])
    return mean - np.interp(t, prediction_t, prediction), stderr


def _summary(gap, stderr, t):
    late = t >= T_FROM
    worst = int(np.argmax(np.abs(gap) * late))
    return {"sup": float(np.abs(gap[worst])), "stderr_at_sup": float(stderr[worst]),
            "t_sup": float(t[worst]),
            "gap_t1": float(gap[int(np.argmin(np.abs(t - 1.0)))]),
            "gap_t5": float(gap[int(np.argmin(np.abs(t - 5.0)))])}


def _slope(x, y):
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def main(argv=None):
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if "--replot" in argv:  # slopes and figure again from the stored JSON
        _finish(json.loads((OUT / "convergence.json").read_text()))
        return
    OUT.mkdir(parents=True, exist_ok=True)
    pde = api.run_pde(SCENARIO, {**TIMES, "correction": "full"}, progress=False).pde
    raw = pde.risk
    coefficient = pde.extra["correction_variance"] + pde.extra["correction_mean_shift"]
    step = pde.extra["correction_step"]
    results = {"scenario": SCENARIO, "times": TIMES, "t_from": T_FROM, "versus_n": {},
               "versus_eps": {}}

    for n, seeds in SIZES.items():
        started = time.perf_counter()
        flow = api.run_sgd(SCENARIO, {**TIMES, "N": n, "seeds": seeds,
                                      "particle_dynamics": "flow"}, progress=False).sgd
        corrected = raw + coefficient / n
        row = {"seeds": seeds, "wall_time_s": time.perf_counter() - started}
        for name, prediction in (("raw", raw), ("corrected", corrected)):
            row[name] = _summary(*_gap(flow.risk, flow.t, pde.t, prediction), flow.t)
        results["versus_n"][str(n)] = row
        print(f"N = {n}: raw {row['raw']['sup']:.3e}, corrected {row['corrected']['sup']:.3e}"
              f" (SE {row['corrected']['stderr_at_sup']:.1e}), {row['wall_time_s']:.0f} s",
              flush=True)

    n_ref = 200
    flow = api.run_sgd(SCENARIO, {**TIMES, "N": n_ref, "seeds": EPS_SEEDS,
                                  "particle_dynamics": "flow"}, progress=False).sgd
    corrected = raw + coefficient / n_ref
    for eps in EPS_VALUES:
        started = time.perf_counter()
        sgd = api.run_sgd(SCENARIO, {**TIMES, "N": n_ref, "seeds": EPS_SEEDS, "eps": eps},
                          progress=False).sgd
        flow_on = np.array([np.interp(sgd.t, flow.t, r) for r in flow.risk])
        row = {"wall_time_s": time.perf_counter() - started,
               "sgd_minus_flow": _summary(*_gap(sgd.risk - flow_on, sgd.t, sgd.t,
                                                np.zeros_like(sgd.t)), sgd.t),
               "sgd_minus_flow_minus_step": _summary(*_gap(
                   sgd.risk - flow_on, sgd.t, pde.t, eps * step), sgd.t)}
        for name, prediction in (("raw", raw), ("corrected", corrected),
                                 ("corrected_step", corrected + eps * step)):
            row[name] = _summary(*_gap(sgd.risk, sgd.t, pde.t, prediction), sgd.t)
        results["versus_eps"][f"{eps:g}"] = row
        print(f"eps = {eps:g}: SGD - flow {row['sgd_minus_flow']['sup']:.3e}, raw "
              f"{row['raw']['sup']:.3e}, corrected {row['corrected']['sup']:.3e}", flush=True)

    _finish(results)


def _finish(results):
    sizes = np.array(list(SIZES), float)
    eps = np.array(EPS_VALUES)
    corrected = [results["versus_n"][str(int(n))]["corrected"]["sup"] for n in sizes]
    results["local_slopes_corrected_vs_N"] = {
        f"{int(a)}-{int(b)}": float(np.log(y / x) / np.log(b / a))
        for a, b, x, y in zip(sizes[:-1], sizes[1:], corrected[:-1], corrected[1:])}
    results["slopes"] = {
        "raw_vs_N": _slope(sizes, [results["versus_n"][str(int(n))]["raw"]["sup"]
                                   for n in sizes]),
        "corrected_vs_N": _slope(sizes, [results["versus_n"][str(int(n))]["corrected"]["sup"]
                                         for n in sizes]),
        "sgd_minus_flow_vs_eps": _slope(eps, [results["versus_eps"][f"{e:g}"]
                                              ["sgd_minus_flow"]["sup"] for e in eps]),
    }
    if "sgd_minus_flow_minus_step" in results["versus_eps"][f"{eps[0]:g}"]:
        results["slopes"]["sgd_minus_flow_minus_step_vs_eps"] = _slope(
            eps, [results["versus_eps"][f"{e:g}"]["sgd_minus_flow_minus_step"]["sup"]
                  for e in eps])
    for at in ("t1", "t5"):
        results["slopes"][f"sgd_minus_flow_vs_eps_{at}"] = _slope(
            eps, [abs(results["versus_eps"][f"{e:g}"]["sgd_minus_flow"][f"gap_{at}"])
                  for e in eps])
        results["slopes"][f"raw_vs_N_{at}"] = _slope(
            sizes, [abs(results["versus_n"][str(int(n))]["raw"][f"gap_{at}"]) for n in sizes])
    print("slopes:", results["slopes"])
    with atomic_path(OUT / "convergence.json") as tmp:
        Path(tmp).write_text(json.dumps(results, indent=2))
    _figure(results, sizes, eps)


def _figure(results, sizes, eps):
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for name, marker in (("raw", "o"), ("corrected", "s")):
        sup = [results["versus_n"][str(int(n))][name]["sup"] for n in sizes]
        err = [results["versus_n"][str(int(n))][name]["stderr_at_sup"] for n in sizes]
        left.errorbar(sizes, sup, yerr=err, marker=marker, linestyle="-",
                      label=f"{name} (slope {results['slopes'][name + '_vs_N']:.2f})")
    left.set(xscale="log", yscale="log", xlabel="N", title="gradient flow (ε → 0)",
             ylabel=r"sup$_{t \geq 0.5}$ |R$_N$ − R$_{pred}$|")
    left.legend(fontsize="small")
    for name, key, marker in (("SGD − flow", "sgd_minus_flow", "^"),
                              ("SGD − flow − εB", "sgd_minus_flow_minus_step", "v"),
                              ("raw", "raw", "o"), ("O(1/N)", "corrected", "s"),
                              ("O(1/N) + O(ε)", "corrected_step", "D")):
        if key not in results["versus_eps"][f"{eps[0]:g}"]:
            continue
        right.plot(eps, [results["versus_eps"][f"{e:g}"][key]["sup"] for e in eps],
                   marker=marker, label=name)
    right.set(xscale="log", yscale="log", xlabel="ε", title="SGD, N = 200",
              ylabel=r"sup$_{t \geq 0.5}$ |gap|")
    right.legend(fontsize="small",
                 title=f"SGD − flow slope {results['slopes']['sgd_minus_flow_vs_eps']:.2f}")
    fig.tight_layout()
    print("wrote", save_figure(fig, OUT / "convergence.png"))


if __name__ == "__main__":
    main()
