"""Ctrl-C and SIGTERM stop runs cleanly and keep what was computed."""

import os
import re
import signal
import subprocess
import sys
import time

import numpy as np

from reducedpde import io
from reducedpde.models.gaussians.radial import scaled_chi_cdf
from reducedpde.solvers.fv import radial
from reducedpde.solvers.fv.grid import Grid1D


def test_pde_interrupt_returns_the_completed_outputs(fig4_model, monkeypatch):
    grid = Grid1D.uniform(0.0, 4.0, 200)
    masses = grid.cell_masses(scaled_chi_cdf(0.4, 320))
    real = radial.steppers.integrate_transport
    calls = {"n": 0}

    def interrupt_on_fifth_call(*args):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(radial.steppers, "integrate_transport", interrupt_on_fifth_call)
    times = np.linspace(0.0, 1.0, 11)
    res = radial.solve_radial(fig4_model, grid, masses, times, progress=False)
    assert res.attrs["interrupted"] is True
    np.testing.assert_array_equal(res.t, times[:5])
    assert np.all(np.isfinite(res.risk)) and res.risk.size == 5
    assert np.all(res.snapshot_times <= res.t[-1])


def _wait_for_progress(proc, timeout=120.0):
    """Read the progress bar until SGD has taken steps (so compilation is over)."""
    pattern = re.compile(r"\|\s*([1-9]\d*)/")
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunk = proc.stderr.read(1)
        if not chunk:
            break
        seen += chunk
        if pattern.search(seen[-200:]):
            return
    raise AssertionError(f"no SGD progress seen: {seen[-500:]!r}")


def test_sigterm_stops_sgd_and_writes_the_file(tmp_path):
    out = tmp_path / "run.h5"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reducedpde.cli", "sgd", "gaussians", "-p", "N=200",
         "-p", "d=40", "-p", "eps=1e-6", "-p", "t_max=5", "-p", "kappa=0.4",
         "-o", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for_progress(proc)
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "interrupted" in err
    result = io.load(out)
    assert result.sgd.attrs["interrupted"] is True
    assert 0 < result.sgd.t[-1] < 5.0
