"""Reproduce ABM22 Fig. 1: the staircase h* = z1 + z1z2 + z1z2z3 + z1z2z3z4 on the hypercube,
PDE (Lagrangian, degenerate start) vs SGD (d = N = 100, mean and 95% band over 10 runs), and
the Fourier–Walsh coefficients of the learned function over time.

Usage::

    python validation/staircase.py [--out validation/results] [--seeds 10] [-p key=value ...]

(the scenario's defaults, with 25 snapshot times instead of 7 for the SGD coefficients).

Writes ``staircase.h5`` (PDE, SGD and comparison, as `reducedpde validate` does),
``staircase_risk.png`` (Fig. 1 left), ``staircase_fourier.png`` (Fig. 1 right) and
``staircase_summary.json`` (times at which each coefficient first exceeds 0.1 and reaches
0.9, risks at chosen times, the comparison metrics and wall times).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from reducedpde import api, io
from reducedpde.cli import _comparison_table
from reducedpde.params import parse_assignment
from reducedpde.plot import fourier_coefficients, risk_curves, save_figure

#: the monomials of the target, in staircase order
STAIRCASE_SETS = ([0], [0, 1], [0, 1, 2], [0, 1, 2, 3])


def first_crossing(t, values, level):
    """First time at which ``values`` reaches ``level`` (linear interpolation), or None."""
    above = np.nonzero(values >= level)[0]
    if above.size == 0:
        return None
    k = int(above[0])
    if k == 0:
        return float(t[0])
    t0, t1, v0, v1 = t[k - 1], t[k], values[k - 1], values[k]
    return float(t0 + (level - v0) * (t1 - t0) / (v1 - v0))


def coefficient_times(t, coefficients, sets, levels=(0.1, 0.9)):
    """``{set: {level: first time the coefficient reaches it}}`` for the staircase sets."""
    out = {}
    for target in STAIRCASE_SETS:
        k = [list(s) for s in sets].index(target)
        label = "z" + "z".join(str(j + 1) for j in target)
        out[label] = {f"{level:g}": first_crossing(t, coefficients[:, k], level)
                      for level in levels}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="validation/results")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("-p", "--param", action="append", default=[])
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    overrides = dict(parse_assignment(p) for p in args.param)
    overrides["seeds"] = args.seeds
    overrides.setdefault("n_snapshots", 25)  # SGD Fourier coefficients at 25 times
    result = api.validate("staircase", overrides, progress=not args.quiet)
    io.save(result, out / "staircase.h5")
    print(_comparison_table(result), flush=True)
    save_figure(risk_curves(result), out / "staircase_risk.png")
    save_figure(fourier_coefficients(result), out / "staircase_fourier.png")
    pde, sgd = result.pde, result.sgd
    probe = [2.0, 5.0, 10.0, 20.0, 30.0, 40.0, 60.0]
    summary = {
        "config": {key: result.config[key] for key in ("N", "d", "eps", "batch", "seeds",
                                                       "atoms_a", "t_max")},
        "pde_coefficient_times": coefficient_times(pde.t, pde.extra["fourier"],
                                                   pde.attrs["fourier_sets"]),
        "risk_at": {
            f"{t:g}": {"pde": float(np.interp(t, pde.t, pde.risk)),
                       "sgd_mean": float(np.interp(t, sgd.t, sgd.risk.mean(axis=0))),
                       "sgd_std": float(np.interp(t, sgd.t, sgd.risk.std(axis=0)))}
            for t in probe
        },
        **result.comparison.metrics,
        "tolerance": result.comparison.tolerance,
        "passed": result.comparison.passed,
        "wall_time_pde_s": pde.attrs["wall_time_s"],
        "wall_time_sgd_s": sgd.attrs["wall_time_s"],
    }
    (out / "staircase_summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary["pde_coefficient_times"], indent=1))
    print(f"wrote {out / 'staircase_risk.png'}, {out / 'staircase_fourier.png'}")


if __name__ == "__main__":
    main()
