"""Seeds fix SGD trajectories; block splitting does not change them; the NumPy twin agrees."""

import numpy as np
import pytest

from reducedpde.models.gaussians.particles import simulate_gaussians
from reducedpde.models.gaussians.particles_reference import simulate_gaussians_numpy
from reducedpde.models.multiindex.particles import simulate_multiindex

GAUSS = dict(
    N=30,
    d=12,
    delta=0.5,
    kappa=0.4,
    eps=1e-3,
    t_max=0.6,
    n_times=6,
    keep_weights=True,
    progress=False,
)
MULTI = dict(
    N=20,
    d=10,
    k=2,
    target="staircase",
    eps=1e-3,
    t_max=0.6,
    n_times=6,
    a_init=0.2,
    a_std=0.1,
    keep_weights=True,
    progress=False,
)


def test_same_seed_gives_same_trajectory():
    a = simulate_gaussians(**GAUSS, beta=50.0, seeds=(3,))
    b = simulate_gaussians(**GAUSS, beta=50.0, seeds=(3,))
    np.testing.assert_array_equal(a.risk, b.risk)
    np.testing.assert_array_equal(a.extra["final_weights"], b.extra["final_weights"])


def test_different_seeds_give_different_trajectories():
    res = simulate_gaussians(**GAUSS, seeds=(0, 1))
    assert not np.allclose(res.risk[0, 1:], res.risk[1, 1:])
    assert not np.allclose(res.extra["final_weights"][0], res.extra["final_weights"][1])


def test_seed_result_does_not_depend_on_the_rest_of_the_ensemble():
    alone = simulate_gaussians(**GAUSS, seeds=(5,))
    ensemble = simulate_gaussians(**GAUSS, seeds=(4, 5))
    np.testing.assert_array_equal(alone.risk[0], ensemble.risk[1])


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("beta", [np.inf, 20.0])
def test_block_splitting_and_recording_times_do_not_change_gaussian_trajectory(batch, beta):
    a = simulate_gaussians(**GAUSS, batch=batch, beta=beta, chunk_steps=7)
    b = simulate_gaussians(**{**GAUSS, "n_times": 2}, batch=batch, beta=beta)
    np.testing.assert_array_equal(a.extra["final_weights"], b.extra["final_weights"])


@pytest.mark.parametrize("inputs", ["gaussian", "hypercube"])
def test_block_splitting_does_not_change_multiindex_trajectory(inputs):
    a = simulate_multiindex(**MULTI, inputs=inputs, beta=30.0, chunk_steps=11)
    b = simulate_multiindex(**{**MULTI, "n_times": 2}, inputs=inputs, beta=30.0)
    np.testing.assert_array_equal(a.extra["final_weights"], b.extra["final_weights"])
    np.testing.assert_array_equal(a.extra["final_a"], b.extra["final_a"])


@pytest.mark.parametrize(("batch", "beta", "lam"), [(1, np.inf, 0.0), (4, 30.0, 0.2)])
def test_numpy_twin_reproduces_compiled_trajectory(batch, beta, lam):
    res = simulate_gaussians(**GAUSS, batch=batch, beta=beta, lam=lam, seeds=(2,))
    W = simulate_gaussians_numpy(
        GAUSS["N"],
        GAUSS["d"],
        GAUSS["delta"],
        GAUSS["kappa"],
        GAUSS["eps"],
        res.attrs["n_steps"],
        batch=batch,
        beta=beta,
        lam=lam,
        seed=2,
    )
    np.testing.assert_allclose(res.extra["final_weights"][0], W, rtol=0, atol=1e-12)
