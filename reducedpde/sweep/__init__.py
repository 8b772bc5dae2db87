"""Parameter sweeps and seed ensembles on dask.distributed (``reducedpde sweep``).

A spec (TOML file or dict, see :mod:`reducedpde.sweep.spec`) names a scenario, a grid of
parameters and the SGD seeds; :func:`run_sweep` solves each point's PDE once, runs one SGD
task per (point, seed), compares them per point as :func:`reducedpde.api.validate` does and
writes ``summary.csv`` (see :mod:`reducedpde.sweep.summary`)::

    from reducedpde.sweep import run_sweep
    res = run_sweep("validation/sweeps/fig4.toml", "fig4-sweep", workers=2)
    res.rows[0]["discrepancy"]

``reducedpde.sweep(spec, out_dir, ...)`` is :func:`run_sweep` (also named :func:`sweep`
here; the module itself is callable too, so the name works whichever was imported first).
The engine is dask.distributed: a local cluster by default, or a running cluster with
``scheduler="tcp://HOST:PORT"`` (:mod:`reducedpde.sweep.engine`). Spec parsing, task files
and plots do not need Dask.
"""

from __future__ import annotations

import sys
import types

from .engine import SweepResult, default_workers, run_sweep
from .spec import SweepSpec, load_spec, parse_spec
from .summary import read_summary
from .tasks import build_plan, combine_seeds

__all__ = ["SweepResult", "SweepSpec", "build_plan", "combine_seeds", "default_workers",
           "load_spec", "parse_spec", "read_summary", "run_sweep", "sweep"]

#: ``reducedpde.sweep(spec, out_dir, ...)``
sweep = run_sweep


class _SweepModule(types.ModuleType):
    """This module, callable as :func:`run_sweep` (``reducedpde.sweep(spec, out_dir)``)."""

    def __call__(self, spec, out_dir, **kwargs) -> SweepResult:
        return run_sweep(spec, out_dir, **kwargs)


sys.modules[__name__].__class__ = _SweepModule
