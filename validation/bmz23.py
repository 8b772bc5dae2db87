"""BMZ23 plateaus: theory vs reduced PDE (spherical and free model) vs particle SGD.

Target ``φ = He_0 − He_1 + (2/3)He_2`` (orthonormal ``He``), ReLU, ``a_0 = 0``,
``w ~ N(0, I/d)`` (scenario ``bmz23``). For each configuration (a learning-rate ratio
``lr_ratio = ξ_a/ξ_w = 1/ε_bmz`` with its SGD step, ``N``, ``d``, times) this runs

* the PDE of BMZ23's spherical ``(a, s)`` model (``reducedpde pde bmz23``),
* ``reducedpde validate bmz23 -p spherical=false``: the PDE of the free ``(a, s, r)`` model
  and ``seeds`` SGD runs of the free model (SGD has no spherical variant),

and extracts from each risk curve ``R(t)`` (the SGD curve: the mean over seeds, and each
seed):

* **plateau values.** Theory (``bmz23_plateau_values``): start ``L_s = 22/9``, stage 0
  ``L_0 = 13/9``, stage 1 ``L_1 = 4/9``, stage 2 ``L_2 = 0``. The window of stage ``ℓ`` is
  the time range where ``R`` lies between the midpoints ``(L_{ℓ−1} + L_ℓ)/2`` and
  ``(L_ℓ + L_{ℓ+1})/2`` (``L_{−1} = L_s``). Its plateau value is ``R`` at the output time of
  the window where ``|dR/d log t|`` (centred differences on the log-spaced output times) is
  smallest; that slope is reported too, and the plateau counts as *flat* when it is below
  ``FLAT_FRACTION · (L_ℓ − L_{ℓ+1})`` (the risk moves by less than a tenth of the next
  drop per e-fold of time). Stage 2 is an infimum: its value is ``R(t_max)``.
* **drop times.** The first time ``R`` falls below each midpoint ``(L_{ℓ−1} + L_ℓ)/2``,
  interpolated linearly in ``log t`` between output times.
* wall times, and the verdict and metrics of ``validate`` (PDE free vs SGD).

**Finite-N diagnostic** (``ridge``). The risk of ``N`` neurons is the mean-field risk of
their empirical law plus the diagonal ``i = j`` terms that the mean-field kernel gets
wrong: ``E σ(⟨w, x⟩)² = ‖w‖²/2`` against the kernel ``κ(ŝ²)‖w‖²`` of two distinct neurons
(``κ(0) = 1/(2π)`` for ReLU), i.e. ``(1/N) ∫ a² ‖w‖² (1/2 − κ(ŝ²)) dρ``. For small overlaps
and ``‖w‖ ≈ 1`` this is a ridge ``λ_N ∫ a² dρ`` with ``λ_N = (1/2 − 1/(2π))/N``: in the
dynamics, weight decay ``λ_N`` on ``a``. The curve ``ridge`` is the spherical PDE with
``lam = λ_N`` (weight decay on ``a`` only), plus ``λ_N ∫ a² dρ`` in the risk. BMZ23's
stages ``ℓ ≥ 1`` need ``a = O(δ^{−ℓ})`` (``∫ a² dρ`` reaches 74 at ``ε_bmz = 10⁻³`` and 577
at ``10⁻⁵``), so this ``O(1/N)`` term delays SGD by more as ``ε_bmz`` decreases.

Usage::

    python validation/bmz23.py [--out validation/results] [--configs eps1e-3,eps1e-5]
                               [-p key=value ...]      # overrides for every configuration
    python validation/bmz23.py --from-files            # re-analyse the stored result files
    python validation/bmz23.py --finite-n ""            # skip the finite-N scan

Writes ``bmz23_<config>.h5`` (validate result: free PDE, SGD, comparison),
``bmz23_<config>_spherical.h5`` (spherical PDE), ``bmz23_finiteN_N<N>.h5`` (the scan),
``bmz23.json`` and ``bmz23.png``.

**Finite-N scan** (``--finite-n``, default ``N = 50, 200, 800``): ``validate`` at
``ε_bmz = 10⁻⁴`` (:data:`FINITE_N_CONFIG`) for each ``N``, with the drop times of SGD, the
PDE and the ``ridge`` curve of that ``N``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np

from reducedpde import api, io
from reducedpde.models.multiindex.reduction import MultiIndexReduction
from reducedpde.models.multiindex.runs import initial_atoms
from reducedpde.models.multiindex.spherical import bmz23_plateau_values
from reducedpde.params import parse_assignment
from reducedpde.plot import risk_curves, save_figure
from reducedpde.results import RunResult
from reducedpde.scenarios import resolve
from reducedpde.solvers.lagrangian.multiindex import solve_multiindex_particles

#: SGD configurations (free model). ε·ξ_a = 5·10⁻³ and 10⁻² (ξ_a = lr_ratio/2), ε·d ≤ 10⁻².
CONFIGS = {
    # BMZ23's ε = 10⁻³: stage-0 plateau, then a single drop through stage 1 to ≈ 0.04
    "eps1e-3": {"lr_ratio": 1e3, "d": 1000, "N": 400, "eps": 1e-5, "seeds": 3,
                "t_min": 1e-4, "t_max": 5.0, "n_times": 81},
    # ε_bmz = 10⁻⁵: longer stage 0 and a stage-1 shoulder (the PDE's); SGD lags (finite N)
    "eps1e-5": {"lr_ratio": 1e5, "d": 1000, "N": 800, "eps": 2e-7, "seeds": 2,
                "t_min": 1e-6, "t_max": 0.1, "n_times": 81},
}

#: the finite-N scan: ε_bmz = 10⁻⁴ (ε·ξ_a = 5·10⁻³), up to the end of the drop to ≈ 0.1
FINITE_N_CONFIG = {"lr_ratio": 1e4, "d": 1000, "eps": 1e-6, "seeds": 2, "t_min": 1e-4,
                   "t_max": 0.2, "n_times": 41}

#: ReLU: E σ(G)² − κ(0) = 1/2 − 1/(2π), the diagonal excess of one neuron (‖w‖ = 1, ŝ = 0)
DIAGONAL_EXCESS = 0.5 - 1.0 / (2.0 * np.pi)

#: a plateau is "flat" when min |dR/d log t| < FLAT_FRACTION · (L_ℓ − L_{ℓ+1})
FLAT_FRACTION = 0.1


def theory_levels():
    """``(L_start, [L_0, L_1, L_2])`` of :func:`bmz23_plateau_values` (orthonormal He)."""
    plateaus = bmz23_plateau_values()
    # the last level is 0 up to round-off
    return float(plateaus.initial_risk), [round(float(x), 15) for x in plateaus.risk]


def drop_times(t, risk, levels) -> list:
    """First time ``R`` falls below each midpoint between consecutive theory levels
    (log-linear interpolation); ``None`` if it never does within the run."""
    start, stages = levels
    values = [start, *stages]
    out = []
    for hi, lo in itertools.pairwise(values):
        level = 0.5 * (hi + lo)
        below = np.nonzero((risk < level) & (t > 0))[0]
        if below.size == 0 or below[0] == 0:
            out.append(None)
            continue
        j = below[0]
        if t[j - 1] <= 0:
            out.append(float(t[j]))
            continue
        x0, x1 = np.log(t[j - 1]), np.log(t[j])
        frac = (risk[j - 1] - level) / (risk[j - 1] - risk[j])
        out.append(float(np.exp(x0 + frac * (x1 - x0))))
    return out


def plateau_values(t, risk, levels) -> list:
    """Per stage ``ℓ``: the flattest point of the stage window (module docstring)."""
    start, stages = levels
    values = [start, *stages]
    keep = t > 0
    t, risk = t[keep], risk[keep]
    slope = np.gradient(risk, np.log(t))
    out = []
    for ell, level in enumerate(stages):
        upper = 0.5 * (values[ell] + level)
        if ell == len(stages) - 1:
            out.append({"stage": ell, "theory": level, "value": float(risk[-1]),
                        "t": float(t[-1]), "kind": "R(t_max) (the final level is an infimum)"})
            continue
        gap = level - stages[ell + 1]
        lower = 0.5 * (level + stages[ell + 1])
        inside = np.nonzero((risk <= upper) & (risk >= lower))[0]
        row = {"stage": ell, "theory": level, "window": [lower, upper]}
        if inside.size == 0:
            out.append({**row, "value": None, "t": None, "kind": "window not reached"})
            continue
        j = inside[np.argmin(np.abs(slope[inside]))]
        flat = bool(abs(slope[j]) < FLAT_FRACTION * gap)
        out.append({**row, "value": float(risk[j]), "t": float(t[j]),
                    "slope_dR_dlogt": float(slope[j]), "flat": flat,
                    "window_t": [float(t[inside[0]]), float(t[inside[-1]])],
                    "kind": "flattest point of the window"})
    return out


def ridge_curve(config: dict, lam: float):
    """``(t, R, max_t ∫ a² dρ)``: the spherical PDE with weight decay ``lam`` on ``a``
    plus ``lam ∫ a² dρ`` (with ``lam = λ_N``: the finite-``N`` diagnostic of the module
    docstring)."""
    params = {k: v for k, v in config.items() if k in resolve("bmz23")}
    cfg = resolve("bmz23", {**params, "spherical": True, "lam": lam})
    a, s, r, p = initial_atoms(cfg)
    model = MultiIndexReduction(cfg)
    times, _ = model.output_times()
    sol = solve_multiindex_particles(model.reduced_model(), a, s, r, p, times, method=cfg["method"],
                                     rtol=cfg["rtol"], atol=1e-3 * cfg["rtol"])
    second_moment = sol.a ** 2 @ sol.weights
    return times, sol.risk + lam * second_moment, float(second_moment.max())


def analyse(result, spherical, levels) -> dict:
    """The JSON summary of one configuration."""
    pde, sgd, cmp = result.pde, result.sgd, result.comparison
    sph = spherical.pde
    mean = sgd.risk.mean(axis=0)
    seeds = [plateau_values(sgd.t, r, levels) for r in sgd.risk]
    seed_drops = [drop_times(sgd.t, r, levels) for r in sgd.risk]
    sgd_plateaus = plateau_values(sgd.t, mean, levels)
    for ell, row in enumerate(sgd_plateaus):
        vals = [s[ell]["value"] for s in seeds if s[ell]["value"] is not None]
        row["seed_values"] = vals
        row["seed_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
    risk_pde = np.interp(sgd.t, pde.t, pde.risk)
    cfg = result.config
    t_ridge, r_ridge, _ = ridge_curve(cfg, DIAGONAL_EXCESS / cfg["N"])
    _, _, a2_max = ridge_curve(cfg, 0.0)  # max ∫ a² dρ along the spherical PDE
    keys = ("lr_ratio", "xi_w", "d", "N", "eps", "seeds", "seed", "t_min", "t_max",
            "n_times", "atoms_s", "atoms_r", "method", "rtol")
    return {
        "config": {k: cfg[k] for k in keys},
        "eps_bmz": 1.0 / cfg["lr_ratio"],
        "eps_xi_a": cfg["eps"] * cfg["lr_ratio"] * cfg["xi_w"],
        "eps_d": cfg["eps"] * cfg["d"],
        "plateaus": {
            "pde_spherical": plateau_values(sph.t, sph.risk, levels),
            "pde_free": plateau_values(pde.t, pde.risk, levels),
            "sgd_free": sgd_plateaus,
            "ridge": plateau_values(t_ridge, r_ridge, levels),
        },
        "drop_levels": [0.5 * (a + b) for a, b in itertools.pairwise([levels[0], *levels[1]])],
        "drop_times": {
            "pde_spherical": drop_times(sph.t, sph.risk, levels),
            "pde_free": drop_times(pde.t, pde.risk, levels),
            "sgd_free": drop_times(sgd.t, mean, levels),
            "sgd_free_seeds": seed_drops,
            "ridge": drop_times(t_ridge, r_ridge, levels),
        },
        "final_risk": {"pde_spherical": float(sph.risk[-1]), "pde_free": float(pde.risk[-1]),
                       "sgd_free": float(mean[-1])},
        "sup_risk_gap_seed_mean": float(np.abs(mean - risk_pde).max()),
        "sup_risk_gap_pde_spherical_vs_free": float(np.abs(sph.risk - pde.risk).max()),
        "ridge": {"lambda_N": DIAGONAL_EXCESS / cfg["N"], "max_t_int_a2_pde": a2_max,
                  "sup_risk_gap_seed_mean_vs_ridge": float(
                      np.abs(mean - np.interp(sgd.t, t_ridge, r_ridge)).max())},
        "validate": {**cmp.metrics, "tolerance": float(cmp.tolerance),
                     "passed": bool(cmp.passed)},
        "wall_time_s": {"pde_spherical": float(sph.attrs["wall_time_s"]),
                        "pde_free": float(pde.attrs["wall_time_s"]),
                        "sgd_all_seeds": float(sgd.attrs["wall_time_s"])},
    }


def analyse_finite_n(results, levels) -> dict:
    """Per ``N`` of the scan: drop times of SGD (seed mean), the PDE and the ridge curve,
    and the largest risk gaps of the SGD seed mean to the PDE and to the ridge curve."""
    rows = []
    for result in results:
        pde, sgd, cfg = result.pde, result.sgd, result.config
        mean = sgd.risk.mean(axis=0)
        t_ridge, r_ridge, _ = ridge_curve(cfg, DIAGONAL_EXCESS / cfg["N"])
        rows.append({
            "N": int(cfg["N"]),
            "drop_times": {"pde_free": drop_times(pde.t, pde.risk, levels),
                           "sgd_free": drop_times(sgd.t, mean, levels),
                           "ridge": drop_times(t_ridge, r_ridge, levels)},
            "sup_risk_gap_seed_mean": float(
                np.abs(mean - np.interp(sgd.t, pde.t, pde.risk)).max()),
            "sup_risk_gap_seed_mean_vs_ridge": float(
                np.abs(mean - np.interp(sgd.t, t_ridge, r_ridge)).max()),
            "validate": {"sup_risk": float(result.comparison.metrics["sup_risk"]),
                         "tolerance": float(result.comparison.tolerance),
                         "passed": bool(result.comparison.passed)},
            "wall_time_sgd_s": float(sgd.attrs["wall_time_s"]),
        })
    keys = ("lr_ratio", "xi_w", "d", "eps", "seeds", "t_min", "t_max", "n_times")
    return {"config": {k: results[0].config[k] for k in keys}, "rows": rows}


def _finite_n_panel(ax, results, levels):
    """The finite-N scan: free PDE, SGD per N (symbols) and its ridge curve (dotted)."""
    first = results[0]
    items = [RunResult(scenario="bmz23", config=first.config, pde=first.pde)]
    items += [RunResult(scenario="bmz23", config=r.config, sgd=r.sgd) for r in results]
    colors = ["k", *(f"C{3 + i}" for i in range(len(results)))]
    risk_curves(items, ax=ax, labels=["free", *(f"N = {r.config['N']}" for r in results)],
                colors=colors, log_risk=True, inset=False)
    for result, color in zip(results, colors[1:]):
        t_ridge, r_ridge, _ = ridge_curve(result.config, DIAGONAL_EXCESS / result.config["N"])
        ax.plot(t_ridge[1:], r_ridge[1:], color=color, linestyle=":", linewidth=1.5,
                label="spherical PDE + 1/N diagonal" if color == colors[1] else "_nolegend_")
    for k, level in enumerate([levels[0], *levels[1][:-1]]):
        ax.axhline(level, color="0.4", linestyle="--", linewidth=0.8,
                   label="theory plateaus" if k == 0 else "_nolegend_")
    cfg = first.config
    ax.set_ylim(0.05, 3.5)
    ax.set_title(f"finite N: ε_bmz = 1/{cfg['lr_ratio']:g}, d = {cfg['d']}, ε = {cfg['eps']:g}, "
                 f"{cfg['seeds']} seeds", fontsize="medium")
    ax.legend(loc="lower left", fontsize="x-small")


def figure(items, levels, finite_n=()):
    """Risk vs t on log-log axes, one panel per configuration (BMZ23's figure), and one
    for the finite-N scan."""
    import matplotlib.pyplot as plt

    panels = len(items) + (1 if finite_n else 0)
    fig, axes = plt.subplots(1, panels, figsize=(6.0 * panels, 4.6),
                             layout="constrained", squeeze=False)
    if finite_n:
        _finite_n_panel(axes[0][-1], finite_n, levels)
    start, stages = levels
    for ax, (_, result, spherical) in zip(axes[0], items):
        cfg = result.config
        risk_curves([spherical, result], ax=ax, labels=["spherical", "free"],
                    colors=["C0", "C1"], log_risk=True, inset=False)
        for line in ax.get_lines():
            if line.get_label() == "PDE spherical":  # under the free curve: draw it wider
                line.set_linewidth(3.5)
                line.set_alpha(0.5)
        t_ridge, r_ridge, _ = ridge_curve(cfg, DIAGONAL_EXCESS / cfg["N"])
        ax.plot(t_ridge[1:], r_ridge[1:], color="C2", linestyle=":", linewidth=1.5,
                label=f"spherical PDE + 1/N diagonal (N = {cfg['N']})")
        for k, level in enumerate([start, *stages[:-1]]):
            ax.axhline(level, color="0.4", linestyle="--", linewidth=0.8,
                       label="theory plateaus" if k == 0 else "_nolegend_")
        ax.set_ylim(max(1e-3, 0.5 * float(np.min(result.pde.risk))), 3.5)
        ax.set_title(f"ε_bmz = 1/{cfg['lr_ratio']:g}: d = {cfg['d']}, N = {cfg['N']}, "
                     f"ε = {cfg['eps']:g}, {cfg['seeds']} seeds", fontsize="medium")
        ax.legend(loc="lower left", fontsize="small")
    return fig


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation/results")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("-p", "--param", action="append", default=[],
                        help="key=value override for every configuration")
    parser.add_argument("--from-files", action="store_true",
                        help="analyse bmz23_<config>*.h5 in --out instead of running")
    parser.add_argument("--finite-n", default="50,200,800",
                        help="N of the finite-N scan (comma-separated; '' to skip)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = dict(parse_assignment(p) for p in args.param)
    levels = theory_levels()
    items, summary = [], {}
    for name in args.configs.split(","):
        path, path_sph = out / f"bmz23_{name}.h5", out / f"bmz23_{name}_spherical.h5"
        if args.from_files:
            result, spherical = io.load(path), io.load(path_sph)
        else:
            params = {**CONFIGS[name], **overrides}
            start = time.perf_counter()
            spherical = api.run_pde("bmz23", {**params, "spherical": True}, progress=False)
            result = api.validate("bmz23", {**params, "spherical": False},
                                  progress=not args.quiet)
            print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
            io.save(spherical, path_sph)
            io.save(result, path)
        items.append((name, result, spherical))
        summary[name] = analyse(result, spherical, levels)
        print(json.dumps({name: {k: summary[name][k] for k in
                                 ("drop_times", "final_risk", "validate")}}, indent=1),
              flush=True)
    finite_n = []
    for n in (int(x) for x in args.finite_n.split(",") if x.strip()):
        path = out / f"bmz23_finiteN_N{n}.h5"
        if args.from_files:
            finite_n.append(io.load(path))
            continue
        start = time.perf_counter()
        result = api.validate("bmz23", {**FINITE_N_CONFIG, **overrides, "N": n,
                                        "spherical": False}, progress=not args.quiet)
        print(f"finite N = {n}: {time.perf_counter() - start:.0f} s", flush=True)
        io.save(result, path)
        finite_n.append(result)
    start, stages = levels
    doc = {"theory": {"start": start, "stages": stages,
                      "convention": "orthonormal He_k, risk E(y - f)^2 without 1/2"},
           "definitions": {
               "plateau": "R at the output time of the stage window (R between the "
                          "midpoints of consecutive theory levels) where |dR/dlog t| is "
                          f"smallest; flat if that slope < {FLAT_FRACTION} x (L_l - L_l+1); "
                          "SGD: mean over seeds (seed_values: each seed)",
               "drop_time": "first time R < (L_l-1 + L_l)/2, log-linear interpolation",
           },
           "configs": summary}
    if finite_n:
        doc["finite_n"] = analyse_finite_n(finite_n, levels)
        print(json.dumps({"finite_n": [{k: row[k] for k in ("N", "drop_times")}
                                       for row in doc["finite_n"]["rows"]]}), flush=True)
    (out / "bmz23.json").write_text(json.dumps(doc, indent=2))
    save_figure(figure(items, levels, finite_n), out / "bmz23.png")
    print(f"wrote {out / 'bmz23.json'} and {out / 'bmz23.png'}")


if __name__ == "__main__":
    main()
