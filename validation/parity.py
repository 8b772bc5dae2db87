"""Sparse-parity MFLD (seed 000): sample complexity, objective per annealing round, and the
reduced particles against the full simulation.

    python validation/parity.py --out validation/results [--part all|samples|reduced|steps]
        [--dims 20,40] [--schedule D=ROUNDSxSTEPS ...] [--ns D=N1,N2,... ...]
        [--steps-grid S1,S2,...]

*samples*: the full particle MFLD (``reducedpde.models.parity.simulate_parity_mfld``) at
``d ∈ {20, 40, 80}`` (``--dims``) over a grid of training-set sizes ``n`` (``--ns``), each
``d`` at its own annealing schedule (``--schedule 40=6x4000``: 6 rounds of 4000 steps;
default 6 × 1000); for each ``d`` and schedule the final test error against ``n``, the
smallest ``n`` of the grid with test error below 5% and a log-linear interpolation of the
crossing, and power-law fits ``n_5% ∝ d^α`` (per schedule, and over the longest schedule
of each ``d``). Runs are stored per ``d`` and schedule and merged into the stored part, so
a schedule can be added without rerunning the others. The recorded entropy-free objective
``L + c∫‖x‖²`` per annealing round is plotted on a log scale as its excess over the round's
last value, with a fitted exponential rate per round (the largest ``n`` of the longest
schedule of each ``d``).

*reduced*: the reduced Langevin particles ``(u, r, x2, x3)`` (population dynamics,
Gaussian approximation of the irrelevant projection) against the full simulation at
``d ∈ {20, 50, 100}``: test error and loss at each round end; then the reduced particles
alone at ``d = 10^4``.

*steps*: the reduced particles at ``d ∈ {20, 40, 80}`` (``--dims``) with 1000, 2000 and
4000 steps per round (``--steps-grid``; rows are merged into the stored ones): how long
the population dynamics needs (time, separated from samples).

Affordable sizes (one core of a shared two-core machine): ``M = 100`` particles (the
scenario has 1000), 10^4 held-out test points, ``n`` grids of two or three values per
``d`` (factor 2 apart); the reduced comparison uses ``M = 200``, ``n = 1000`` and 6 rounds
of 500 steps. Writes ``parity_samples.png``, ``parity_rounds.png``, ``parity_reduced.png``
and ``parity_summary.json``.
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


def _schedule_key(d, rounds, round_steps, seeds=1, M=None) -> str:
    return (f"{d}@{rounds}x{round_steps}" + (f"/{seeds}seeds" if seeds > 1 else "")
            + (f"/M{M}" if M not in (None, COMMON["M"]) else ""))


def _legacy_runs(old: dict) -> dict:
    """Entries of a ``samples`` part written before the per-d schedule (one ``by_d`` at
    ``COMMON``), as ``runs`` entries."""
    runs = {}
    settings = old.get("settings", COMMON)
    for d, v in old.get("by_d", {}).items():
        key = _schedule_key(d, settings["rounds"], settings["round_steps"])
        runs[key] = {"d": int(d), "rounds": settings["rounds"],
                     "round_steps": settings["round_steps"], **v}
    return runs


def _alpha_fits(runs: dict) -> dict:
    """``n_5% ∝ d^α`` fitted per schedule (``rounds × round_steps``) over the d with a
    crossing, and over the longest schedule of each d (``"longest"``)."""
    def fit(points):
        if len(points) < 2:
            return None
        x, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
        return {"alpha": float(np.polyfit(x, y, 1)[0]),
                "points": [[int(a), float(b)] for a, b in points]}

    def n5(v):
        return v["n_below_5pct_interp"] or v["n_below_5pct_grid"]

    fits, by_schedule, longest = {}, {}, {}
    for v in runs.values():
        if not v["n_below_5pct_grid"] or v.get("M", COMMON["M"]) != COMMON["M"]:
            continue
        by_schedule.setdefault(f"{v['rounds']}x{v['round_steps']}", []).append((v["d"], n5(v)))
        total = v["rounds"] * v["round_steps"]
        if v["d"] not in longest or total > longest[v["d"]][0]:
            longest[v["d"]] = (total, n5(v))
    for sched, points in by_schedule.items():
        f = fit(sorted(points))
        if f:
            fits[sched] = f
    f = fit(sorted((d, n) for d, (_, n) in longest.items()))
    if f:
        fits["longest"] = f
    return fits


def _schedule_convergence(runs: dict) -> dict:
    """Per ``d``: ``n_5%`` of each schedule in order of total steps, and the relative
    change between the two longest schedules whose crossing lies inside their grid."""
    out = {}
    for v in sorted(runs.values(), key=lambda v: v["rounds"] * v["round_steps"]):
        if v.get("M", COMMON["M"]) != COMMON["M"]:
            continue
        n5 = v["n_below_5pct_interp"] or v["n_below_5pct_grid"]
        entry = out.setdefault(str(v["d"]), {"schedules": []})
        entry["schedules"].append({
            "schedule": f"{v['rounds']}x{v['round_steps']}", "seeds": v.get("seeds", 1),
            "n_5pct": n5,
            # below the grid's first point: only an upper bound
            "upper_bound_only": bool(n5) and v["n_below_5pct_interp"] is None})
    for entry in out.values():
        reached = [e["n_5pct"] for e in entry["schedules"]
                   if e["n_5pct"] and not e["upper_bound_only"]]
        entry["last_relative_change"] = (abs(reached[-1] - reached[-2]) / reached[-1]
                                         if len(reached) >= 2 else None)
    return out


def part_samples(out: Path, log=print, dims=None, schedules=None, grids=None,
                 previous=None, seeds=1, M=None) -> dict:
    """Full MFLD test error against ``n`` for each ``d`` of ``dims`` at its schedule
    (``schedules[d] = (rounds, round_steps)``, default ``COMMON``) and ``n`` grid
    (``grids[d]``, default ``SAMPLE_GRID``), averaged over ``seeds`` seeds (training set,
    particles and noise), with ``M`` particles (default ``COMMON``); merged into the
    ``runs`` of ``previous`` (the stored part), one entry per ``d``, schedule, number of
    seeds and ``M``."""
    dims = tuple(dims or SAMPLE_GRID)
    schedules, grids = schedules or {}, grids or {}
    previous = previous or {}
    runs = dict(previous.get("runs", {})) or _legacy_runs(previous)
    for d in dims:
        rounds, round_steps = schedules.get(d, (COMMON["rounds"], COMMON["round_steps"]))
        ns = tuple(grids.get(d, SAMPLE_GRID.get(d, ())))
        settings = {**COMMON, "rounds": rounds, "round_steps": round_steps,
                    "M": M or COMMON["M"]}
        rows = []
        for n in ns:
            start = time.perf_counter()
            per_seed = []
            for seed in range(seeds):
                res = simulate_parity_mfld({**settings, "d": d, "n": n, "seed": seed},
                                           progress=False)
                if res.attrs.get("interrupted"):  # a partial run must not enter the table
                    raise SystemExit(f"d={d} n={n} seed={seed}: interrupted, nothing stored")
                per_seed.append(round_end_summary(res))
            errors = np.array([[e["test_error"] for e in ends] for ends in per_seed])
            rows.append({"n": n, "test_error_per_round": errors.mean(axis=0).tolist(),
                         "train_error_final": float(np.mean([ends[-1]["train_error"]
                                                             for ends in per_seed])),
                         "objective_rounds": _round_rates(res),
                         "wall_s": time.perf_counter() - start})
            if seeds > 1:
                rows[-1]["test_error_final_per_seed"] = errors[:, -1].tolist()
                rows[-1]["test_error_final_se"] = float(errors[:, -1].std(ddof=1)
                                                        / math.sqrt(seeds))
            log(f"d={d} {rounds}x{round_steps} n={n} ({seeds} seed(s)): test error per "
                f"round {[round(e, 3) for e in rows[-1]['test_error_per_round']]} "
                f"({rows[-1]['wall_s']:.0f} s)")
        finals = [row["test_error_per_round"][-1] for row in rows]
        n_grid, n_interp = _crossing(ns, finals)
        runs[_schedule_key(d, rounds, round_steps, seeds, M)] = {
            "d": d, "rounds": rounds, "round_steps": round_steps, "seeds": seeds,
            "M": settings["M"],
            "rows": rows, "n_below_5pct_grid": n_grid, "n_below_5pct_interp": n_interp}
    runs = dict(sorted(runs.items(), key=lambda kv: (kv[1]["d"], kv[1]["rounds"]
                                                     * kv[1]["round_steps"])))
    summary = {"settings": {k: v for k, v in COMMON.items()
                            if k not in ("rounds", "round_steps")},
               "threshold": THRESHOLD, "runs": runs, "alpha_fit": _alpha_fits(runs),
               "schedule_convergence": _schedule_convergence(runs)}
    _plot_samples(summary, out)
    return summary


def _plot_samples(summary, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {k: v for k, v in summary["runs"].items() if v.get("M", COMMON["M"]) == COMMON["M"]}
    dims = sorted({v["d"] for v in runs.values()})
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    for d in dims:
        mine = [v for v in runs.values() if v["d"] == d]
        longest = max(w["rounds"] * w["round_steps"] for w in mine)
        # the longest schedule with the most seeds, solid; the 7-round ones before it dotted
        best = max((v for v in mine if v["rounds"] * v["round_steps"] == longest),
                   key=lambda v: v.get("seeds", 1))
        color = f"C{dims.index(d)}"
        for v in mine:
            if v["rounds"] != 7 and v is not best:
                continue
            ns = [row["n"] for row in v["rows"]]
            err = [max(row["test_error_per_round"][-1], 1e-4) for row in v["rows"]]
            n5 = v["n_below_5pct_interp"] or v["n_below_5pct_grid"]
            if v is best:
                ax.loglog(ns, err, "o-", color=color, lw=1.8,
                          label=f"d = {d}, {v['rounds']} × {v['round_steps']}, "
                          f"{v.get('seeds', 1)} seed(s), n_5% ≈ {n5:.0f}")
            else:
                ax.loglog(ns, err, ":", color=color, alpha=0.45, lw=1)
        sched = sorted((v["round_steps"], v["n_below_5pct_interp"] or v["n_below_5pct_grid"],
                        v["n_below_5pct_interp"] is None) for v in mine
                       if v["rounds"] == 7 and v["n_below_5pct_grid"])
        ax2.loglog([x[0] for x in sched], [x[1] for x in sched], "o-", color=color,
                   label=f"d = {d}")
        for steps, n5, bound in sched:
            if bound:
                ax2.annotate("≤", (steps, n5), textcoords="offset points", xytext=(4, 4),
                             color=color)
    ax.axhline(THRESHOLD, color="0.5", ls="--", label="5%")
    ax.set_xlabel("training samples n")
    ax.set_ylabel("final test error (10⁴ held-out points; 0 drawn at 10⁻⁴)")
    ax.set_title(f"sparse parity (k = 2), MFLD, M = {summary['settings']['M']} "
                 "(dotted: shorter 7-round schedules)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    ax2.set_xlabel("steps per round (7 rounds, λ0 halved each round)")
    ax2.set_ylabel("n_5%")
    ax2.set_title("n at which the test error falls below 5%", fontsize=9)
    ax2.legend(fontsize=8)
    ax2.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    with atomic_path(out / "parity_samples.png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)

    # objective per round: the largest n of the longest schedule of each d
    chosen = {}
    for v in runs.values():
        if v["rows"] and (v["d"] not in chosen or v["rounds"] * v["round_steps"]
                          > chosen[v["d"]]["rounds"] * chosen[v["d"]]["round_steps"]):
            chosen[v["d"]] = v
    fig, axes = plt.subplots(1, len(chosen), figsize=(4 * len(chosen), 3.8), sharey=True)
    for ax, (d, v) in zip(np.atleast_1d(axes), sorted(chosen.items()), strict=True):
        row = v["rows"][-1]
        for rr in row["objective_rounds"]:
            tau = np.asarray(rr["tau"]) - rr["tau"][0]
            exc = np.asarray(rr["excess"])
            keep = exc > 0
            rate = rr["rate_per_tau"]
            ax.semilogy(tau[keep], exc[keep], "o-", ms=2,
                        label=f"round {rr['round']}"
                        + (f", rate {rate:.3g}" if rate is not None else ""))
        ax.set_title(f"d = {d}, n = {row['n']}, {v['rounds']} × {v['round_steps']}")
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


def part_steps(out: Path, log=print, dims=None, grid=None, previous=None) -> dict:
    """Reduced particles (population dynamics, ``n = ∞``) at ``d ∈ {20, 40, 80}`` with
    ``round_steps ∈ {1000, 2000, 4000}`` (or ``dims``, ``grid``): the steps per round the
    population dynamics needs before the test error falls below 5% (the time scale,
    separated from the samples). New rows are merged into ``previous`` (the stored part)."""
    dims, grid = tuple(dims or STEPS_DIMS), tuple(grid or STEPS_GRID)
    previous = previous or {}
    summary = {"settings": STEPS_COMMON, "by_d": dict(previous.get("by_d", {}))}
    for d in dims:
        old = summary["by_d"].get(str(d), {}).get("rows", [])
        rows = {row["round_steps"]: row for row in old}
        for steps in grid:
            start = time.perf_counter()
            red = simulate_reduced_parity({**STEPS_COMMON, "d": d, "round_steps": steps},
                                          progress=False)
            ks = list(np.asarray(red.extra["steps"]))
            ends = [k for k in ks if k and k % steps == 0]
            rows[steps] = {"round_steps": steps,
                           "test_error_per_round": [float(red.extra["test_error"][ks.index(k)])
                                                    for k in ends],
                           "loss_per_round": [float(red.extra["train_loss"][ks.index(k)])
                                              for k in ends],
                           "wall_s": time.perf_counter() - start}
            log(f"reduced d={d} round_steps={steps}: test error per round "
                f"{[round(e, 3) for e in rows[steps]['test_error_per_round']]}")
        rows = [rows[k] for k in sorted(rows)]
        finals = [row["test_error_per_round"][-1] for row in rows]
        crossing_grid, interp = _crossing([row["round_steps"] for row in rows], finals)
        summary["by_d"][str(d)] = {"rows": rows,
                                   "round_steps_below_5pct_grid": crossing_grid,
                                   "round_steps_below_5pct_interp": interp}
    return summary


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v) for v in text.split(",") if v)


def _per_d(values, parse) -> dict:
    """``["40=6x4000", ...]`` → ``{40: parse("6x4000"), ...}``."""
    out = {}
    for item in values or ():
        d, _, rest = item.partition("=")
        if not rest:
            raise SystemExit(f"expected D=VALUE, got {item!r}")
        out[int(d)] = parse(rest)
    return out


def _schedule(text: str) -> tuple[int, int]:
    rounds, _, steps = text.partition("x")
    if not steps:
        raise SystemExit(f"expected ROUNDSxSTEPS, got {text!r}")
    return int(rounds), int(steps)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("validation/results"))
    parser.add_argument("--part", choices=("all", "samples", "reduced", "steps"),
                        default="all")
    parser.add_argument("--dims", type=_ints, default=None,
                        help="d values of the samples/steps parts, e.g. 20,40 "
                             "(default: 20,40,80)")
    parser.add_argument("--schedule", action="append", metavar="D=ROUNDSxSTEPS",
                        help="annealing schedule of the samples part at d, e.g. "
                             "40=6x4000 (repeatable; default 6x1000)")
    parser.add_argument("--ns", action="append", metavar="D=N1,N2,...",
                        help="n grid of the samples part at d, e.g. 40=1000,2000,4000 "
                             "(repeatable; default SAMPLE_GRID)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="seeds per n of the samples part (test errors averaged)")
    parser.add_argument("--particles", type=int, default=None, metavar="M",
                        help=f"particles of the samples part (default {COMMON['M']})")
    parser.add_argument("--steps-grid", type=_ints, default=None,
                        help="steps per round of the steps part, e.g. 8000,16000 "
                             "(default 1000,2000,4000); rows are merged into the stored ones")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "parity_summary.json"
    doc = json.loads(path.read_text()) if path.exists() else {}
    if args.part in ("all", "reduced"):
        doc["reduced"] = part_reduced(args.out)
    if args.part in ("all", "samples"):
        doc["samples"] = part_samples(args.out, dims=args.dims,
                                      schedules=_per_d(args.schedule, _schedule),
                                      grids=_per_d(args.ns, _ints),
                                      previous=doc.get("samples"), seeds=args.seeds,
                                      M=args.particles)
    if args.part in ("all", "steps"):
        doc["steps"] = part_steps(args.out, dims=args.dims, grid=args.steps_grid,
                                  previous=doc.get("steps"))
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(doc, indent=2))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
