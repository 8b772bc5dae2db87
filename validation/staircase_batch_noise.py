"""The staircase gap from the batch noise of the relevant coordinates alone.

``staircase_gap.py`` found that SGD leaves the last plateau of the ABM22 staircase earlier
than the PDE by an amount set by ``ε/b`` (not ``d``, not ``N``). This script runs the
reduced mini-batch dynamics of :mod:`reducedpde.models.multiindex.batch_noise`: the
``(a, s, r)`` atoms (SGD's own 100 initial second-layer values, ``s = 0``, ``r = 1``) with
the mean-field velocity's expectation over ``z ∈ {±1}⁴`` replaced by each step's batch of
``b`` samples, step ``ε`` as in SGD. It has no finite ``N`` and no finite ``d``: if it
reproduces SGD's curves, the gap is the degree-0 (``(a, s, r)``-level) common noise.

Compared with the SGD runs stored by ``staircase_gap.py`` (``results/staircase_gap.json``):
risk at t = 30, 35, 40 and the first time ``t_cross`` the risk falls below 0.5.

A second reduced model keeps the noise that differs between neurons:
``simulate_reduced_particles``, 100 neurons in ``(a, s, r)`` whose ``⊥`` pre-activations
are independent normals for every neuron and sample (``d → ∞`` at fixed ``N``; no overlap
between different neurons' ``w_⊥``).

Usage::

    python validation/staircase_batch_noise.py --out validation/results    # about 16 min
    python validation/staircase_batch_noise.py --particles-only            # 4 min
    python validation/staircase_batch_noise.py --quick                     # 1 case, 2 seeds
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from reducedpde import scenarios
from reducedpde.atomic import atomic_path
from reducedpde.models.multiindex.batch_noise import (
    simulate_batch_noise,
    simulate_reduced_particles,
)
from reducedpde.models.multiindex.runs import build_model

#: name in staircase_gap.json, ε, b, seeds of the reduced dynamics
CASES = (("base", 1e-3, 10, 8), ("eps5e-4", 5e-4, 10, 4), ("b40", 1e-3, 40, 4))
#: seeds of the reduced particles (cheap: about 5 s per seed and 40 000 steps)
PARTICLE_SEEDS = 16
PROBES = (30.0, 35.0, 40.0)
T_MAX = 40.0
LEVEL = 0.5


def _t_cross(t, risk, level=LEVEL):
    """First time the risk falls below ``level`` (linear interpolation), or nan."""
    below = np.nonzero(risk < level)[0]
    if below.size == 0 or below[0] == 0:
        return float("nan")
    i = below[0]
    return float(t[i - 1] + (risk[i - 1] - level) / (risk[i - 1] - risk[i]) * (t[i] - t[i - 1]))


def _stats(t, risks):
    """Seed mean ± standard error of R at the probes and of t_cross."""
    risks = np.atleast_2d(risks)
    out = {}
    for probe in PROBES:
        values = np.array([np.interp(probe, t, row) for row in risks])
        out[f"R({probe:g})"] = [float(values.mean()),
                                float(values.std(ddof=1) / np.sqrt(values.size))
                                if values.size > 1 else float("nan")]
    crosses = np.array([_t_cross(t, row) for row in risks])
    out["t_cross"] = [float(np.nanmean(crosses)),
                      float(np.nanstd(crosses, ddof=1) / np.sqrt(crosses.size))
                      if crosses.size > 1 else float("nan")]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("validation/results"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--particles-only", action="store_true",
                        help="rerun only the reduced particles, keep the stored batch-noise "
                             "runs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    stored = json.loads((args.out / "staircase_gap.json").read_text())
    cfg = scenarios.resolve("staircase", {"smoothing_nodes": 0})  # the 400-node rule
    model = build_model(cfg)
    N = cfg["N"]
    a = -1.0 + (2.0 * np.arange(N) + 1.0) / N  # SGD's initial second layer
    s, r, p = np.zeros((N, cfg["k"])), np.ones(N), np.full(N, 1.0 / N)
    times = np.concatenate([[0.0, 5.0, 10.0, 15.0], np.arange(20.0, T_MAX + 0.25, 0.5)])
    cases = CASES[:1] if args.quick else CASES
    path = args.out / "staircase_batch_noise.json"
    if args.particles_only:
        result = json.loads(path.read_text())
        _particles(result, model, a, s, r, cfg, stored, times, cases, args.quick)
        return _finish(result, stored, args.out)
    result = {"times": times.tolist(), "cases": {}}

    start = time.perf_counter()
    flow = simulate_batch_noise(model, a, s, r, p, eps=1e-3, batch=10**12, t_max=T_MAX,
                                record_times=times, progress=False)
    result["euler_flow"] = {"risk": flow["risk"][0].tolist(), **_stats(flow["t"], flow["risk"]),
                            "wall_s": time.perf_counter() - start}
    print(f"no batch noise (b = 1e12, Euler steps of 1e-3): "
          f"{ {k: round(v[0], 4) for k, v in _stats(flow['t'], flow['risk']).items()} }")
    for name, eps, batch, seeds in cases:
        seeds = 2 if args.quick else seeds
        start = time.perf_counter()
        run = simulate_batch_noise(model, a, s, r, p, eps=eps, batch=batch, t_max=T_MAX,
                                   record_times=times, seeds=range(seeds), progress=False)
        sgd = stored["sgd"][name]
        entry = {"eps": eps, "batch": batch, "seeds": seeds, "risk": run["risk"].tolist(),
                 "reduced": _stats(run["t"], run["risk"]),
                 "sgd": _stats(np.asarray(sgd["t"]), np.asarray(sgd["risk"])),
                 "sgd_seeds": sgd["seeds"], "smoothing_error": run["smoothing_error"],
                 "wall_s": time.perf_counter() - start}
        result["cases"][name] = entry
        print(f"eps = {eps:g}, b = {batch} ({seeds} seeds, {entry['wall_s']:.0f} s):")
        for key in entry["reduced"]:
            rm, rs = entry["reduced"][key]
            sm, ss = entry["sgd"][key]
            print(f"  {key:8s} reduced {rm:.4f} ± {rs:.4f}   SGD {sm:.4f} ± {ss:.4f}")
    pde = stored["pde"]["gl256"]
    result["pde_gl256"] = _stats(np.asarray(stored["times"]), np.asarray(pde["risk"]))
    _particles(result, model, a, s, r, cfg, stored, times, cases, args.quick)
    return _finish(result, stored, args.out)


def _particles(result, model, a, s, r, cfg, stored, times, cases, quick):
    """The reduced particles (independent ⊥ noise per neuron) for every case."""
    for name, eps, batch, _ in cases:
        seeds = 2 if quick else PARTICLE_SEEDS
        start = time.perf_counter()
        run = simulate_reduced_particles(model, a, s, r, eps=eps, batch=batch, d=cfg["d"],
                                         t_max=T_MAX, record_times=times,
                                         seeds=range(seeds), progress=False)
        entry = result["cases"][name]
        entry["particles"] = _stats(run["t"], run["risk"])
        entry["particles_risk"] = run["risk"].tolist()
        entry["particle_seeds"] = seeds
        entry["particles_wall_s"] = time.perf_counter() - start
        print(f"eps = {eps:g}, b = {batch}: reduced particles ({seeds} seeds): "
              + ", ".join(f"{k} {v[0]:.4f} ± {v[1]:.4f}" for k, v in entry["particles"].items()))


def _finish(result, stored, out: Path) -> int:
    with atomic_path(out / "staircase_batch_noise.json") as tmp:
        Path(tmp).write_text(json.dumps(result, indent=2))
    _plot(result, stored, out)
    print(f"wrote {out / 'staircase_batch_noise.json'} and staircase_batch_noise.png")
    return 0


def _plot(result, stored, out: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.asarray(result["times"])
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(np.asarray(stored["times"]), stored["pde"]["gl256"]["risk"], "k-", lw=1.5,
            label="PDE (mean field, 256 atoms)")
    for i, (name, entry) in enumerate(result["cases"].items()):
        color = f"C{i}"
        risk = np.asarray(entry["risk"])
        mean = risk.mean(axis=0)
        se = risk.std(axis=0, ddof=1) / np.sqrt(risk.shape[0])
        ax.plot(t, mean, "-", color=color,
                label=f"common batch noise (ℓ = 0), ε = {entry['eps']:g}, b = {entry['batch']}")
        ax.fill_between(t, mean - 2 * se, mean + 2 * se, color=color, alpha=0.2, lw=0)
        if "particles_risk" in entry:
            pr = np.asarray(entry["particles_risk"])
            ax.plot(t, pr.mean(axis=0), "--", color=color,
                    label="reduced particles (independent ⊥ noise)")
        sgd = stored["sgd"][name]
        sr = np.asarray(sgd["risk"])
        ax.errorbar(sgd["t"], sr.mean(axis=0), yerr=2 * sr.std(axis=0, ddof=1)
                    / np.sqrt(sr.shape[0]), fmt="o", ms=3, color=color, capsize=2,
                    label=f"SGD d = N = 100 ({sgd['seeds']} seeds)")
    ax.set_xlim(15, 40)
    ax.set_ylim(0, 0.75)
    ax.set_xlabel("t")
    ax.set_ylabel("risk")
    ax.set_title("staircase: SGD between the two reduced noise models (±2 SE)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(out / "staircase_batch_noise.png") as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
