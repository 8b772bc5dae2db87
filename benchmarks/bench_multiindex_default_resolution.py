"""Default resolution of the multi-index scenarios: accuracy and cost against the former
defaults.

For each multi-index scenario the current default PDE run is timed against the former
default (its parameters passed explicitly) in the same process, one after the other (best
of ``repeats``), and both are compared with the run at twice the current resolution (every
atom count and the latent nodes doubled,
:func:`reducedpde.models.multiindex.resolution.doubled_resolution`)::

    python -m benchmarks.bench_multiindex_default_resolution [--repeats 3] [--quick]

Reported per scenario: the largest relative risk change of each default against the
doubled run (target: < 1e-3 for the current default) and the wall-time ratio new/old
(target: ≤ 2). ``--quick``: ``single-index-quick`` only.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from reducedpde import api, scenarios
from reducedpde.models.multiindex.resolution import doubled_resolution

from . import common

#: scenario and the parameters of its former default PDE resolution
CASES = [
    ("single-index-quick", {"atoms_s": 16, "s_rule": "gauss-hermite", "atoms_r": 4,
                            "latent_rule": "gauss-hermite", "latent_nodes": 0}),
    ("staircase", {"a_rule": "gauss-legendre", "atoms_a": 32, "smoothing_nodes": 0}),
    ("bmz23", {"atoms_s": 10, "s_rule": "gauss-hermite", "atoms_r": 1}),
]


def doubled(scenario, params=None):
    """The overrides that double every discretisation count of ``scenario``'s PDE run."""
    return doubled_resolution(scenarios.resolve(scenario, params), params)


def _run(scenario, params):
    return api.run_pde(scenario, params, progress=False).pde


def _rel(a, b) -> float:
    return float(np.max(np.abs(a.risk - b.risk) / np.abs(b.risk)))


def run(quick: bool = False, log=print, repeats: int = 3) -> dict:
    rows = []
    for scenario, former in CASES[:1] if quick else CASES:
        new_s, new = common.best_time(lambda s=scenario: _run(s, {}), repeats=repeats)
        old_s, old = common.best_time(lambda s=scenario, p=former: _run(s, p),
                                      repeats=repeats)
        finer = _run(scenario, doubled(scenario))
        old_finer = _run(scenario, doubled(scenario, former))
        row = {
            "scenario": scenario, "former": former,
            "new_atoms": new.attrs["n_atoms"], "old_atoms": old.attrs["n_atoms"],
            "new_rel_change_doubled": _rel(new, finer),
            "old_rel_change_doubled": _rel(old, old_finer),
            "new_s": new_s, "old_s": old_s, "time_ratio": new_s / old_s,
        }
        log(json.dumps(row))
        rows.append(row)
    return {"machine": common.machine(), "rows": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    run(args.quick, repeats=args.repeats)


if __name__ == "__main__":
    main()
