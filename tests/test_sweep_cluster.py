"""Sweeps on Dask clusters: a 2-worker LocalCluster, and a scheduler and workers started as
subprocesses (``dask scheduler`` / ``dask worker``) reached with ``scheduler=ADDRESS``."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from reducedpde import api, io
from reducedpde.sweep import build_plan, parse_spec, read_summary, run_sweep
from reducedpde.sweep.engine import THREAD_ENV

DASK = Path(sys.executable).parent / "dask"
TINY = {"t_max": 0.05, "N": 20, "cells": 200, "n_times": 8}
SPEC = {"scenario": "gaussians-quick", "seeds": 2, "parameters": TINY,
        "grid": {"kappa": [0.3, 0.4]}}
# the third point's PDE fails at run time (mass reaches r_max = 0.76 at t ≈ 0.007)
SPEC_WITH_FAILURE = {"scenario": "gaussians-quick", "seeds": 2, "parameters": TINY,
                     "zip": {"kappa": [0.3, 0.4, 0.4], "r_max": [4.0, 4.0, 0.76]}}


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


def _start_worker(address, name):
    env = {**os.environ, **THREAD_ENV}
    return subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-nanny",
                             "--no-dashboard", "--name", name], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """Address of a scheduler subprocess with one worker subprocess."""
    if not DASK.exists():
        pytest.skip("the `dask` command is not installed")
    info = tmp_path_factory.mktemp("scheduler") / "scheduler.json"
    sched = subprocess.Popen([str(DASK), "scheduler", "--port", "0", "--no-dashboard",
                              "--scheduler-file", str(info)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs = [sched]
    try:
        _wait_for(info.exists, 60, "the scheduler file")
        _wait_for(lambda: info.stat().st_size > 0, 10, "the scheduler address")
        address = json.loads(info.read_text())["address"]
        procs.append(_start_worker(address, "fixture-worker"))
        yield address
    finally:
        for proc in reversed(procs):
            _stop(proc)


def test_local_cluster_with_two_workers_runs_every_task(tmp_path):
    result = run_sweep(SPEC, tmp_path, workers=2, progress=False)
    assert result.workers == 2
    assert result.counts == {"ran": 8, "resumed": 0, "skipped": 0, "failed": 0}
    assert [row["status"] for row in result.rows] == ["ok", "ok"]
    # each worker process runs Numba on one thread
    assert {t["numba_threads"] for t in result.tasks if t["kind"] != "point"} == {1}
    direct = api.validate("gaussians-quick", {**TINY, "kappa": 0.4, "seeds": 2},
                          progress=False)
    row = read_summary(tmp_path)[1]
    assert row["kappa"] == 0.4
    assert row["discrepancy"] == direct.comparison.metrics["sup_risk"]
    assert row["pde_final_risk"] == direct.pde.risk[-1]


@pytest.fixture(scope="module")
def scheduler_sweep(scheduler, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep")
    return out, run_sweep(SPEC_WITH_FAILURE, out, scheduler=scheduler, progress=False)


def test_sweep_through_a_scheduler_gives_the_validate_numbers(scheduler_sweep):
    out, result = scheduler_sweep
    row = result.rows[1]
    direct = api.validate("gaussians-quick", {**TINY, "kappa": 0.4, "seeds": 2},
                          progress=False)
    assert row["status"] == "ok"
    assert row["discrepancy"] == direct.comparison.metrics["sup_risk"]
    assert io.load(out / row["point_file"]).comparison.passed == direct.comparison.passed


def test_failing_task_is_recorded_and_the_others_go_on(scheduler_sweep):
    out, result = scheduler_sweep
    assert [row["status"] for row in result.rows] == ["ok", "ok", "failed"]
    assert "SolverError" in result.rows[2]["error"] and "r_max" in result.rows[2]["error"]
    failures = json.loads((out / "failures.json").read_text())
    assert [f["kind"] for f in failures] == ["pde"]
    assert "mass reached the outer boundary" in failures[0]["traceback"]
    # the failing point's SGD runs were not stopped by its PDE failure
    assert all((out / f).exists() for f in result.rows[2]["sgd_files"])
    assert read_summary(out)[2]["status"] == "failed"


def test_rerun_skips_every_finished_task(scheduler_sweep, scheduler):
    out, first = scheduler_sweep
    files = sorted((out / "runs").glob("*.h5"))
    stamps = [f.stat().st_mtime_ns for f in files]
    again = run_sweep(SPEC_WITH_FAILURE, out, scheduler=scheduler, progress=False)
    # 3 PDE + 6 SGD + 3 point tasks; the failed PDE is tried again (and fails again)
    assert again.counts == {"ran": 0, "resumed": 0, "skipped": 10, "failed": 1}
    assert [f.stat().st_mtime_ns for f in files] == stamps
    assert [r.get("discrepancy") for r in again.rows] == [r.get("discrepancy") for r in first.rows]


LONG = {"scenario": "gaussians-quick", "seeds": 3,
        "parameters": {"t_max": 0.4, "N": 100, "cells": 200, "n_times": 8},
        "grid": {"kappa": [0.3, 0.4]}}


@pytest.mark.slow
def test_killed_worker_task_is_rerun_elsewhere(scheduler, tmp_path):
    from distributed import Client

    victim = _start_worker(scheduler, "victim")
    try:
        with Client(scheduler, timeout=10) as client:
            client.wait_for_workers(2, timeout=60)
            pids = client.run(os.getpid)
            outcome = {}
            thread = threading.Thread(target=lambda: outcome.update(
                result=run_sweep(LONG, tmp_path, scheduler=scheduler, progress=False)))
            thread.start()

            def victim_busy():
                return any(pids.get(addr) == victim.pid and tasks
                           for addr, tasks in client.processing().items())

            _wait_for(victim_busy, 120, "a task on the victim worker")
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            thread.join(timeout=300)
        assert not thread.is_alive()
        result = outcome["result"]
        assert [row["status"] for row in result.rows] == ["ok", "ok"]
        plan = build_plan(parse_spec(LONG))
        assert all((tmp_path / t.file).exists() for t in plan.sgd.values())
    finally:
        _stop(victim)


@pytest.mark.slow
def test_ctrl_c_keeps_finished_files_and_closes_the_cluster(tmp_path):
    import psutil

    spec = tmp_path / "spec.toml"
    spec.write_text('scenario = "gaussians-quick"\nseeds = 4\n[parameters]\nt_max = 0.4\n'
                    'N = 100\ncells = 200\nn_times = 8\n[grid]\nkappa = [0.3, 0.4]\n')
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "reducedpde.cli", "sweep", str(spec),
                             "-o", str(out), "--workers", "1", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: len(list((out / "runs").glob("sgd-*.h5"))) >= 1, 120,
                  "a finished SGD task")
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "rerun the same command to continue" in err
    _wait_for(lambda: not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE
                              for c in children), 30, "the worker processes to exit")
    kept = sorted((out / "runs").glob("*.h5"))
    assert kept and all(io.load(f) is not None for f in kept)
    assert not list((out / "runs").glob(".*tmp*"))
    statuses = {row["status"] for row in read_summary(out)}
    assert "not run" in statuses or statuses == {"ok"}
    again = run_sweep(spec, out, workers=1, progress=False)
    assert again.counts["skipped"] >= len([f for f in kept if f.name.startswith("sgd-")])
    assert {row["status"] for row in again.rows} == {"ok"}
