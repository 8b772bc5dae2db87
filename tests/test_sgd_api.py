"""Public API of the SGD simulators: result layout, recording, interrupts, initial laws."""

import math

import numpy as np
import pytest

from reducedpde.activations import get_activation
from reducedpde.models.gaussians.particles import simulate_gaussians
from reducedpde.models.gaussians.population_risk import gaussian_classes_risk
from reducedpde.models.multiindex.expansions import hermite_expansion, make_target, staircase
from reducedpde.models.multiindex.particles import simulate_multiindex
from reducedpde.models.multiindex.population_risk import multiindex_gaussian_risk
from reducedpde.results import SGDResult
from reducedpde.solvers.particles.kernels import (
    SAMPLER_GAUSSIAN_CLASSES,
    SAMPLER_GAUSSIAN_SUBSPACE,
    SAMPLER_HYPERCUBE_SUBSPACE,
    draw_batch,
)

GAUSS = dict(N=20, d=8, delta=0.5, kappa=0.4, eps=1e-3, t_max=0.5, n_times=5, progress=False)
MULTI = dict(
    N=16,
    d=8,
    k=2,
    target={(1, 0): 1.0, (1, 1): 0.5},
    eps=1e-3,
    t_max=0.5,
    n_times=5,
    progress=False,
)


def test_gaussians_result_layout():
    res = simulate_gaussians(**GAUSS, seeds=(0, 1, 2), keep_weights=True)
    assert isinstance(res, SGDResult)
    n_t, n_s = res.t.size, res.snapshot_times.size
    assert res.t[0] == 0.0 and res.t[-1] == pytest.approx(GAUSS["t_max"])
    assert np.all(np.diff(res.t) > 0)
    assert res.risk.shape == res.mean_norm.shape == (3, n_t)
    assert res.histograms.shape == (3, n_s, res.hist_edges.size - 1)
    assert res.extra["snapshot_norm"].shape == (3, n_s, GAUSS["N"])
    assert res.extra["final_weights"].shape == (3, GAUSS["N"], GAUSS["d"])
    np.testing.assert_array_equal(res.seeds, [0, 1, 2])
    for key in ("N", "d", "eps", "lam", "beta", "batch", "wall_time_s", "interrupted"):
        assert key in res.attrs
    assert res.attrs["interrupted"] is False


def test_recorded_risk_is_the_exact_risk_of_the_recorded_weights():
    res = simulate_gaussians(**GAUSS, keep_weights=True)
    W = res.extra["final_weights"][0]
    assert res.risk[0, -1] == gaussian_classes_risk(W, get_activation("mmn18"), GAUSS["delta"])
    assert res.mean_norm[0, -1] == pytest.approx(np.linalg.norm(W, axis=1).mean())


def test_histograms_are_densities_on_given_edges():
    edges = np.linspace(0.0, 3.0, 31)
    res = simulate_gaussians(**GAUSS, hist_edges=edges, snapshot_times=[0.0, 0.25, 0.5])
    np.testing.assert_array_equal(res.hist_edges, edges)
    np.testing.assert_allclose(res.snapshot_times, [0.0, 0.25, 0.5])
    mass = (res.histograms * np.diff(edges)).sum(axis=-1)
    np.testing.assert_allclose(mass, 1.0)
    counts, _ = np.histogram(res.extra["snapshot_norm"][0, 1], bins=edges)
    np.testing.assert_allclose(res.histograms[0, 1] * np.diff(edges) * GAUSS["N"], counts)


def test_explicit_record_times_are_rounded_to_steps():
    res = simulate_gaussians(**GAUSS, record_times=[0.1, 0.20004, 0.3], snapshot_times=[0.5])
    np.testing.assert_allclose(res.t, [0.0, 0.1, 0.2, 0.3, 0.5])


def test_keyboard_interrupt_returns_what_was_recorded():
    def xi(t):
        if np.any(t > 0.3):
            raise KeyboardInterrupt
        return np.ones_like(t)

    res = simulate_gaussians(
        **GAUSS,
        xi=xi,
        seeds=(0, 1),
        keep_weights=True,
        record_times=[0.1, 0.2, 0.4],
        snapshot_times=[0.0],
    )
    assert res.attrs["interrupted"] is True
    np.testing.assert_allclose(res.t, [0.0, 0.1, 0.2])
    assert res.risk.shape == (2, 3)
    assert np.all(np.isfinite(res.risk))
    assert res.extra["final_weights"].shape == (2, GAUSS["N"], GAUSS["d"])


def test_zero_schedule_freezes_the_weights():
    res = simulate_gaussians(**GAUSS, xi=lambda t: 0.0 * t, beta=10.0, keep_weights=True)
    assert np.all(res.risk == res.risk[:, :1])


def test_sgd_decreases_the_risk():
    res = simulate_gaussians(**{**GAUSS, "t_max": 3.0})
    assert res.risk[0, -1] < 0.5 * res.risk[0, 0]


