"""Checkpoints and resumption: a resumed run is bit-for-bit the uninterrupted one."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from reducedpde import io
from reducedpde.api import resume_parameters, run_sgd, validate
from reducedpde.models.gaussians.particles import simulate_gaussians
from reducedpde.models.multiindex.particles import simulate_multiindex
from reducedpde.solvers.particles.runner import Checkpointing

GAUSS = dict(N=40, d=12, delta=0.5, kappa=0.4, eps=2e-3, t_max=2.0, n_times=12,
             snapshot_times=[0.0, 0.5, 2.0], progress=False)
MULTI = dict(N=30, d=16, k=3, target="staircase", inputs="hypercube",
             eps=2e-3, t_max=1.0, n_times=8, batch=4, a_init=0.0, a_std=0.1, n_test=200,
             progress=False)


def _collect_checkpoints(simulate, **kw):
    """An uninterrupted run and every checkpoint it wrote (one after each block)."""
    states = []
    result = simulate(**kw, chunk_steps=37,
                      checkpointing=Checkpointing(every_s=0.0,
                                                  save=lambda state, _: states.append(state)))
    return result, states


def _assert_same_run(resumed, full):
    np.testing.assert_array_equal(resumed.t, full.t)
    np.testing.assert_array_equal(resumed.risk, full.risk)
    np.testing.assert_array_equal(resumed.mean_norm, full.mean_norm)
    np.testing.assert_array_equal(resumed.histograms, full.histograms)
    assert resumed.extra.keys() == full.extra.keys()
    for key in full.extra:
        np.testing.assert_array_equal(resumed.extra[key], full.extra[key], err_msg=key)


@pytest.mark.parametrize("where", [0.2, 0.5, 0.9])
def test_resumed_noisy_gaussian_run_equals_the_uninterrupted_one(where):
    kw = dict(GAUSS, beta=50.0, lam=0.05, batch=2, seeds=(3, 4), keep_weights=True)
    full, states = _collect_checkpoints(simulate_gaussians, **kw)
    assert len(states) > 10
    state = states[int(where * len(states))]
    resumed = simulate_gaussians(**kw, checkpointing=Checkpointing(resume=state))
    _assert_same_run(resumed, full)


def test_checkpoint_runs_can_stand_between_recording_steps():
    full, states = _collect_checkpoints(simulate_gaussians, **GAUSS, seeds=(0, 1))
    steps = [[run["step"] for run in s["runs"].values()] for s in states]
    # checkpoints taken after a block of the first seed: seeds at different steps
    assert any(a != b for a, b in steps)
    for state in states[1::7]:
        resumed = simulate_gaussians(**GAUSS, seeds=(0, 1),
                                     checkpointing=Checkpointing(resume=state))
        _assert_same_run(resumed, full)


def test_resumed_hypercube_multiindex_run_equals_the_uninterrupted_one():
    kw = dict(MULTI, seeds=(5,), keep_weights=True)
    full, states = _collect_checkpoints(simulate_multiindex, **kw)
    middle = states[len(states) // 2]
    resumed = simulate_multiindex(**kw, checkpointing=Checkpointing(resume=middle))
    _assert_same_run(resumed, full)


def test_resume_with_a_histogram_of_one_overlap_coordinate():
    kw = dict(MULTI, seeds=(2,), hist_variable="s1")
    full, states = _collect_checkpoints(simulate_multiindex, **kw)
    resumed = simulate_multiindex(**kw, checkpointing=Checkpointing(resume=states[-2]))
    _assert_same_run(resumed, full)


def test_checkpoint_survives_the_hdf5_round_trip(tmp_path):
    params = dict(N=30, d=10, eps=2e-3, t_max=1.0, n_times=10, seeds=2, kappa=0.4)
    full = run_sgd("gaussians", params, progress=False)
    saved = []
    run_sgd("gaussians", params, progress=False, checkpoint_every_s=0.0,
            on_checkpoint=saved.append)
    partial = saved[len(saved) // 2]
    path = io.save(partial, tmp_path / "partial.h5")
    loaded = io.load(path)
    assert loaded.sgd.checkpoint is not None
    assert loaded.sgd.t.size < full.sgd.t.size
    scenario, stored = resume_parameters(loaded)
    resumed = run_sgd(scenario, stored, progress=False, resume=loaded)
    _assert_same_run(resumed.sgd, full.sgd)
    assert resumed.sgd.checkpoint is None
    assert "checkpoint: resumable" in io.info(path)


def test_resume_with_changed_parameters_is_refused():
    params = dict(N=30, d=10, eps=2e-3, t_max=1.0, n_times=10, kappa=0.4)
    saved = []
    run_sgd("gaussians", params, progress=False, checkpoint_every_s=0.0,
            on_checkpoint=saved.append)
    with pytest.raises(ValueError, match="eps"):
        run_sgd("gaussians", dict(params, eps=1e-3), progress=False, resume=saved[3])


def test_resume_of_a_completed_run_is_refused():
    params = dict(N=20, d=8, eps=2e-3, t_max=0.2, n_times=5, kappa=0.4)
    done = run_sgd("gaussians", params, progress=False)
    with pytest.raises(ValueError, match="no SGD checkpoint"):
        run_sgd("gaussians", params, progress=False, resume=done)


def test_validate_resume_reuses_the_stored_pde():
    params = dict(N=30, d=40, eps=2e-3, t_max=1.0, n_times=10, kappa=0.4, cells=200)
    full = validate("gaussians", params, progress=False)
    saved = []
    validate("gaussians", params, progress=False, checkpoint_every_s=0.0,
             on_checkpoint=saved.append)
    partial = saved[len(saved) // 2]
    assert partial.pde is not None and partial.sgd.checkpoint is not None
    resumed = validate("gaussians", params, progress=False, resume=partial)
    _assert_same_run(resumed.sgd, full.sgd)
    np.testing.assert_array_equal(resumed.pde.risk, full.pde.risk)
    assert resumed.comparison.metrics == full.comparison.metrics


# -- the command line, killed and resumed ------------------------------------------------

CLI_PARAMS = ["-p", "N=60", "-p", "d=16", "-p", "eps=1e-5", "-p", "t_max=6", "-p",
              "kappa=0.4", "-p", "seeds=2", "-p", "n_times=30", "-p", "cells=200"]


def _cli(*args):
    return [sys.executable, "-m", "reducedpde.cli", *args]


def _start(out, *extra):
    return subprocess.Popen(
        _cli("sgd", "gaussians", *CLI_PARAMS, "-q", "-o", str(out), "--checkpoint-every", "0.1",
             *extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_file(path, proc, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return
        if proc.poll() is not None:
            raise AssertionError(f"finished before writing: {proc.communicate()}")
        time.sleep(0.02)
    raise AssertionError("no checkpoint written")


@pytest.fixture(scope="module")
def uninterrupted():
    """The reference run, in process (same code path as the CLI)."""
    params = dict(p.split("=") for p in CLI_PARAMS[1::2])
    return run_sgd("gaussians", params, progress=False).sgd


def test_sigint_writes_a_checkpoint_and_resume_finishes_the_run(tmp_path, uninterrupted):
    out = tmp_path / "run.h5"
    proc = _start(out)
    _wait_for_file(out, proc)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert f"--resume {out}" in err
    stopped = io.load(out)
    assert stopped.sgd.attrs["interrupted"] is True and stopped.sgd.checkpoint is not None
    done = subprocess.run(_cli("sgd", "--resume", str(out), "-q"), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    _assert_same_run(io.load(out).sgd, uninterrupted)


def test_sigkill_at_random_points_never_corrupts_and_resume_is_exact(tmp_path,
                                                                     uninterrupted):
    """Kill the writer at random moments: the file is always a complete earlier state,
    and resuming from whatever is there reproduces the uninterrupted run."""
    out = tmp_path / "run.h5"
    rng = np.random.default_rng(2024)
    kills = 0
    proc = _start(out)
    _wait_for_file(out, proc)
    for _ in range(3):
        time.sleep(rng.uniform(0.05, 0.6))
        if proc.poll() is not None:
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        kills += 1
        state = io.load(out)  # never corrupt: the checksum and the layout are intact
        assert state.sgd.checkpoint is not None
        proc = subprocess.Popen(_cli("sgd", "--resume", str(out), "-q",
                                     "--checkpoint-every", "0.1"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)  # let it load the checkpoint before the next kill
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert kills >= 1
    _assert_same_run(io.load(out).sgd, uninterrupted)


# -- the radial PDE ----------------------------------------------------------------------

@pytest.mark.parametrize("params", [
    dict(kappa=0.4, cells=300, t_max=5.0, n_times=20),
    dict(kappa=0.4, cells=300, t_max=5.0, n_times=20, beta=200.0, lam=0.05, d=40),
], ids=["noiseless", "noisy"])
def test_resumed_pde_run_equals_the_uninterrupted_one(tmp_path, params):
    from reducedpde.api import run_pde

    full = run_pde("gaussians", params, progress=False).pde
    saved = []
    run_pde("gaussians", params, progress=False, checkpoint_every_s=0.0,
            on_checkpoint=saved.append)
    assert len(saved) == 18  # after every output time but the first and the last
    stored = io.load(io.save(saved[7], tmp_path / "pde.h5"))
    assert stored.pde.t.size == 9 and stored.pde.checkpoint is not None
    resumed = run_pde("gaussians", params, progress=False, resume=stored).pde
    for name in ("t", "risk", "mean_norm", "densities", "snapshot_times"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(full, name))
    np.testing.assert_array_equal(resumed.extra["free_energy"], full.extra["free_energy"])
    assert resumed.attrs["n_steps"] == full.attrs["n_steps"]


def test_multiindex_pde_cannot_be_resumed():
    from reducedpde.api import run_pde

    done = run_pde("gaussians", dict(cells=100, t_max=0.1, n_times=4), progress=False)
    with pytest.raises(ValueError, match="not checkpointed"):
        run_pde("single-index-quick", None, progress=False, resume=done)


def test_cli_resume_of_a_bad_or_finished_file_exits_2_with_one_line(tmp_path, capsys):
    from reducedpde.cli import main

    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    assert main(["sgd", "--resume", str(garbage), "-q"]) == 2
    finished = tmp_path / "done.h5"
    assert main(["sgd", "gaussians", "-q", "-p", "N=10", "-p", "d=8", "-p", "eps=1e-2",
                 "-p", "t_max=0.1", "-o", str(finished)]) == 0
    capsys.readouterr()
    assert main(["sgd", "--resume", str(finished), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no SGD checkpoint" in err[0]
    assert main(["sgd", "-q"]) == 2  # neither a scenario nor --resume
