"""Default grids of the radial scenarios: accuracy and cost against the former defaults.

For each radial scenario the current default (graded cells, more of them, plus the
companion run of the error estimate) is timed against the former default (2000, 800 or 800
uniform cells, no estimate) in the same process, one after the other (best of
``repeats``), and both are compared with a reference on four times the default cells::

    python -m benchmarks.bench_default_grid [--repeats 3]

Reported per scenario: the largest relative risk error of each default and the wall-time
ratio new/old (target: ≤ 2).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from reducedpde import api

from . import common

#: scenario, overrides, the former default cells (uniform grid) and stepper settings
CASES = [
    ("gaussians-fig4", {"kappa": 0.1}, {"cells": 2000}),
    ("gaussians-fig4", {"kappa": 0.4}, {"cells": 2000}),
    ("gaussians-quick", {}, {"cells": 800}),  # same count, graded
    ("gaussians-noisy", {"t_max": 10.0}, {"cells": 800, "stepper": "implicit-euler",
                                         "step_tol": 2e-3}),
]


def _run(scenario, params):
    return api.run_pde(scenario, params, progress=False).pde


def run(quick: bool = False, log=print, repeats: int = 3) -> dict:
    rows = []
    cases = CASES[2:3] if quick else CASES
    for scenario, params, former in cases:
        old_params = {**params, **former, "grid": "uniform", "error_estimate": "none"}
        new_s, new = common.best_time(lambda s=scenario, p=params: _run(s, p), repeats=repeats)
        old_s, old = common.best_time(lambda s=scenario, p=old_params: _run(s, p),
                                      repeats=repeats)
        ref = _run(scenario, {**params, "cells": 4 * new.attrs["n_cells"],
                              "error_estimate": "none"})
        row = {
            "scenario": scenario, "params": params,
            "new_cells": new.attrs["n_cells"], "old_cells": old.attrs["n_cells"],
            "new_rel_error": float(np.max(np.abs(new.risk - ref.risk) / ref.risk)),
            "old_rel_error": float(np.max(np.abs(old.risk - ref.risk) / ref.risk)),
            "new_estimate_rel": new.attrs.get("risk_rel_error_estimate"),
            "new_s": new_s, "old_s": old_s, "time_ratio": new_s / old_s,
        }
        log(json.dumps(row))
        rows.append(row)
    return {"machine": common.machine_info() if hasattr(common, "machine_info") else {},
            "rows": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    run(args.quick, repeats=args.repeats)


if __name__ == "__main__":
    main()
