"""Property-based checks: random parameters and random bytes never escape as a traceback."""

import math
import subprocess
import sys

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reducedpde import io
from reducedpde.cli import main
from reducedpde.models.gaussians.parameters import GAUSSIANS_PARAMETERS
from reducedpde.scenarios import resolve

KEYS = [*sorted(GAUSSIANS_PARAMETERS), "kapa", "cels", "", "N ", "unknown"]
VALUES = st.one_of(
    st.integers(-10**12, 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6))
def test_random_parameter_dicts_validate_or_raise_value_error(params):
    try:
        cfg = resolve("gaussians", params)
    except ValueError as exc:
        assert str(exc)  # a message, naming what is wrong
        return
    # accepted: every value is in its declared range
    for name, param in GAUSSIANS_PARAMETERS.items():
        assert param.convert(cfg[name]) == cfg[name] or (
            isinstance(cfg[name], float) and math.isinf(cfg[name])
        )


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=4096))
def test_random_bytes_as_hdf5_raise_result_file_error(tmp_path, data):
    path = tmp_path / "random.h5"
    path.write_bytes(data)
    with pytest.raises(io.ResultFileError):
        io.load(path)


@pytest.fixture(scope="module")
def small_result_bytes(tmp_path_factory):
    from reducedpde.results import PDEResult, RunResult

    path = tmp_path_factory.mktemp("fuzz") / "run.h5"
    pde = PDEResult(t=np.linspace(0, 1, 5), risk=np.ones(5), mean_norm=np.ones(5),
                    snapshot_times=np.array([0.0, 1.0]), densities=np.ones((2, 3)),
                    grid_edges=np.linspace(0, 1, 4))
    io.save(RunResult("gaussians", {"kappa": 0.1}, pde=pde), path)
    return path.read_bytes()


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_truncated_result_files_raise_result_file_error(tmp_path, small_result_bytes, data):
    """Every truncation point of a valid file (a killed writer without atomic rename)."""
    cut = data.draw(st.integers(0, len(small_result_bytes) - 1))
    path = tmp_path / "cut.h5"
    path.write_bytes(small_result_bytes[:cut])
    with pytest.raises(io.ResultFileError):
        io.load(path)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from([*KEYS[:8], "kapa"]), st.text(max_size=8), max_size=3))
def test_cli_bad_parameters_exit_2_with_one_line(params):
    args = ["pde", "gaussians", "-q", "-p", "t_max=1e-3", "-p", "cells=50", "-p", "n_times=3"]
    for key, value in params.items():
        args += ["-p", f"{key}={value}"]
    import contextlib
    import io as stdio

    err = stdio.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(stdio.StringIO()):
        code = main(args)
    assert code in (0, 1, 2)
    if code == 2:
        assert err.getvalue().count("\n") == 1


def test_cli_on_random_bytes_prints_one_line(tmp_path):
    path = tmp_path / "junk.h5"
    path.write_bytes(np.random.default_rng(0).bytes(2000))
    proc = subprocess.run([sys.executable, "-m", "reducedpde.cli", "info", str(path)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_h5py_is_the_only_reader():
    # guards the premise of the fuzz tests above: we read with h5py
    assert io.load.__module__ == "reducedpde.io" and h5py.__version__