def test_multiindex_result_layout_and_summaries():
    res = simulate_multiindex(**MULTI, seeds=(0, 1), a_init=0.3, keep_weights=True)
    n_t, n_s, k = res.t.size, res.snapshot_times.size, MULTI["k"]
    assert res.risk.shape == (2, n_t)
    assert res.extra["mean_s"].shape == (2, n_t, k)
    assert res.extra["mean_a"].shape == res.extra["mean_r"].shape == (2, n_t)
    assert res.extra["snapshot_s"].shape == (2, n_s, MULTI["N"], k)
    W, A = res.extra["final_weights"][1], res.extra["final_a"][1]
    np.testing.assert_allclose(res.extra["mean_s"][1, -1], W[:, :k].mean(axis=0))
    np.testing.assert_allclose(res.extra["mean_r"][1, -1], np.linalg.norm(W[:, k:], axis=1).mean())
    assert res.extra["mean_a"][1, -1] == pytest.approx(A.mean())
    exp = hermite_expansion(make_target(MULTI["target"], k))
    assert res.risk[1, -1] == pytest.approx(
        multiindex_gaussian_risk(W, A, exp, get_activation("relu")), rel=1e-12
    )


def test_initial_law_with_given_s_and_r():
    s0 = np.array([0.3, -0.2])
    res = simulate_multiindex(**MULTI, w_init={"s": s0, "r": 1.0}, a_init=np.arange(16.0))
    np.testing.assert_allclose(res.extra["snapshot_s"][0, 0], np.tile(s0, (16, 1)))
    np.testing.assert_allclose(res.extra["snapshot_r"][0, 0], 1.0)
    np.testing.assert_allclose(res.extra["snapshot_a"][0, 0], np.arange(16.0))


def test_zero_second_layer_rate_freezes_a():
    res = simulate_multiindex(**MULTI, xi_a=0.0, a_init=0.5, a_std=0.2, beta=10.0)
    a = res.extra["snapshot_a"][0]
    np.testing.assert_array_equal(a[-1], a[0])
    assert not np.allclose(res.extra["snapshot_s"][0, -1], res.extra["snapshot_s"][0, 0])


def test_hypercube_staircase_risk_has_standard_error():
    res = simulate_multiindex(
        **{**MULTI, "k": 4, "target": "staircase"}, inputs="hypercube", n_test=4000
    )
    stderr = res.extra["risk_stderr"]
    assert stderr.shape == res.risk.shape and np.all(stderr > 0)
    # a = 0 at t = 0: the risk is E y² = 4 for the staircase
    assert abs(res.risk[0, 0] - 4.0) < 4 * stderr[0, 0]
    assert res.attrs["risk_method"] == "test set"


def test_staircase_target_values():
    z = np.array([[1.0, -1.0, 1.0, 1.0], [-1.0, 1.0, -1.0, -1.0]])
    np.testing.assert_allclose(staircase(4)(z), [1 - 1 - 1 - 1, -1 - 1 + 1 - 1])


def test_histogram_variable_choice():
    edges = np.linspace(-1.0, 1.0, 21)
    res = simulate_multiindex(**MULTI, hist_variable="s1", hist_edges=edges)
    counts, _ = np.histogram(res.extra["snapshot_s"][0, -1, :, 0], bins=edges)
    np.testing.assert_allclose(res.histograms[0, -1] * np.diff(edges) * MULTI["N"], counts)
    assert math.isclose(res.attrs["eps"], MULTI["eps"])


def test_samplers_draw_the_stated_laws():
    rng = np.random.default_rng(0)
    n, d, k, delta = 40_000, 6, 2, 0.5
    X, Y = np.empty((n, d)), np.empty(n)
    draw_batch(SAMPLER_GAUSSIAN_CLASSES, rng, delta, np.empty((0, 1)), np.empty(0), 0, X, Y)
    assert abs(Y.mean()) < 4 / np.sqrt(n)
    for label in (1.0, -1.0):
        var = X[Y == label].var(axis=0)
        np.testing.assert_allclose(var, (1 + delta * label) ** 2, rtol=0.05)
    Z, Yz = rng.standard_normal((n, k)), rng.standard_normal(n)
    draw_batch(SAMPLER_HYPERCUBE_SUBSPACE, rng, 0.0, Z, Yz, 0, X, Y)
    np.testing.assert_array_equal(X[:, :k], Z)
    np.testing.assert_array_equal(Y, Yz)
    assert set(np.unique(X[:, k:])) == {-1.0, 1.0}
    assert np.all(np.abs(X[:, k:].mean(axis=0)) < 4 / np.sqrt(n))
    assert abs(np.mean(X[:, k] * X[:, k + 1])) < 4 / np.sqrt(n)
    draw_batch(SAMPLER_GAUSSIAN_SUBSPACE, rng, 0.0, Z, Yz, 0, X, Y)
    np.testing.assert_allclose(X[:, k:].var(axis=0), 1.0, rtol=0.05)
