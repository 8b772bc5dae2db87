"""Run a sweep's tasks on dask.distributed: a local cluster by default, or a running one.

Default engine: a :class:`distributed.LocalCluster` with one single-threaded worker process
per core (``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
``MKL_NUM_THREADS`` set to 1 in each worker). With ``scheduler="tcp://HOST:PORT"`` the same
tasks go to a cluster started with the standard ``dask scheduler`` / ``dask worker``
commands; the sweep directory must then be the same shared directory on every worker.

Robustness: a failing task is recorded with its error (``summary.csv``, ``failures.json``)
and the other tasks go on; the tasks of a lost worker are rerun elsewhere by the
scheduler; Ctrl-C cancels what has not run, keeps every finished file, writes the summary
of the finished points and closes the local cluster.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import secrets
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_path
from .spec import SweepSpec, load_spec
from .summary import FAILURES_NAME, SUMMARY_NAME, summary_columns, write_failures, write_summary
from .tasks import Plan, build_plan, run_point, run_task

__all__ = ["THREAD_ENV", "SweepResult", "default_workers", "run_sweep"]

#: Environment of each local worker process: one thread for Numba and BLAS.
THREAD_ENV = {name: "1" for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS",
                                     "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}

#: Record of the sweep (spec, engine, counts, wall time) written beside the summary.
RECORD_NAME = "sweep.json"


@dataclass
class SweepResult:
    """What a sweep produced.

    Attributes
    ----------
    directory : pathlib.Path
    rows : list of dict
        One per point, as written to ``summary.csv``.
    failures : list of dict
        Failed tasks: ``key``, ``kind``, ``params``, ``error``, ``traceback``.
    counts : dict
        Tasks by outcome (``ran``, ``resumed``, ``skipped``, ``failed``).
    tasks : list of dict
        What each finished task returned (key, kind, status, solver and task wall times,
        the worker's Numba thread count).
    workers : int
        Workers of the cluster when the sweep started.
    wall_time_s : float
        From the first submission to the last result.
    """

    directory: Path
    rows: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    tasks: list = field(default_factory=list)
    workers: int = 0
    wall_time_s: float = math.nan

    @property
    def summary_path(self) -> Path:
        return self.directory / SUMMARY_NAME

    @property
    def ok(self) -> bool:
        """Every point finished."""
        return all(row["status"] == "ok" for row in self.rows)


def default_workers() -> int:
    """Cores available to this process (one worker per core)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _import_distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError("sweeps need dask.distributed: pip install 'reducedpde[sweep]'") \
            from None
    return distributed


def _start_local(workers: int):
    distributed = _import_distributed()
    # dashboard and HTTP endpoints on a free port (never fail on a busy 8787)
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                       processes=True, dashboard_address=":0",
                                       silence_logs=logging.ERROR, env=dict(THREAD_ENV))
    return distributed.Client(cluster), cluster


def _connect(address: str, timeout: float):
    """A client of the scheduler at ``address`` with at least one worker, or one error."""
    distributed = _import_distributed()
    hint = ("start one with `dask scheduler` and workers with `dask worker ADDRESS "
            "--nthreads 1`")
    try:
        client = distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = " ".join(str(exc).split())
        raise ConnectionError(f"scheduler {address!r}: no Dask scheduler answered within "
                              f"{timeout:g} s ({reason}); {hint}") from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        client.close()
        raise ConnectionError(f"scheduler {address!r} has no workers (waited {timeout:g} s); "
                              f"{hint}") from None
    return client


