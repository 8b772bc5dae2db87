"""Sparse-parity MFLD (seed 000): sample complexity, objective per annealing round, and the
reduced particles against the full simulation.

    python validation/parity.py --out validation/results [--part all|samples|reduced|steps]

*samples*: the full particle MFLD (``reducedpde.models.parity.simulate_parity_mfld``) at
``d ∈ {20, 40, 80}`` over a grid of training-set sizes ``n``; for each ``d`` the final
test error against ``n``, the smallest ``n`` of the grid with test error below 5% and a
log-linear interpolation of the crossing, and a power-law fit ``n_5% ∝ d^α``. The
recorded entropy-free objective ``L + c∫‖x‖²`` per annealing round is plotted on a log
scale as its excess over the round's last value, with a fitted exponential rate per round.

*reduced*: the reduced Langevin particles ``(u, r, x2, x3)`` (population dynamics,
Gaussian approximation of the irrelevant projection) against the full simulation at
``d ∈ {20, 50, 100}``: test error and loss at each round end; then the reduced particles
alone at ``d = 10^4``.

*steps*: the reduced particles at ``d ∈ {20, 40, 80}`` with 1000, 2000 and 4000 steps per
round: how long the population dynamics needs (time, separated from samples).

Affordable sizes (one core of a shared two-core machine): ``M = 100`` particles (the
scenario has 1000), 6 rounds of 1000 steps, 10^4 held-out test points, ``n`` grids of
two or three values per ``d`` (factor 2 apart); the reduced comparison uses ``M = 200``,
``n = 1000`` and 6 rounds of 500 steps. Writes ``parity_samples.png``,
``parity_rounds.png``, ``parity_reduced.png`` and ``parity_summary.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from reducedpde.atomic import atomic_path
from reducedpde.models.parity import round_end_summary, simulate_parity_mfld
from reducedpde.models.parity.reduced import simulate_reduced_parity

SAMPLE_GRID = {20: (250, 500, 1000), 40: (500, 1000, 2000), 80: (1000, 2000)}
COMMON = {"M": 100, "rounds": 6, "round_steps": 1000, "record_every": 100}
REDUCED_DIMS = (20, 50, 100)
REDUCED_COMMON = {"M": 200, "n": 1000, "rounds": 6, "round_steps": 500, "record_every": 500}
THRESHOLD = 0.05


def _crossing(ns, errors, level=THRESHOLD):
    """Smallest grid ``n`` with error < level, and the log-linear crossing below it."""
    ns, errors = list(ns), list(errors)
    for i, (n, e) in enumerate(zip(ns, errors, strict=True)):
        if e < level:
            if i == 0:
                return n, None
            n0, e0 = ns[i - 1], errors[i - 1]
            # interpolate log n linearly in the error between the two grid points
            w = (e0 - level) / (e0 - e)
            return n, float(math.exp(math.log(n0) + w * (math.log(n) - math.log(n0))))
    return None, None


def _round_rates(res):
    """Excess ``objective − objective(round end)`` within each round and its fitted rate
    (per unit of seed-000 time τ = kη), from the recordings strictly inside the round."""
    steps = np.asarray(res.extra["steps"])
    obj = np.asarray(res.extra["objective"][0])
    tau = np.asarray(res.extra["tau"])
    rs = int(res.attrs["round_steps"])
    rows = []
    for r in range(int(res.attrs["rounds"])):
        inside = (steps > r * rs) & (steps <= (r + 1) * rs)
        end = obj[inside][-1]
        excess = obj[inside][:-1] - end
        t = tau[inside][:-1]
        good = excess > 0
        rate = (float(-np.polyfit(t[good], np.log(excess[good]), 1)[0])
                if good.sum() >= 3 else None)
        rows.append({"round": r, "temperature": float(res.extra["temperature"][0][inside][-1]),
                     "objective_end": float(end), "rate_per_tau": rate,
                     "tau": t.tolist(), "excess": excess.tolist()})
    return rows


def part_samples(out: Path, log=print) -> dict:
    summary = {"settings": COMMON, "threshold": THRESHOLD, "by_d": {}}
    for d, ns in SAMPLE_GRID.items():
        rows = []
        for n in ns:
            start = time.perf_counter()
            res = simulate_parity_mfld({**COMMON, "d": d, "n": n}, progress=False)
            ends = round_end_summary(res)
            rows.append({"n": n, "test_error_per_round": [e["test_error"] for e in ends],
                         "train_error_final": ends[-1]["train_error"],
                         "objective_rounds": _round_rates(res),
                         "wall_s": time.perf_counter() - start})
            log(f"d={d} n={n}: test error per round "
                f"{[round(e, 3) for e in rows[-1]['test_error_per_round']]} "
                f"({rows[-1]['wall_s']:.0f} s)")
        finals = [row["test_error_per_round"][-1] for row in rows]
        n_grid, n_interp = _crossing(ns, finals)
        summary["by_d"][str(d)] = {"rows": rows, "n_below_5pct_grid": n_grid,
                                   "n_below_5pct_interp": n_interp}
    found = [(int(d), v["n_below_5pct_interp"] or v["n_below_5pct_grid"])
             for d, v in summary["by_d"].items() if v["n_below_5pct_grid"]]
    if len(found) >= 2:
        x, y = np.log([f[0] for f in found]), np.log([f[1] for f in found])
        summary["alpha_fit"] = float(np.polyfit(x, y, 1)[0])
    _plot_samples(summary, out)
    return summary


def _plot_samples(summary, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for d, v in summary["by_d"].items():
        ns = [row["n"] for row in v["rows"]]
        ax.semilogx(ns, [row["test_error_per_round"][-1] for row in v["rows"]], "o-",
                    label=f"d = {d}")
    ax.axhline(THRESHOLD, color="0.5", ls=":", label="5%")
    ax.set_xlabel("training samples n")
    ax.set_ylabel("test error after 6 rounds")
    ax.set_title(f"sparse parity (k = 2), MFLD, M = {COMMON['M']}")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_path(out / "parity_samples.png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)

    fig, axes = plt.subplots(1, len(summary["by_d"]), figsize=(12, 3.8), sharey=True)
    for ax, (d, v) in zip(np.atleast_1d(axes), summary["by_d"].items(), strict=True):
        row = v["rows"][-1]
        for rr in row["objective_rounds"]:
            tau = np.asarray(rr["tau"]) - rr["tau"][0]
            exc = np.asarray(rr["excess"])
            keep = exc > 0
            rate = rr["rate_per_tau"]
            ax.semilogy(tau[keep], exc[keep], "o-", ms=3,
                        label=f"round {rr['round']}"
                        + (f", rate {rate:.3g}" if rate is not None else ""))
        ax.set_title(f"d = {d}, n = {row['n']}")
        ax.set_xlabel("τ − τ(round start + 1 recording)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    np.atleast_1d(axes)[0].set_ylabel("objective − objective(round end)")
    fig.tight_layout()
    with atomic_path(out / "parity_rounds.png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def part_reduced(out: Path, log=print) -> dict:
    summary = {"settings": REDUCED_COMMON, "by_d": {}}
    for d in REDUCED_DIMS:
        params = {**REDUCED_COMMON, "d": d}
        start = time.perf_counter()
        full = simulate_parity_mfld(params, progress=False)
        full_s = time.perf_counter() - start
        start = time.perf_counter()
        red = simulate_reduced_parity(params, progress=False)
        red_s = time.perf_counter() - start
        ends = round_end_summary(full)
        steps = list(np.asarray(red.extra["steps"]))
        idx = [steps.index(e["step"]) for e in ends]
        rows = []
        for e, i in zip(ends, idx, strict=True):
            rows.append({
                "round": e["round"],
                "full_test_error": e["test_error"],
                "full_train_loss": e["train_loss"],
                "full_test_loss": float(full.extra["test_loss"][0][steps.index(e["step"])]),
                "reduced_test_error": float(red.extra["test_error"][i]),
                "reduced_population_error": float(red.extra["population_error"][i]),
                "reduced_loss": float(red.extra["train_loss"][i]),
                "reduced_test_loss": float(red.extra["test_loss"][i]),
                "full_relevant_norm": e["relevant_norm"],
                "reduced_relevant_norm": float(red.extra["relevant_norm"][i]),
                "full_irrelevant_norm": e["irrelevant_norm"],
                "reduced_irrelevant_norm": float(red.extra["irrelevant_norm"][i]),
            })
        summary["by_d"][str(d)] = {"rounds": rows, "full_wall_s": full_s,
                                   "reduced_wall_s": red_s}
        log(f"d={d}: full {full_s:.0f} s, reduced {red_s:.1f} s; test error full/reduced "
            + ", ".join(f"{r['full_test_error']:.3f}/{r['reduced_test_error']:.3f}"
                        for r in rows)
            + "; loss (train, population) "
            + ", ".join(f"{r['full_train_loss']:.3f}/{r['reduced_loss']:.3f}" for r in rows))
    big = {"d": 10_000, "M": 1000, "rounds": 6, "round_steps": 1000, "record_every": 1000}
    start = time.perf_counter()
    red = simulate_reduced_parity(big, progress=False)
    steps = list(np.asarray(red.extra["steps"]))
    ends = [k for k in steps if k and k % big["round_steps"] == 0]
    summary["d1e4"] = {
        "settings": big, "wall_s": time.perf_counter() - start,
        "test_error_per_round": [float(red.extra["test_error"][steps.index(k)])
                                 for k in ends],
        "population_error_per_round": [float(red.extra["population_error"][steps.index(k)])
                                       for k in ends],
        "loss_per_round": [float(red.extra["train_loss"][steps.index(k)]) for k in ends],
        "relevant_norm_per_round": [float(red.extra["relevant_norm"][steps.index(k)])
                                    for k in ends],
    }
    log(f"d=1e4 reduced ({summary['d1e4']['wall_s']:.0f} s): test error per round "
        f"{[round(e, 3) for e in summary['d1e4']['test_error_per_round']]}")
    _plot_reduced(summary, out)
    return summary


def _plot_reduced(summary, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for j, (d, v) in enumerate(summary["by_d"].items()):
        rounds = [r["round"] for r in v["rounds"]]
        color = f"C{j}"
        axes[0].plot(rounds, [r["full_test_error"] for r in v["rounds"]], "o-", color=color,
                     label=f"full, d = {d}")
        axes[0].plot(rounds, [r["reduced_test_error"] for r in v["rounds"]], "s--",
                     color=color, label=f"reduced, d = {d}")
        axes[1].plot(rounds, [r["full_train_loss"] for r in v["rounds"]], "o-", color=color,
                     label=f"full train loss, d = {d}")
        axes[1].plot(rounds, [r["reduced_loss"] for r in v["rounds"]], "s--", color=color,
                     label=f"reduced population loss, d = {d}")
    big = summary["d1e4"]
    rounds = list(range(len(big["test_error_per_round"])))
    axes[0].plot(rounds, big["test_error_per_round"], "k^:", label="reduced, d = 1e4")
    axes[1].plot(rounds, big["loss_per_round"], "k^:", label="reduced, d = 1e4")
    axes[0].set_ylabel("test error at round end")
    axes[1].set_ylabel("logistic loss at round end")
    for ax in axes:
        ax.set_xlabel("annealing round")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    with atomic_path(out / "parity_reduced.png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


STEPS_DIMS = (20, 40, 80)
STEPS_GRID = (1000, 2000, 4000)
STEPS_COMMON = {"M": 200, "rounds": 6, "record_every": 1000}


def part_steps(out: Path, log=print) -> dict:
    """Reduced particles (population dynamics, ``n = ∞``) at ``d ∈ {20, 40, 80}`` with
    ``round_steps ∈ {1000, 2000, 4000}``: the steps per round the population dynamics needs
    before the test error falls below 5% (the time scale, separated from the samples)."""
    summary = {"settings": STEPS_COMMON, "by_d": {}}
    for d in STEPS_DIMS:
        rows = []
        for steps in STEPS_GRID:
            start = time.perf_counter()
            red = simulate_reduced_parity({**STEPS_COMMON, "d": d, "round_steps": steps},
                                          progress=False)
            ks = list(np.asarray(red.extra["steps"]))
            ends = [k for k in ks if k and k % steps == 0]
            rows.append({"round_steps": steps,
                         "test_error_per_round": [float(red.extra["test_error"][ks.index(k)])
                                                  for k in ends],
                         "loss_per_round": [float(red.extra["train_loss"][ks.index(k)])
                                            for k in ends],
                         "wall_s": time.perf_counter() - start})
            log(f"reduced d={d} round_steps={steps}: test error per round "
                f"{[round(e, 3) for e in rows[-1]['test_error_per_round']]}")
        finals = [row["test_error_per_round"][-1] for row in rows]
        grid, interp = _crossing(STEPS_GRID, finals)
        summary["by_d"][str(d)] = {"rows": rows, "round_steps_below_5pct_grid": grid,
                                   "round_steps_below_5pct_interp": interp}
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("validation/results"))
    parser.add_argument("--part", choices=("all", "samples", "reduced", "steps"),
                        default="all")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "parity_summary.json"
    doc = json.loads(path.read_text()) if path.exists() else {}
    if args.part in ("all", "reduced"):
        doc["reduced"] = part_reduced(args.out)
    if args.part in ("all", "samples"):
        doc["samples"] = part_samples(args.out)
    if args.part in ("all", "steps"):
        doc["steps"] = part_steps(args.out)
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(doc, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
