"""A diverging SGD run stops with a clear message and keeps its last good state."""

import pytest

from reducedpde.cli import main
from reducedpde.models.gaussians.particles import simulate_gaussians
from reducedpde.solvers.particles.summaries import SGDDivergenceError

HUGE_STEP = {"N": 50, "d": 20, "delta": 0.5, "kappa": 1.0, "eps": 1.0, "t_max": 500.0,
             "activation": "relu", "progress": False}


def test_huge_step_size_raises_divergence_with_the_last_good_state():
    with pytest.raises(SGDDivergenceError, match="step size is likely too large") as info:
        simulate_gaussians(**HUGE_STEP)
    partial = info.value.partial
    assert partial is not None and partial.t.size > 0
    assert partial.attrs["diverged"]
    assert partial.t[-1] < HUGE_STEP["t_max"]


def test_divergence_message_names_the_steps_and_times():
    with pytest.raises(SGDDivergenceError, match=r"between steps \d+ and \d+ \(t = ") as info:
        simulate_gaussians(**HUGE_STEP)
    assert "seed 0" in str(info.value)


def test_cli_reports_divergence_in_one_line_and_writes_partial_file(tmp_path, capsys):
    out = tmp_path / "diverged.h5"
    code = main(["sgd", "gaussians", "-q", "-p", "N=50", "-p", "d=20", "-p", "eps=1",
                 "-p", "kappa=1", "-p", "t_max=500", "-p", "activation=relu", "-o", str(out)])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "SGD diverged" in err[0] and "reduce eps" in err[0]
    from reducedpde import io

    result = io.load(out)
    assert "diverged" in result.attrs["failure"]
