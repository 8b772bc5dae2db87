"""The tasks of a sweep and the functions that run them on a worker.

A sweep of ``P`` points with ``K`` seeds makes one PDE task per point (solved once, shared
by its seeds), ``K`` SGD tasks per point (``run_sgd`` with ``seeds=1, seed=S``) and one
*point* task per point that combines them, compares them as
:func:`reducedpde.api.validate` does and returns the point's summary row.

Each task writes one HDF5 file (:func:`reducedpde.io.save`, atomic) under the sweep
directory, named by a hash of its resolved config (:func:`config_hash`): rerunning a sweep
finds finished files and skips them, and continues an SGD file holding a checkpoint (an
interrupted run) from that checkpoint. The worker functions take the sweep directory as an
absolute path; on a cluster it must be the same shared directory on every worker.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..results import RunResult, SGDResult
from ..scenarios import get_scenario, resolve
from .spec import SweepSpec

__all__ = [
    "RUNS_DIR",
    "Plan",
    "Task",
    "build_plan",
    "combine_seeds",
    "config_hash",
    "run_point",
    "run_task",
]

#: Sub-directory of the sweep directory holding the task files.
RUNS_DIR = "runs"

#: Hex digits of the config hash in file names.
HASH_DIGITS = 16


def config_hash(kind: str, scenario: str, config: dict) -> str:
    """Hash of a task: its kind (``pde``, ``sgd``, ``point``), scenario and resolved config."""
    text = json.dumps({"kind": kind, "scenario": scenario, "config": config}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_DIGITS]


@dataclass(frozen=True)
class Task:
    """One unit of work: a PDE solve, one SGD run, or the comparison of one point.

    Attributes
    ----------
    kind : {"pde", "sgd", "point"}
    scenario : str
    params : dict
        Overrides handed to the API (``seeds=1, seed=S`` for an SGD task).
    file : str
        Result file, relative to the sweep directory.
    checkpoint_every : float
        Seconds between SGD checkpoints written into ``file``.
    """

    kind: str
    scenario: str
    params: dict
    file: str
    checkpoint_every: float = 300.0

    @property
    def key(self) -> str:
        """Unique name (the file's stem), used as the Dask key."""
        return Path(self.file).stem


@dataclass
class Plan:
    """The tasks of a sweep: PDE and SGD tasks (deduplicated) and one point task per point."""

    spec: SweepSpec
    pde: dict = field(default_factory=dict)      # key -> Task
    sgd: dict = field(default_factory=dict)      # key -> Task
    points: list = field(default_factory=list)   # (point Task, pde key, [sgd keys])

    @property
    def n_tasks(self) -> int:
        return len(self.pde) + len(self.sgd) + len(self.points)


def build_plan(spec: SweepSpec) -> Plan:
    """The tasks of a validated spec, with their file names."""
    plan = Plan(spec)
    for index in range(len(spec.points)):
        point = spec.points[index]
        params = spec.point_params(index)
        cfg = resolve(spec.scenario, params)
        pde_cfg = {k: v for k, v in cfg.items() if k not in ("seed", "seeds")}
        pde = Task("pde", spec.scenario, dict(point),
                   f"{RUNS_DIR}/pde-{config_hash('pde', spec.scenario, pde_cfg)}.h5")
        plan.pde.setdefault(pde.key, pde)
        sgd_keys = []
        for seed in spec.seed_list:
            sgd_params = {**point, "seeds": 1, "seed": seed}
            digest = config_hash("sgd", spec.scenario, resolve(spec.scenario, sgd_params))
            task = Task("sgd", spec.scenario, sgd_params, f"{RUNS_DIR}/sgd-{digest}.h5",
                        spec.checkpoint_every)
            plan.sgd.setdefault(task.key, task)
            sgd_keys.append(task.key)
        digest = config_hash("point", spec.scenario, cfg)
        plan.points.append((Task("point", spec.scenario, params,
                                 f"{RUNS_DIR}/point-{digest}.h5"), pde.key, sgd_keys))
    return plan


# -- worker side -------------------------------------------------------------------------


def _finished(path: Path, part: str):
    """``(result, state)`` of an existing file: state ``done``, ``checkpoint`` or ``None``
    (missing or unreadable: run again)."""
    from .. import io

    if not path.exists():
        return None, None
    try:
        result = io.load(path)
    except (ValueError, OSError):
        return None, None
    stored = getattr(result, part, None) if part != "point" else result
    if stored is None or (part == "point" and result.comparison is None):
        return None, None
    if part != "point" and stored.checkpoint is not None:
        return result, "checkpoint"
    return result, "done"


def _numba_threads() -> int:
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def _info(task: Task, status: str, part, started: float) -> dict:
    return {
        "key": task.key,
        "kind": task.kind,
        "file": task.file,
        "status": status,
        "wall_time_s": float(part.attrs.get("wall_time_s", math.nan)),
        "task_wall_s": time.perf_counter() - started,
        "numba_threads": _numba_threads(),
    }


def run_task(task: Task, out_dir: str) -> dict:
    """Run a PDE or SGD task on this worker (or skip it when its file is finished).

    Returns
    -------
    dict
        ``key``, ``kind``, ``file``, ``status`` (``ran``, ``resumed`` or ``skipped``), the
        solver's ``wall_time_s`` and the task's own ``task_wall_s``.
    """
    from .. import api, io

    started = time.perf_counter()
    path = Path(out_dir) / task.file
    path.parent.mkdir(parents=True, exist_ok=True)
    previous, state = _finished(path, task.kind)
    if state == "done":
        return _info(task, "skipped", getattr(previous, task.kind), started)
    if task.kind == "pde":
        result = api.run_pde(task.scenario, task.params, progress=False)
        io.save(result, path)
        return _info(task, "ran", result.pde, started)
    if task.kind != "sgd":
        raise ValueError(f"task kind must be 'pde' or 'sgd', got {task.kind!r}")
    result = api.run_sgd(task.scenario, task.params, progress=False,
                         checkpoint_every_s=task.checkpoint_every,
                         on_checkpoint=lambda partial: io.save(partial, path),
                         resume=previous if state == "checkpoint" else None)
    if result.sgd.checkpoint is not None:
        io.save(result, path)
        raise RuntimeError(f"{task.key}: the SGD run was interrupted; its checkpoint is "
                           "saved and a rerun of the sweep continues it")
    io.save(result, path)
    return _info(task, "resumed" if state == "checkpoint" else "ran", result.sgd, started)


def combine_seeds(parts: list[SGDResult]) -> SGDResult:
    """One :class:`SGDResult` of several single-seed (or ensemble) runs of the same config.

    Per-seed arrays (risk, mean norm, histograms, and every ``extra`` array with a leading
    seed axis) are concatenated in the given order; times and bins are those of the first
    run, which must match the others'. ``wall_time_s`` is the sum over runs.
    """
    if not parts:
        raise ValueError("combine_seeds needs at least one SGD result")
    first = parts[0]
    for other in parts[1:]:
        if not (np.array_equal(other.t, first.t) and np.array_equal(other.hist_edges,
                                                                    first.hist_edges)):
            raise ValueError("combine_seeds: the runs have different recording times or bins")
    counts = [len(p.seeds) for p in parts]
    extra = {}
    for key, value in first.extra.items():
        arrays = [np.asarray(p.extra[key]) for p in parts if key in p.extra]
        if len(arrays) == len(parts) and all(a.ndim and a.shape[0] == n
                                             for a, n in zip(arrays, counts)):
            extra[key] = np.concatenate(arrays, axis=0)
        else:
            extra[key] = value
    attrs = dict(first.attrs)
    attrs["wall_time_s"] = float(sum(p.attrs.get("wall_time_s", 0.0) for p in parts))
    return SGDResult(
        t=first.t,
        risk=np.concatenate([p.risk for p in parts], axis=0),
        mean_norm=np.concatenate([p.mean_norm for p in parts], axis=0),
        snapshot_times=first.snapshot_times,
        histograms=np.concatenate([p.histograms for p in parts], axis=0),
        hist_edges=first.hist_edges,
        seeds=np.concatenate([np.asarray(p.seeds) for p in parts]),
        attrs=attrs,
        extra=extra,
    )


#: ``D`` of the MMN18 tolerance for each model, as :func:`reducedpde.api.validate` uses it:
#: ``d`` for the radial model, ``d + 1`` with the second-layer weight (checked against
#: ``validate`` by the tests; a model missing here is refused when the spec is read).
NEURON_DIMENSION = {
    "gaussians": lambda cfg: cfg["d"],
    "multiindex": lambda cfg: cfg["d"] + 1,
}


def _neuron_dimension(scenario: str, cfg: dict) -> float:
    return NEURON_DIMENSION[get_scenario(scenario).model](cfg)


def run_point(task: Task, pde_info: dict, sgd_infos: list, out_dir: str) -> dict:
    """Combine a point's PDE and SGD files, compare them and write the point's file.

    The point file holds what :func:`reducedpde.api.validate` returns for the point's
    parameters (PDE, the seeds' SGD runs as one ensemble, the comparison).

    Returns
    -------
    dict
        The point's measurements for ``summary.csv`` (final risks, discrepancies, seed
        spread, wall times, file names) and ``status`` (``ran`` or ``skipped``).
    """
    from .. import io
    from ..compare import compare

    started = time.perf_counter()
    out = Path(out_dir)
    path = out / task.file
    result, state = _finished(path, "point")
    status = "skipped"
    if state != "done":
        status = "ran"
        pde_run = io.load(out / pde_info["file"])
        sgd_runs = [io.load(out / info["file"]) for info in sgd_infos]
        sgd = combine_seeds([run.sgd for run in sgd_runs])
        cfg = dict(sgd_runs[0].config)
        cfg["seeds"], cfg["seed"] = len(sgd.seeds), int(sgd.seeds[0])
        comparison = compare(pde_run.pde, sgd, n_neurons=cfg["N"], eps=cfg["eps"],
                             dim=_neuron_dimension(task.scenario, cfg))
        result = RunResult(scenario=task.scenario, config=cfg, pde=pde_run.pde, sgd=sgd,
                           comparison=comparison)
        io.save(result, path)
    return {**point_measurements(result), "status": status, "key": task.key, "kind": "point",
            "pde_file": pde_info["file"], "sgd_files": [i["file"] for i in sgd_infos],
            "point_file": task.file, "task_wall_s": time.perf_counter() - started}


def point_measurements(result: RunResult) -> dict:
    """Final risks, discrepancies, seed spread and wall times of a point's result."""
    metrics = result.comparison.metrics
    final_sgd = np.asarray(result.sgd.risk, float)[:, -1]
    walls = [float(w) for w in np.atleast_1d(result.sgd.attrs.get("wall_time_s", math.nan))]
    return {
        "pde_final_risk": float(result.pde.risk[-1]),
        "sgd_final_risk": float(final_sgd.mean()),
        "sgd_final_risk_std": float(final_sgd.std(ddof=1)) if final_sgd.size > 1 else 0.0,
        "discrepancy": float(metrics["sup_risk"]),
        "sup_mean_norm": float(metrics["sup_mean_norm"]),
        "max_w1": float(metrics["max_w1"]),
        "tolerance": float(result.comparison.tolerance),
        "passed": bool(result.comparison.passed),
        "pde_wall_s": float(result.pde.attrs.get("wall_time_s", math.nan)),
        "sgd_wall_s": float(sum(walls)),
    }
