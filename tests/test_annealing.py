"""Annealed mean-field Langevin runs of the radial model (reducedpde.models.gaussians.annealing).

Problem: gaussians-noisy on 200 cells, 3 rounds of t = 150 at β = 80, 160, 320 (λ = 0.1·2^-k).
Measured: each round end lies 3.7e-13, 2.3e-14 and 4.2e-10 (L1) from the independent
fixed-point solve at its (β_k, λ_k); the certificate at the round ends is below 1e-16;
round-end risk 0.04892, 0.04452, 0.04187 (noiseless λ = 0 run at t = 200: 0.0358).
"""

import numpy as np
import pytest
from test_mfld_certificates import gibbs_state

from reducedpde import api
from reducedpde.models import build_model
from reducedpde.models.gaussians.particles import simulate_gaussians
from reducedpde.scenarios import get_scenario, resolve

ANNEALED = {"anneal": "geometric", "rounds": 3, "round_time": 150.0, "cells": 200,
            "n_times": 120}


@pytest.fixture(scope="module")
def annealed():
    return api.run_pde("gaussians-noisy", ANNEALED, progress=False).pde


@pytest.mark.parametrize("k", [0, 1, 2])
def test_each_round_ends_on_the_gibbs_state_of_its_beta(annealed, k):
    reduction = build_model(resolve("gaussians-noisy", ANNEALED))
    grid = reduction.grid()
    model = reduction.reduced_model()
    beta, lam = 80.0 * 2**k, 0.1 * 2.0**-k
    star = gibbs_state(model, grid, annealed.cell_masses[k], beta, lam)
    assert np.abs(annealed.cell_masses[k + 1] - star).sum() < 1e-6


def test_beta_doubles_from_round_to_round(annealed):
    beta, t = annealed.extra["beta"], annealed.t
    ends = annealed.extra["round_end_t"]
    assert np.array_equal(ends, [150.0, 300.0, 450.0])
    expected = 80.0 * 2.0 ** np.clip(np.ceil(t / 150.0 - 1e-9) - 1, 0, 2)
    assert np.array_equal(beta, expected)


def test_the_weight_decay_is_scaled_with_the_temperature(annealed):
    assert np.allclose(annealed.extra["lam"] * annealed.extra["beta"], 8.0, rtol=1e-15)


def test_a_density_snapshot_is_kept_at_every_round_end(annealed):
    assert np.array_equal(annealed.snapshot_times, [0.0, 150.0, 300.0, 450.0])


def test_the_risk_at_the_round_ends_falls_as_beta_grows(annealed):
    ends = np.searchsorted(annealed.t, annealed.extra["round_end_t"])
    assert np.all(np.diff(annealed.risk[ends]) < 0)


def test_the_output_times_increase_across_rounds(annealed):
    assert np.all(np.diff(annealed.t) > 0)


def test_adaptive_rounds_end_once_the_gap_is_below_the_tolerance():
    pde = api.run_pde("gaussians-noisy", {"anneal": "adaptive", "rounds": 2,
                                          "round_time": 100.0, "round_gap_tol": 1e-6,
                                          "cells": 200, "n_times": 80},
                      progress=False).pde
    lengths = np.diff(np.concatenate([[0.0], pde.extra["round_end_t"]]))
    assert np.all(lengths < 100.0) and np.all(pde.extra["round_gap"] < 1e-6)


def _sgd(anneal=None, beta=80.0, lam=0.1, t_max=0.02):
    return simulate_gaussians(N=20, d=10, delta=0.5, kappa=0.4, eps=1e-3, t_max=t_max,
                              lam=lam, beta=beta, record_times=np.linspace(0, t_max, 5),
                              progress=False, anneal=anneal)


def test_sgd_with_a_constant_schedule_is_the_plain_run_bit_for_bit():
    plain = _sgd()
    annealed = _sgd({"round_time": 0.01, "betas": [80.0, 80.0], "lams": [0.1, 0.1]})
    assert np.array_equal(plain.risk, annealed.risk)


def test_sgd_changes_temperature_only_after_the_first_round():
    plain = _sgd()
    annealed = _sgd({"round_time": 0.01, "betas": [80.0, 160.0], "lams": [0.1, 0.05]})
    first = annealed.t <= 0.01 + 1e-12
    assert np.array_equal(plain.risk[:, first], annealed.risk[:, first])
    assert not np.any(plain.risk[:, ~first] == annealed.risk[:, ~first])
    assert np.array_equal(annealed.extra["beta"], np.where(first, 80.0, 160.0))


def test_adaptive_annealing_is_refused_for_particles():
    with pytest.raises(ValueError, match="anneal"):
        api.run_sgd("gaussians-noisy", {"anneal": "adaptive", "rounds": 2, "N": 5,
                                        "t_max": 0.01, "t_min": 1e-3, "eps": 1e-3}, progress=False)


@pytest.mark.parametrize("params, name", [({"rounds": 0}, "rounds"),
                                          ({"anneal": "geometric", "beta": "inf"}, "beta")])
def test_bad_annealing_input_names_the_parameter(params, name):
    with pytest.raises(ValueError, match=name):
        resolve("gaussians-noisy", params)


def test_the_gaussians_mfld_scenario_is_annealed_with_a_source():
    scenario = get_scenario("gaussians-mfld")
    assert scenario.defaults()["anneal"] == "geometric" and "Langevin" in scenario.source
