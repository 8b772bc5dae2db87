"""The late-time staircase gap between SGD and the reduced PDE: which variable drives it.

ABM22 staircase (``staircase`` scenario: hypercube, h* = z1 + z1z2 + z1z2z3 + z1z2z3z4,
shifted sigmoid, ξ_a/ξ_w = 10, degenerate start a ~ U[−1, 1], s = 0, r = 1). SGD leaves
the last plateau earlier than the PDE (R(40) ≈ 0.17 against 0.34 at d = N = 100,
ε = 10⁻³, batch 10). This script

1. establishes the PDE reference: Gauss–Legendre atoms in ``a`` (the scenario's rule,
   ``atoms_a`` = 32 … 256) and equal-weight midpoint atoms ``a_i = −1 + (2i + 1)/M``, the
   rule SGD's own initial second layer follows (``M = N``: the ``d → ∞``, ``ε → 0`` limit
   of the very neurons SGD starts from);
2. runs SGD (t ≤ 40) varying one thing at a time around d = N = 100, ε = 10⁻³, b = 10:
   ``d`` at fixed ``N``, ``N`` at fixed ``d``, ``N = d`` jointly, the step ``ε`` and the
   batch ``b`` (the mini-batch noise is ``∝ ε/b``);
3. tabulates the seed mean ± standard error of R at t = 30, 35, 40 and the gap
   ``R_PDE − R_SGD`` against the converged PDE, fits ``gap ∝ x^slope`` on log-log axes in
   each scanned variable and draws ``results/staircase_gap.png``.

Usage::

    python validation/staircase_gap.py [--out validation/results] [--only LABEL ...]
                                       [--force] [--plot-only]

Runs already in ``results/staircase_gap.json`` are reused unless ``--force``; ``--only``
restricts the runs to the given labels (``pde:gl64``, ``sgd:d400`` …, see ``PDE_RUNS``,
``SGD_RUNS``). The whole study takes about 16 min (shared two-core machine).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from reducedpde import models, scenarios
from reducedpde.models.multiindex import runs
from reducedpde.solvers.lagrangian.multiindex import solve_multiindex_particles

#: recording times (t ≤ 40 is all the comparison needs)
TIMES = np.array([0.0, 2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 27.5, 30.0, 32.5, 35.0, 37.5, 40.0])
PROBE = (30.0, 35.0, 40.0)
#: risk level whose first crossing times the escape from the last plateau (R ≈ 0.57 → 0.33)
LEVEL = 0.5
#: the fixed Gauss–Legendre rule and the 400-node smoothing of the recorded results
BASE = {"t_max": 40.0, "n_snapshots": 2, "a_rule": "gauss-legendre", "smoothing_nodes": 0}

#: PDE runs: label -> (rule, atoms[, δ]); δ > 0 starts the atoms at s_0 = δ g, g ~ N(0, I_k)
#: (fixed draw) instead of s_0 = 0: how the PDE's own escape time responds to a seed
PDE_RUNS = {
    "gl64_s1e-3": ("gauss-legendre", 64, 1e-3),
    "gl64_s1e-2": ("gauss-legendre", 64, 1e-2),
    "gl32": ("gauss-legendre", 32),
    "gl64": ("gauss-legendre", 64),
    "gl128": ("gauss-legendre", 128),
    "gl256": ("gauss-legendre", 256),
    "mid100": ("midpoint", 100),
}
#: the converged reference (see the README section)
PDE_REFERENCE = "gl256"

#: SGD runs: label -> (overrides of the scenario, seeds)
SGD_RUNS = {
    "base": ({}, 6),                                   # d = N = 100, ε = 1e-3, b = 10
    "d50": ({"d": 50}, 4),
    "d200": ({"d": 200}, 4),
    "d400": ({"d": 400}, 4),
    "N400": ({"N": 400}, 4),
    "N1600": ({"N": 1600}, 2),
    "Nd50": ({"N": 50, "d": 50}, 4),
    "Nd200": ({"N": 200, "d": 200}, 4),
    "Nd400": ({"N": 400, "d": 400}, 2),
    "eps5e-4": ({"eps": 5e-4}, 4),
    "eps2.5e-4": ({"eps": 2.5e-4}, 3),
    "eps1.25e-4": ({"eps": 1.25e-4}, 3),
    "b40": ({"batch": 40}, 4),
    "d50_eps2e-3": ({"d": 50, "eps": 2e-3}, 4),        # εd = 0.1 as at d = 100
    "d400_eps2.5e-4": ({"d": 400, "eps": 2.5e-4}, 3),  # εd = 0.1 as at d = 100
}

#: scans: name -> (variable, [(value, label)])
SCANS = {
    "d (N = 100)": ("d", [(50, "d50"), (100, "base"), (200, "d200"), (400, "d400")]),
    "N (d = 100)": ("N", [(100, "base"), (400, "N400"), (1600, "N1600")]),
    "N = d": ("N", [(50, "Nd50"), (100, "base"), (200, "Nd200"), (400, "Nd400")]),
    "ε (d = N = 100)": ("eps", [(1.25e-4, "eps1.25e-4"), (2.5e-4, "eps2.5e-4"),
                                (5e-4, "eps5e-4"), (1e-3, "base")]),
    "d (εd = 0.1, N = 100)": ("d", [(50, "d50_eps2e-3"), (100, "base"),
                                    (400, "d400_eps2.5e-4")]),
    "ε/b (d = N = 100, ε = 1e-3)": ("eps/b", [(2.5e-5, "b40"), (1e-4, "base")]),
}


def pde_run(label: str) -> dict:
    """Risk of the Lagrangian PDE on ``PDE_RUNS[label]``'s atoms at ``TIMES``."""
    rule, m, *rest = PDE_RUNS[label]
    delta = rest[0] if rest else 0.0
    cfg = scenarios.resolve("staircase", dict(BASE, atoms_a=m))
    model = runs.build_model(cfg)
    if rule == "gauss-legendre":
        a, s, r, p = runs.initial_atoms(cfg)
    else:
        a = -1.0 + (2.0 * np.arange(m) + 1.0) / m
        s, r, p = np.zeros((m, cfg["k"])), np.full(m, cfg["r_init"]), np.full(m, 1.0 / m)
    if delta > 0:
        s = s + delta * np.random.default_rng(0).standard_normal(s.shape)
    start = time.perf_counter()
    sol = solve_multiindex_particles(model, a, s, r, p, TIMES, method=cfg["method"],
                                     rtol=cfg["rtol"], atol=1e-3 * cfg["rtol"])
    return {"rule": rule, "atoms": m, "s0_scale": delta, "risk": sol.risk.tolist(),
            "mean_r": sol.mean_r.tolist(),
            "wall_time_s": time.perf_counter() - start}


