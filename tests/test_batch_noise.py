"""Reduced mini-batch SGD of the (a, s, r) atoms (reducedpde.models.multiindex.batch_noise)."""

import numpy as np
import pytest

from reducedpde import scenarios
from reducedpde.models.multiindex.batch_noise import (
    simulate_batch_noise,
    simulate_reduced_particles,
)
from reducedpde.models.multiindex.runs import build_model


@pytest.fixture(scope="module")
def staircase():
    cfg = scenarios.resolve("staircase", {"smoothing_nodes": 0})  # the 400-node rule
    model = build_model(cfg)
    N = 20
    a = -1.0 + (2.0 * np.arange(N) + 1.0) / N
    rng = np.random.default_rng(3)
    s = 0.2 * rng.standard_normal((N, 4))  # away from the symmetric start: every mode moves
    return model, a, s, np.full(N, 0.9), np.full(N, 1.0 / N)


def test_a_batch_velocity_is_unbiased_with_variance_one_over_b(staircase):
    model, a, s, r, p = staircase
    exact = model.velocity(a, s, r, p)[1]
    rng = np.random.default_rng(0)
    for batch in (1, 16):
        draws = np.array([model.velocity(a, s, r, p,
                                         weights=rng.multinomial(batch, model.qweights)
                                         / batch)[1] for _ in range(4000)])
        se = draws.std(axis=0, ddof=1) / np.sqrt(draws.shape[0])
        assert np.all(np.abs(draws.mean(axis=0) - exact) < 4.5 * se + 1e-15)
        if batch == 1:
            var_one = draws.var(axis=0, ddof=1)
        else:  # the per-sample variance over b
            ratio = var_one.sum() / draws.var(axis=0, ddof=1).sum()
            assert abs(ratio - 16.0) < 1.6


def test_population_weights_give_the_mean_field_velocity(staircase):
    model, a, s, r, p = staircase
    for got, expected in zip(model.velocity(a, s, r, p, weights=model.qweights),
                             model.velocity(a, s, r, p), strict=True):
        np.testing.assert_array_equal(got, expected)


def test_the_short_smoothing_rule_matches_the_default_to_1e_10(staircase):
    model, a, s, r, p = staircase
    out = simulate_batch_noise(model, a, s, r, p, eps=1e-2, batch=10, t_max=0.5,
                               record_times=[0.5], progress=False)
    assert out["smoothing_error"] < 1e-10


def test_without_batch_noise_the_steps_converge_to_the_pde_at_first_order(staircase):
    model, a, s, r, p = staircase
    from scipy.integrate import solve_ivp

    M, k = a.size, s.shape[1]

    def rhs(_, y):
        da, ds, dr = model.velocity(y[:M], y[M:M + M * k].reshape(M, k), y[M + M * k:], p)
        return np.concatenate([da, ds.ravel(), dr])

    y0 = np.concatenate([a, s.ravel(), r])
    sol = solve_ivp(rhs, (0.0, 1.0), y0, rtol=1e-10, atol=1e-12)
    yT = sol.y[:, -1]
    exact = model.risk(yT[:M], yT[M:M + M * k].reshape(M, k), yT[M + M * k:], p)
    errors = [abs(simulate_batch_noise(model, a, s, r, p, eps=eps, batch=10**15, t_max=1.0,
                                       record_times=[1.0], progress=False)["risk"][0, 0]
                  - exact) for eps in (0.02, 0.01)]
    assert 1.7 < errors[0] / errors[1] < 2.3  # Euler: first order in ε
    assert errors[1] < 1e-2 * exact


def test_batch_noise_moves_the_risk_by_order_eps_over_b(staircase):
    model, a, s, r, p = staircase
    kw = {"eps": 0.01, "t_max": 2.0, "record_times": [2.0], "seeds": range(6),
          "progress": False}
    flow = simulate_batch_noise(model, a, s, r, p, batch=10**15, **kw)["risk"][0, 0]
    spread = [simulate_batch_noise(model, a, s, r, p, batch=b, **kw)["risk"][:, 0].std(ddof=1)
              for b in (1, 16)]
    # the seed spread of R is O(√(ε/b)): four times smaller for 16 times the batch
    assert 2.5 < spread[0] / spread[1] < 6.5
    assert abs(simulate_batch_noise(model, a, s, r, p, batch=16, **kw)["risk"][:, 0].mean()
               - flow) < 4 * spread[1]


@pytest.mark.parametrize("kwargs, message", [
    ({"eps": 0.0}, "'eps' must be a finite number > 0"),
    ({"batch": 0}, "'batch' must be an int >= 1"),
    ({"t_max": 1e-4}, "'t_max' must be finite and >= eps"),
])
def test_bad_input_names_the_parameter(staircase, kwargs, message):
    model, a, s, r, p = staircase
    args = {"eps": 1e-3, "batch": 10, "t_max": 1.0, "record_times": [1.0],
            "progress": False, **kwargs}
    with pytest.raises(ValueError, match=message):
        simulate_batch_noise(model, a, s, r, p, **args)


def test_gaussian_latents_are_refused_with_the_reason():
    cfg = scenarios.resolve("single-index-quick", None)
    model = build_model(cfg)
    with pytest.raises(ValueError, match="needs an exact latent"):
        simulate_batch_noise(model, [1.0], [[0.1]], [1.0], [1.0], eps=1e-3, batch=4,
                             t_max=1.0, record_times=[1.0], progress=False)


def test_reduced_particles_follow_full_dimensional_sgd():
    # the d → ∞ reduced particles against SGD of the same 30 neurons in d = 100
    from reducedpde import api

    params = {"N": 30, "d": 100, "t_max": 3.0, "eps": 2e-3, "batch": 4, "seeds": 6,
              "n_test": 20000}
    sgd = api.run_sgd("staircase", params, progress=False).sgd
    model = build_model(scenarios.resolve("staircase", params))
    N = params["N"]
    a = -1.0 + (2.0 * np.arange(N) + 1.0) / N  # SGD's initial second layer
    out = simulate_reduced_particles(model, a, np.zeros((N, 4)), np.ones(N), eps=2e-3,
                                     batch=4, d=100, t_max=3.0, record_times=[0.0, 3.0],
                                     seeds=range(12), progress=False)
    assert out["risk"][0, 0] == pytest.approx(model.finite_width_risk(a, np.zeros((N, 4)),
                                                                      np.ones(N), N))
    reduced, full = out["risk"][:, 1], sgd.risk[:, -1]
    se = np.hypot(reduced.std(ddof=1) / np.sqrt(reduced.size),
                  full.std(ddof=1) / np.sqrt(full.size))
    assert abs(reduced.mean() - full.mean()) < 4 * se
    assert full.mean() < out["risk"][0, 0] - 0.3  # the runs have moved


def test_reduced_particles_refuse_bad_dimension(staircase):
    model, a, s, r, _ = staircase
    with pytest.raises(ValueError, match="'d' must be finite and > k = 4"):
        simulate_reduced_particles(model, a, s, r, eps=1e-3, batch=4, d=4, t_max=1.0,
                                   record_times=[1.0], progress=False)
