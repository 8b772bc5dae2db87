"""Parameter validation (one table, one validator) and the command line."""

import math
import subprocess
import sys

import h5py
import numpy as np
import pytest

from reducedpde import api
from reducedpde.cli import main
from reducedpde.scenarios import resolve

BAD_INPUTS = [
    ({"delta": 0.0}, "'delta' must be float in (0, 1)"),
    ({"delta": 1.5}, "'delta' must be float in (0, 1)"),
    ({"kappa": 0.0}, "'kappa' must be float in (0, 1000]"),
    ({"kappa": -1}, "'kappa' must be float in (0, 1000]"),
    ({"d": 1}, "'d' must be int in [2, 1e+09] or inf"),
    ({"d": 3.5}, "'d' must be int in [2, 1e+09] or inf"),
    ({"beta": 0.0}, "'beta' must be float in (0, 1e+12] or inf"),
    ({"beta": -2.0}, "'beta' must be float in (0, 1e+12] or inf"),
    ({"cells": 5}, "'cells' must be int in [20, 1e+07]"),
    ({"t_max": -1.0}, "'t_max' must be float in (0, 1e+12]"),
    ({"t_min": -1e-3}, "'t_min' must be float in (0, 1e+12]"),
    ({"lam": -0.1}, "'lam' must be float in [0, 1e+06]"),
    ({"activation": "swish"}, "'activation' must be one of"),
]


@pytest.mark.parametrize(("params", "message"), BAD_INPUTS)
def test_bad_parameter_raises_value_error_naming_it_and_its_range(params, message):
    with pytest.raises(ValueError) as info:
        resolve("gaussians", params)
    assert message in str(info.value)


def test_unknown_parameter_gets_a_did_you_mean_hint():
    with pytest.raises(ValueError, match=r"unknown parameter 'kapa'.*did you mean 'kappa'"):
        resolve("gaussians", {"kapa": 0.1})


def test_relations_between_parameters_are_checked():
    with pytest.raises(ValueError, match="'t_min' must be < t_max"):
        resolve("gaussians", {"t_min": 10.0, "t_max": 1.0})
    with pytest.raises(ValueError, match="'r_max' must exceed the initial support"):
        resolve("gaussians", {"kappa": 3.0, "r_max": 2.0})
    with pytest.raises(ValueError, match="'beta' must be inf when d=inf"):
        resolve("gaussians", {"d": "inf", "beta": 10.0})


def test_strings_from_the_command_line_are_converted():
    cfg = resolve("gaussians", {"d": "inf", "beta": "inf", "cells": "300", "kappa": "0.2"})
    assert cfg["d"] == math.inf and cfg["cells"] == 300 and cfg["kappa"] == 0.2


def test_run_pde_rejects_bad_input_before_solving():
    with pytest.raises(ValueError, match="'delta'"):
        api.run_pde("gaussians", {"delta": 2})


def test_negative_output_times_are_rejected(fig4_model):
    from reducedpde.solvers.fv.grid import Grid1D
    from reducedpde.solvers.fv.radial import solve_radial

    grid = Grid1D.uniform(0, 4, 50)
    with pytest.raises(ValueError, match="times must be increasing, start at 0"):
        solve_radial(fig4_model, grid, np.ones(50), np.array([0.0, -1.0]), progress=False)


def test_cli_bad_parameter_prints_one_line_and_exits_2(capsys):
    assert main(["pde", "gaussians", "-p", "delta=1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "'delta' must be float in (0, 1)" in err


def test_cli_subprocess_has_no_traceback_on_bad_input():
    proc = subprocess.run(
        [sys.executable, "-m", "reducedpde.cli", "pde", "gaussians", "-p", "kappa=-1"],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_cli_unknown_scenario_exits_2(capsys):
    assert main(["pde", "no-such-scenario"]) == 2
    assert "available:" in capsys.readouterr().err


def test_cli_pde_writes_a_loadable_file(tmp_path, capsys):
    out = tmp_path / "run.h5"
    code = main(["pde", "gaussians", "-q", "-p", "cells=200", "-p", "t_max=2",
                 "-p", "n_times=20", "-o", str(out)])
    assert code == 0
    assert "R(t=2)" in capsys.readouterr().out
    with h5py.File(out) as fh:
        assert fh["pde/risk"].shape == (20,)
    assert main(["info", str(out)]) == 0
    assert "final risk" in capsys.readouterr().out


def test_cli_reads_parameters_from_toml(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("[parameters]\ncells = 100\nt_max = 1.0\nn_times = 10\n")
    assert main(["pde", "gaussians", "-q", "--config", str(config)]) == 0
    assert "on 100 cells" in capsys.readouterr().out
    config.write_text("cells = 5\n")
    assert main(["pde", "gaussians", "-q", "--config", str(config)]) == 2


def test_cli_list_shows_parameters_of_a_scenario(capsys):
    assert main(["list", "gaussians"]) == 0
    out = capsys.readouterr().out
    assert "kappa" in out and "float in (0, 1000]" in out