def sgd_run(label: str) -> dict:
    """Test-set risk of SGD with ``SGD_RUNS[label]`` at ``TIMES``, one row per seed."""
    overrides, seeds = SGD_RUNS[label]
    cfg = scenarios.resolve("staircase", dict(BASE, **overrides, seeds=seeds))
    model = models.build_model(cfg)
    start = time.perf_counter()
    sgd = model.run_particles(TIMES, np.array([0.0, TIMES[-1]]), progress=False)
    return {"params": {key: cfg[key] for key in ("d", "N", "eps", "batch", "n_test")},
            "seeds": seeds, "t": sgd.t.tolist(), "risk": sgd.risk.tolist(),
            "mean_r": sgd.extra["mean_r"].tolist(),
            "test_stderr": sgd.extra["risk_stderr"].tolist()
            if "risk_stderr" in sgd.extra else None,
            "wall_time_s": time.perf_counter() - start}


def at(t, values, probe=PROBE):
    return np.array([np.interp(tp, t, values) for tp in probe])


def sgd_stats(run: dict):
    """Seed mean and standard error of R at ``PROBE``."""
    rows = np.array([at(run["t"], r) for r in run["risk"]])
    n = rows.shape[0]
    se = rows.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(len(PROBE), np.nan)
    return rows.mean(axis=0), se


def crossing_time(t, values, level=LEVEL):
    """First time ``values`` falls to ``level`` (linear interpolation), or nan."""
    t, values = np.asarray(t, float), np.asarray(values, float)
    below = np.nonzero(values <= level)[0]
    if below.size == 0 or below[0] == 0:
        return float("nan")
    k = int(below[0])
    return float(t[k - 1] + (level - values[k - 1]) * (t[k] - t[k - 1])
                 / (values[k] - values[k - 1]))


