"""Sweeps on dask.distributed: throughput with 1, 2 and all workers, per-task overhead.

* Throughput: one point of ``gaussians-quick`` with ``S`` seeds (``S`` SGD tasks, one PDE
  and one point task) on a local cluster of ``W`` single-threaded workers, started and
  warmed up (workers import the package and load the compiled kernels) before timing;
  tasks per second = SGD tasks / wall time, and the speed-up over one worker (ideal: W,
  as long as W ≤ the free cores).
* Overhead: the same point with one seed run by a sweep on a warm one-worker cluster,
  against a direct :func:`reducedpde.api.validate` call in this process (same work: PDE,
  SGD, comparison, plus the sweep's files). The target is < 5% for tasks of ≥ 10 s.
  Besides the ratio of wall times (which also holds any difference in solver speed
  between the two processes, e.g. from other jobs on a shared machine), the time spent
  outside the solvers is reported: wall time minus the PDE and SGD solvers' own wall
  times, for both; the sweep's extra share of it is the overhead of the machinery
  (submission, files, the point task, result collection).

Each timing is the best of its repeats; the ratios come from the same run. The machine
may be shared: the load average is recorded with the results.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from . import common

#: The task: the gaussians-quick physics with one SGD seed per task.
SCENARIO = "gaussians-quick"


def _sizes(quick: bool) -> dict:
    if quick:
        return {"overhead_t_max": 0.1, "throughput_t_max": 0.05, "seeds_per_worker": 2,
                "repeats": 1}
    return {"overhead_t_max": 10.0, "throughput_t_max": 2.0, "seeds_per_worker": 2,
            "repeats": 2}


def _cluster(workers: int):
    from distributed import Client, LocalCluster

    from reducedpde.sweep.engine import THREAD_ENV

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=":0", silence_logs=logging.ERROR,
                           env=dict(THREAD_ENV))
    client = Client(cluster)
    client.wait_for_workers(workers)
    return cluster, client


def _timed_sweep(spec: dict, address: str, repeats: int):
    """Best wall time of a sweep into fresh directories, and its task records."""
    from reducedpde.sweep import run_sweep

    best, records = float("inf"), None
    for _ in range(repeats):
        out = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
        try:
            start = time.perf_counter()
            result = run_sweep(spec, out, scheduler=address, progress=False)
            elapsed = time.perf_counter() - start
        finally:
            shutil.rmtree(out, ignore_errors=True)
        if not result.ok:
            raise RuntimeError(f"benchmark sweep failed: {result.failures}")
        if elapsed < best:
            best, records = elapsed, result.tasks
    return best, records


def _spec(t_max: float, seeds: int, seed: int = 0) -> dict:
    return {"scenario": SCENARIO, "seeds": seeds, "seed": seed,
            "parameters": {"t_max": t_max}}


def run(quick=False, log=print):
    from reducedpde import api
    from reducedpde.sweep import default_workers

    sizes = _sizes(quick)
    machine = common.machine()
    all_workers = default_workers()
    worker_counts = sorted({1, min(2, all_workers), all_workers})
    # warm up this process (kernel compilation or cache load) before timing validate
    api.validate(SCENARIO, {"t_max": 0.05, "seeds": 1}, progress=False)

    tmax = sizes["overhead_t_max"]
    direct_s, direct = common.best_time(
        lambda: api.validate(SCENARIO, {"t_max": tmax, "seeds": 1}, progress=False),
        repeats=sizes["repeats"])
    direct_solver_s = direct.pde.attrs["wall_time_s"] + direct.sgd.attrs["wall_time_s"]
    log(f"  direct validate, t_max={tmax:g}: {common.fmt_time(direct_s)}")

    throughput = []
    overhead = None
    for workers in worker_counts:
        cluster, client = _cluster(workers)
        try:
            address = cluster.scheduler_address
            # warm-up sweep: workers import the package and load the kernels
            _timed_sweep(_spec(0.05, workers, seed=1000), address, 1)
            if workers == 1:
                sweep_s, records = _timed_sweep(_spec(tmax, 1), address, sizes["repeats"])
                solver_s = sum(r["wall_time_s"] for r in records if r["kind"] != "point")
                outside = sweep_s - solver_s
                overhead = {"t_max": tmax, "direct_validate_s": direct_s, "sweep_s": sweep_s,
                            "overhead_fraction": sweep_s / direct_s - 1.0,
                            "direct_solver_s": direct_solver_s, "sweep_solver_s": solver_s,
                            "direct_outside_solver_s": direct_s - direct_solver_s,
                            "sweep_outside_solver_s": outside,
                            "machinery_fraction":
                                (outside - (direct_s - direct_solver_s)) / solver_s,
                            "tasks": records}
                log(f"  sweep of the same point on 1 worker: {common.fmt_time(sweep_s)} "
                    f"({100 * overhead['overhead_fraction']:+.1f}%; outside the solvers "
                    f"{common.fmt_time(outside)} against "
                    f"{common.fmt_time(direct_s - direct_solver_s)} directly: "
                    f"{100 * overhead['machinery_fraction']:+.1f}% of the solver time)")
            n_sgd = sizes["seeds_per_worker"] * max(worker_counts)
            wall, _ = _timed_sweep(_spec(sizes["throughput_t_max"], n_sgd), address,
                                   sizes["repeats"])
        finally:
            client.close()
            cluster.close()
        throughput.append({"workers": workers, "sgd_tasks": n_sgd, "wall_s": wall,
                           "tasks_per_s": n_sgd / wall})
        log(f"  {workers} workers: {n_sgd} SGD tasks in {common.fmt_time(wall)} "
            f"({n_sgd / wall:.3g} tasks/s)")
    base = throughput[0]["tasks_per_s"]
    for row in throughput:
        row["speedup"] = row["tasks_per_s"] / base
    return {"machine": machine, "quick": quick, "sizes": sizes, "scenario": SCENARIO,
            "throughput": throughput, "overhead": overhead}


def markdown(result) -> str:
    f = common.fmt_time
    sizes = result["sizes"]
    lines = [
        "## Sweeps on dask.distributed (local cluster, single-threaded workers)",
        "",
        f"Throughput: one `{result['scenario']}` point, t ≤ {sizes['throughput_t_max']:g}, "
        "one SGD task per seed, on a warm local cluster.",
        "",
        "| workers | SGD tasks | wall time | tasks / s | speed-up over 1 worker |",
        "|---|---|---|---|---|",
    ]
    for r in result["throughput"]:
        lines.append(f"| {r['workers']} | {r['sgd_tasks']} | {f(r['wall_s'])} | "
                     f"{r['tasks_per_s']:.3g} | {common.fmt_ratio(r['speedup'])} |")
    o = result["overhead"]
    if o:
        lines += [
            "",
            f"Per-task overhead: the point with one seed (t ≤ {o['t_max']:g}: PDE, SGD, "
            f"comparison) by `validate` in one process {f(o['direct_validate_s'])}, by a "
            f"sweep on one warm worker {f(o['sweep_s'])} "
            f"({100 * o['overhead_fraction']:+.1f}%; target < 5% for tasks of ≥ 10 s). "
            f"Time outside the PDE and SGD solvers: {f(o['direct_outside_solver_s'])} "
            f"directly, {f(o['sweep_outside_solver_s'])} in the sweep (files, submission, "
            f"the point task): {100 * o['machinery_fraction']:+.1f}% of the solver time "
            f"({f(o['sweep_solver_s'])} in the worker, {f(o['direct_solver_s'])} directly).",
        ]
    return "\n".join(lines)


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(markdown(run(args.quick)))


if __name__ == "__main__":
    main()