def _check_directory(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"sweep output {out_dir} exists and is not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    if not os.access(out_dir, os.W_OK):
        raise ValueError(f"sweep output directory {out_dir} is not writable")


def run_sweep(spec, out_dir, *, scheduler: str | None = None, workers: int | None = None,
              overrides: dict | None = None, progress: bool = True,
              connect_timeout: float = 5.0) -> SweepResult:
    """Run a sweep: every (point, seed) SGD run, every point's PDE and their comparison.

    Parameters
    ----------
    spec : str, os.PathLike, dict or SweepSpec
        A TOML spec file or its contents (see :mod:`reducedpde.sweep.spec`).
    out_dir : str or os.PathLike
        Sweep directory (created): ``summary.csv``, ``failures.json``, ``sweep.json`` and
        the task files under ``runs/``. Rerunning into the same directory skips finished
        tasks and resumes interrupted SGD runs.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://HOST:PORT``); default: a local
        cluster. The directory must then be shared by every worker.
    workers : int, optional
        Worker processes of the local cluster (default: one per core); not allowed with
        ``scheduler``.
    overrides : dict, optional
        Fixed parameters applied to every point, replacing the spec's.
    progress : bool
        Progress bar over tasks (stderr).
    connect_timeout : float
        Seconds to wait for the scheduler and its first worker.

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError
        For a bad spec (unknown key or parameter, empty axis, value out of range at any
        point) or bad options, before anything runs.
    ConnectionError
        When the scheduler cannot be reached (or has no worker), before anything runs.
    KeyboardInterrupt
        After cancelling the pending tasks and writing the summary of finished points.
    """
    spec = load_spec(spec, overrides)
    if scheduler is not None and workers is not None:
        raise ValueError("workers: applies to the local cluster only, not with a scheduler "
                         "address (the cluster's workers are used)")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if not connect_timeout > 0:
        raise ValueError(f"connect_timeout must be > 0 seconds, got {connect_timeout!r}")
    plan = build_plan(spec)
    out_dir = Path(out_dir).resolve()
    _check_directory(out_dir)

    cluster = None
    if scheduler is None:
        client, cluster = _start_local(workers or default_workers())
    else:
        client = _connect(scheduler, connect_timeout)
    result = SweepResult(directory=out_dir,
                         workers=len(client.scheduler_info().get("workers", {})))
    started = time.perf_counter()
    try:
        _execute(client, plan, out_dir, result, progress, started)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return result


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _execute(client, plan: Plan, out_dir: Path, result: SweepResult, progress: bool,
             started: float) -> None:
    """Submit the plan, collect results as they come, write the summary (also on Ctrl-C)."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    spec = plan.spec
    out = str(out_dir)
    token = secrets.token_hex(4)  # keys unique to this run of the sweep on a shared scheduler
    futures, tasks = {}, {}
    for key, task in {**plan.pde, **plan.sgd}.items():
        futures[key] = client.submit(run_task, task, out, key=f"{key}-{token}", pure=False)
        tasks[futures[key].key] = task
    point_futures = []
    for index, (task, pde_key, sgd_keys) in enumerate(plan.points):
        fut = client.submit(run_point, task, futures[pde_key], [futures[k] for k in sgd_keys],
                            out, key=f"{task.key}-{index}-{token}", pure=False)
        tasks[fut.key] = task
        point_futures.append(fut)
    everything = [*futures.values(), *point_futures]
    counts = {"ran": 0, "resumed": 0, "skipped": 0, "failed": 0}
    measured: dict[int, dict] = {}
    errors: dict[int, str] = {}
    index_of = {fut.key: i for i, fut in enumerate(point_futures)}
    interrupted = False
    bar = tqdm(total=len(everything), desc="sweep", unit="task", disable=not progress)
    try:
        for fut in as_completed(everything):
            bar.update(1)
            task = tasks[fut.key]
            if fut.status == "finished":
                info = fut.result()
                counts[info["status"]] += 1
                result.tasks.append({k: v for k, v in info.items() if not k.endswith("_file")
                                     and k != "sgd_files"})
                if fut.key in index_of:
                    measured[index_of[fut.key]] = info
                continue
            if fut.status != "error":
                continue  # cancelled
            exc = fut.exception()
            if fut.key in index_of:
                index = index_of[fut.key]
                failed_dep = _failed_dependency(futures, plan.points[index])
                if failed_dep is not None:
                    # reported once, with the failing task; the point names it
                    reason = _one_line(futures[failed_dep].exception())
                    errors[index] = f"task {failed_dep} failed: {reason}"
                    continue
                errors[index] = f"{_one_line(exc)}"
            counts["failed"] += 1
            result.failures.append({
                "key": task.key, "kind": task.kind, "params": task.params,
                "file": task.file, "error": _one_line(exc),
                "traceback": "".join(traceback.format_exception(type(exc), exc,
                                                                fut.traceback())),
            })
    except KeyboardInterrupt:
        interrupted = True
        client.cancel(everything)
        raise
    finally:
        bar.close()
        result.wall_time_s = time.perf_counter() - started
        result.counts = counts
        result.rows = _rows(spec, plan, measured, errors)
        write_summary(out_dir / SUMMARY_NAME, result.rows,
                      summary_columns(spec.varied, spec.fixed))
        write_failures(out_dir / FAILURES_NAME, result.failures)
        _write_record(out_dir, spec, plan, result, interrupted)


def _failed_dependency(futures: dict, point_entry) -> str | None:
    _, pde_key, sgd_keys = point_entry
    for key in (pde_key, *sgd_keys):
        if futures[key].status == "error":
            return key
    return None


def _rows(spec: SweepSpec, plan: Plan, measured: dict, errors: dict) -> list[dict]:
    rows = []
    for index, point in enumerate(spec.points):
        task, pde_key, sgd_keys = plan.points[index]
        row = {"point": index, **point, "seeds": spec.seeds, "seed": spec.seed,
               "pde_file": plan.pde[pde_key].file,
               "sgd_files": [plan.sgd[k].file for k in sgd_keys], "point_file": task.file}
        if index in measured:
            row.update({k: v for k, v in measured[index].items()
                        if k not in ("status", "task_wall_s", "key", "kind")})
            row["status"] = "ok"
        elif index in errors:
            row["status"], row["error"] = "failed", errors[index]
        else:
            row["status"] = "not run"
        rows.append(row)
    return rows


def _write_record(out_dir: Path, spec: SweepSpec, plan: Plan, result: SweepResult,
                  interrupted: bool) -> None:
    record = {
        "spec": spec.source,
        "scenario": spec.scenario,
        "points": len(spec.points),
        "tasks": {"pde": len(plan.pde), "sgd": len(plan.sgd), "point": len(plan.points)},
        "workers": result.workers,
        "counts": result.counts,
        "wall_time_s": result.wall_time_s,
        "interrupted": interrupted,
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    with atomic_path(out_dir / RECORD_NAME) as tmp:
        tmp.write_text(json.dumps(record, indent=1, default=str) + "\n", encoding="utf-8")