def fit_slope(x, y):
    """Least-squares slope and prefactor of ``log y = log c + slope log x`` (y > 0)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = y > 0
    if ok.sum() < 2:
        return None, None
    slope, logc = np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)
    return float(slope), float(np.exp(logc))


def analyse(data: dict) -> dict:
    ref = at(TIMES, data["pde"][PDE_REFERENCE]["risk"])
    table, scans = {}, {}
    for label, run in data["sgd"].items():
        mean, se = sgd_stats(run)
        cross = np.array([crossing_time(run["t"], r) for r in run["risk"]])
        table[label] = {"params": run["params"], "seeds": run["seeds"],
                        "R_mean": mean.tolist(), "R_se": se.tolist(),
                        "gap": (ref - mean).tolist(),
                        "t_cross_mean": float(cross.mean()),
                        "t_cross_se": float(cross.std(ddof=1) / np.sqrt(cross.size))
                        if cross.size > 1 else None}
    for name, (var, points) in SCANS.items():
        pts = [(v, lab) for v, lab in points if lab in table]
        fits = {}
        for j, tp in enumerate(PROBE):
            x = [v for v, _ in pts]
            y = [table[lab]["gap"][j] for _, lab in pts]
            slope, c = fit_slope(x, y)
            fits[f"{tp:g}"] = {"slope": slope, "prefactor": c}
        scans[name] = {"variable": var, "points": [[v, lab] for v, lab in pts], "fits": fits}
    # every run against a noise variable: ε/b (mini-batch noise per coordinate, the same
    # in the k target directions at every d) or ε d/b (its total over the d − k
    # orthogonal directions, which pushes r up like a Bessel drift)
    t_ref = crossing_time(TIMES, data["pde"][PDE_REFERENCE]["risk"])
    for row in table.values():
        row["delay"] = t_ref - row["t_cross_mean"]
    collapse = {}
    for var, scale in (("eps/b", lambda q: q["eps"] / q["batch"]),
                       ("eps*d/b", lambda q: q["eps"] * q["d"] / q["batch"])):
        noise = {lab: scale(row["params"]) for lab, row in table.items()}
        entry = {"variable": var, "points": [[noise[lab], lab] for lab in table],
                 "fits": {}}
        for j, tp in enumerate(PROBE):
            xs = np.log([noise[lab] for lab in table])
            ys = np.log(np.maximum([table[lab]["gap"][j] for lab in table], 1e-12))
            slope, logc = np.polyfit(xs, ys, 1)
            entry["fits"][f"{tp:g}"] = {
                "slope": float(slope), "prefactor": float(np.exp(logc)),
                "rms_log_residual": float(np.sqrt(np.mean((ys - logc - slope * xs) ** 2)))}
        # the escape from the plateau is advanced by a time linear in log(noise):
        # delay = t_cross(PDE) − t_cross(SGD) = A + B log(noise)
        xs = np.log([noise[lab] for lab in table])
        ys = np.array([table[lab]["delay"] for lab in table])
        slope_b, intercept_a = np.polyfit(xs, ys, 1)
        entry["delay_fit"] = {
            "level": LEVEL, "t_cross_pde": t_ref, "A": float(intercept_a),
            "B": float(slope_b),
            "rms_residual": float(np.sqrt(np.mean((ys - intercept_a - slope_b * xs) ** 2))),
            "noise_at_zero_delay": float(np.exp(-intercept_a / slope_b))}
        collapse[var] = entry
    pde = {label: at(TIMES, run["risk"]).tolist() for label, run in data["pde"].items()}
    return {"probe_times": list(PROBE), "pde_reference": PDE_REFERENCE,
            "pde_at_probe": pde, "sgd": table, "scans": scans, "collapse": collapse}


def figure(data: dict, summary: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scans = dict(summary["scans"], **{"all runs": summary["collapse"]["eps/b"]})
    panels = [name for name in scans if len(scans[name]["points"]) >= 2]
    ncol = 3
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.6 * nrow), squeeze=False)
    colours = dict(zip(PROBE, ("C0", "C1", "C2")))
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax, name in zip(axes.ravel(), panels):
        scan = scans[name]
        x = np.array([v for v, _ in scan["points"]], float)
        for j, tp in enumerate(PROBE):
            gap = np.array([summary["sgd"][lab]["gap"][j] for _, lab in scan["points"]])
            se = np.array([summary["sgd"][lab]["R_se"][j] for _, lab in scan["points"]])
            fit = scan["fits"][f"{tp:g}"]
            label = f"t = {tp:g}"
            if fit["slope"] is not None:
                label += f", slope {fit['slope']:+.2f}"
                xs = np.geomspace(x.min(), x.max(), 20)
                ax.plot(xs, fit["prefactor"] * xs ** fit["slope"], "--", color=colours[tp],
                        lw=1)
            ok = gap > 0
            ax.errorbar(x[ok], gap[ok], yerr=se[ok], fmt="o", color=colours[tp],
                        label=label, capsize=2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(scan["variable"])
        ax.set_title(f"gap vs {name}", fontsize=9)
        ax.legend(fontsize=7)
    if len(panels) < axes.size:
        ax = axes.ravel()[len(panels)]
        ax.set_visible(True)
        fit = summary["collapse"]["eps/b"]["delay_fit"]
        x = np.array([v for v, _ in summary["collapse"]["eps/b"]["points"]])
        y = np.array([summary["sgd"][lab]["delay"] for _, lab in
                      summary["collapse"]["eps/b"]["points"]])
        se = np.array([summary["sgd"][lab]["t_cross_se"] or 0.0 for _, lab in
                       summary["collapse"]["eps/b"]["points"]])
        ax.errorbar(x, y, yerr=se, fmt="o", color="k", capsize=2, label="SGD runs")
        xs = np.geomspace(x.min(), x.max(), 20)
        ax.plot(xs, fit["A"] + fit["B"] * np.log(xs), "--", color="k", lw=1,
                label=f"{fit['A']:.1f} + {fit['B']:.2f} ln(ε/b)")
        ax.set_xscale("log")
        ax.set_xlabel("eps/b")
        ax.set_ylabel(f"t_PDE − t_SGD at R = {fit['level']:g}")
        ax.set_title("escape advance vs ε/b (all runs)", fontsize=9)
        ax.legend(fontsize=7)
    for row in axes:
        row[0].set_ylabel(r"$R_{\rm PDE} - R_{\rm SGD}$ (PDE: " + PDE_REFERENCE + ")")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation/results")
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--plot-only", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "staircase_gap.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("pde", {})
    data.setdefault("sgd", {})
    data["times"] = TIMES.tolist()
    jobs = [f"pde:{k}" for k in PDE_RUNS] + [f"sgd:{k}" for k in SGD_RUNS]
    if args.only is not None:
        jobs = [j for j in jobs if j in args.only]
    for job in [] if args.plot_only else jobs:
        kind, label = job.split(":")
        if label in data[kind] and not args.force:
            continue
        result = pde_run(label) if kind == "pde" else sgd_run(label)
        data[kind][label] = result
        line = at(TIMES, result["risk"]) if kind == "pde" else sgd_stats(result)[0]
        print(f"{job}: R(30, 35, 40) = {np.round(line, 4)}  "
              f"({result['wall_time_s']:.0f} s)", flush=True)
        path.write_text(json.dumps(data, indent=1))
    if PDE_REFERENCE in data["pde"]:
        data["summary"] = analyse(data)
        path.write_text(json.dumps(data, indent=1))
        figure(data, data["summary"], out / "staircase_gap.png")
        for label, row in data["summary"]["sgd"].items():
            print(label, np.round(row["R_mean"], 3), "±", np.round(row["R_se"], 3),
                  "gap", np.round(row["gap"], 3), f"delay {row['delay']:.2f}")
        scans = dict(data["summary"]["scans"],
                     **{f"all runs vs {v}": c for v, c in data["summary"]["collapse"].items()})
        for name, scan in scans.items():
            print(name, {t: None if f["slope"] is None else round(f["slope"], 2)
                         for t, f in scan["fits"].items()})
            if "delay_fit" in scan:
                print("  delay fit", scan["delay_fit"],
                      {t: round(f["rms_log_residual"], 3) for t, f in scan["fits"].items()})


if __name__ == "__main__":
    main()
