"""Reproduce MMN18 Fig. 4: risk and mean ‖w‖ of SGD (N=800, d=320, Δ=0.5) vs the radial PDE
for κ = 0.1 and κ = 0.4.

Usage::

    python validation/fig4.py [--out validation/results] [--seeds 1] [-p key=value ...]
    python validation/fig4.py --plot-only [--correction full]   # redraw from the files

With ``--correction full`` the figure adds the O(1/N) prediction for the N = 800 network
(docs/corrections.md) as dashed lines; with ``--plot-only`` the PDE of each stored run is
solved again for it (the stored SGD is kept).

Writes ``fig4_kappa<κ>.h5`` for each κ (PDE, SGD and comparison, as `reducedpde validate`
does) and ``fig4.png`` with both curves, and prints the comparison table of each run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from reducedpde import api, io
from reducedpde.cli import _comparison_table
from reducedpde.params import parse_assignment
from reducedpde.plot import risk_curves, save_figure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation/results")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--kappas", default="0.1,0.4")
    parser.add_argument("-p", "--param", action="append", default=[])
    parser.add_argument("-q", "--quiet", action="store_true")
    parser.add_argument("--plot-only", action="store_true",
                        help="only redraw fig4.png from existing result files")
    parser.add_argument("--correction", default="none", choices=("none", "finite-n", "full"),
                        help="finite-N prediction drawn beside the PDE")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    kappas = [float(k) for k in args.kappas.split(",")]
    if args.plot_only:
        results = [io.load(out / f"fig4_kappa{k:g}.h5") for k in kappas]
        if args.correction != "none":
            for result in results:
                params = api.parameters_of(result.config, result.scenario)
                params.update(correction=args.correction, grid="graded", cells=2200)
                result.pde = api.run_pde(result.scenario, params, progress=False).pde
        save_figure(risk_curves(results, log_risk=True), out / "fig4.png")
        print(f"wrote {out / 'fig4.png'}")
        return
    overrides = dict(parse_assignment(p) for p in args.param)
    overrides["seeds"] = args.seeds
    overrides["correction"] = args.correction
    results, summary = [], {}
    for kappa in kappas:
        result = api.validate("gaussians-fig4", {**overrides, "kappa": kappa},
                              progress=not args.quiet)
        io.save(result, out / f"fig4_kappa{kappa:g}.h5")
        print(f"kappa = {kappa:g}")
        print(_comparison_table(result), flush=True)
        results.append(result)
        summary[f"kappa={kappa:g}"] = {
            **result.comparison.metrics,
            "tolerance": result.comparison.tolerance,
            "passed": result.comparison.passed,
            "wall_time_pde_s": result.pde.attrs["wall_time_s"],
            "wall_time_sgd_s": result.sgd.attrs["wall_time_s"],
        }
    save_figure(risk_curves(results, log_risk=True), out / "fig4.png")
    tag = "_".join(f"{k:g}" for k in kappas)
    (out / f"fig4_summary_{tag}.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {out / 'fig4.png'}")


if __name__ == "__main__":
    main()
