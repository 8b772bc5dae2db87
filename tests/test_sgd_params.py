"""Bad input to the SGD simulators raises a ValueError naming the parameter."""

import math

import numpy as np
import pytest

from reducedpde.models.gaussians.particles import simulate_gaussians
from reducedpde.models.multiindex.particles import simulate_multiindex
from reducedpde.solvers.particles.params import validate_parameters

GAUSS = dict(N=4, d=3, delta=0.5, kappa=0.4, eps=1e-2, t_max=0.1, progress=False)
MULTI = dict(N=4, d=3, k=1, target=[0.0, 1.0], eps=1e-2, t_max=0.1, progress=False)

GAUSS_CASES = [
    ("N", 0),
    ("N", 2.5),
    ("N", True),
    ("d", 0),
    ("eps", 0.0),
    ("eps", -1.0),
    ("eps", math.nan),
    ("t_max", 0.0),
    ("t_max", 1e-3),
    ("lam", -0.1),
    ("beta", 0.0),
    ("beta", -2.0),
    ("beta", -math.inf),
    ("batch", 0),
    ("delta", 1.0),
    ("delta", -0.1),
    ("kappa", -1.0),
    ("n_times", 0),
    ("seeds", [-1]),
    ("seeds", []),
    ("seeds", [1.5]),
    ("hist_edges", [1.0, 0.5]),
    ("activation", "no-such-activation"),
    ("record_times", [-1.0]),
    ("snapshot_times", [10.0]),
    ("xi", "fast"),
    ("chunk_steps", 0),
]

MULTI_CASES = [
    ("k", 0),
    ("k", 4),
    ("xi_a", -1.0),
    ("xi_w", -0.5),
    ("a_std", -1.0),
    ("n_test", 1),
    ("inputs", "sphere"),
    ("hist_variable", "s2"),
    ("target", "no-such-target"),
    ("target", [[1.0, 2.0]]),
    ("w_init", "uniform"),
    ("w_init", np.zeros((3, 3))),
    ("a_init", np.zeros(5)),
    ("hermite_degree", -1),
]


@pytest.mark.parametrize(("name", "value"), GAUSS_CASES)
def test_simulate_gaussians_rejects_bad_parameter(name, value):
    with pytest.raises(ValueError, match=name):
        simulate_gaussians(**{**GAUSS, name: value})


@pytest.mark.parametrize(("name", "value"), MULTI_CASES)
def test_simulate_multiindex_rejects_bad_parameter(name, value):
    with pytest.raises(ValueError, match=name):
        simulate_multiindex(**{**MULTI, name: value})


def test_error_message_states_allowed_range():
    with pytest.raises(ValueError, match=r"beta must be float in \(0, inf\], got -1"):
        validate_parameters(beta=-1)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, d\] = \[1, 3\]"):
        validate_parameters(k=5, d=3)


def test_schedule_returning_negative_values_is_rejected():
    with pytest.raises(ValueError, match="xi must return finite values >= 0"):
        simulate_gaussians(**GAUSS, xi=lambda t: 1.0 - 20.0 * t)
