"""The finite-N gradient flow of the Gaussian classes: SGD's ε → 0 limit at fixed N.

Verified: the exact population gradient against finite differences of the exact risk,
the two evaluation paths of the pair terms against each other, the risk decreasing along
the flow, the order of the Dormand–Prince steps and the error against the tolerance,
per-seed convergence of SGD to the flow at the rate √ε, the time convention (ξ, λ),
the SGD's initialisation, checkpoints and the refusal of unsupported parameters.
"""

import math

import numpy as np
import pytest

from reducedpde import io
from reducedpde.activations import mmn18, relu
from reducedpde.api import run_sgd
from reducedpde.models.gaussians.gradient_flow import simulate_gaussians_flow
from reducedpde.models.gaussians.particles import (
    gaussian_initial_weights,
    gaussian_run_generators,
    simulate_gaussians,
)
from reducedpde.models.gaussians.population_gradient import (
    gaussian_classes_risk_gradient,
    gaussian_classes_velocity,
)
from reducedpde.models.gaussians.population_risk import gaussian_classes_risk
from reducedpde.scenarios import resolve
from reducedpde.solvers.particles.flow_stepper import DormandPrince
from reducedpde.solvers.particles.runner import Checkpointing

SMALL = dict(N=20, d=10, delta=0.5, kappa=0.4, progress=False)


def _initial_weights(seed, N=20, d=10, kappa=0.4):
    return gaussian_initial_weights(gaussian_run_generators(seed)[0], N, d, kappa)


def _central_difference(W, activation, delta, h=1e-5):
    grad = np.zeros_like(W)
    for index in np.ndindex(W.shape):
        up, down = W.copy(), W.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (gaussian_classes_risk(up, activation, delta)
                       - gaussian_classes_risk(down, activation, delta)) / (2 * h)
    return grad


@pytest.mark.parametrize("activation", [mmn18(), relu()], ids=["mmn18", "relu"])
def test_gradient_equals_finite_difference_of_the_exact_risk(activation):
    rng = np.random.default_rng(11)
    W = 0.8 * rng.standard_normal((5, 4))
    W[1] = W[0] + 1e-2 * rng.standard_normal(4)  # an aligned pair: closed-form branch
    W[3] = -W[2] + 1e-2 * rng.standard_normal(4)  # an anti-aligned pair
    grad = gaussian_classes_risk_gradient(W, activation, 0.5)
    fd = _central_difference(W, activation, 0.5)
    np.testing.assert_allclose(grad, fd, rtol=0, atol=1e-8 * max(1.0, np.abs(fd).max()))


def test_mehler_series_and_closed_forms_give_the_same_velocity():
    rng = np.random.default_rng(3)
    W = 0.2 * rng.standard_normal((60, 12)) * rng.uniform(0.5, 8.0, size=(60, 1))
    series = gaussian_classes_velocity(W, mmn18(), 0.5, c_threshold=0.5)
    closed = gaussian_classes_velocity(W, mmn18(), 0.5, c_threshold=-1.0)
    np.testing.assert_allclose(series, closed, rtol=0, atol=1e-12 * np.abs(closed).max())


def test_weight_decay_adds_minus_two_lambda_w():
    W = _initial_weights(0)
    plain = gaussian_classes_velocity(W, mmn18(), 0.5)
    decayed = gaussian_classes_velocity(W, mmn18(), 0.5, lam=0.3)
    np.testing.assert_allclose(decayed, plain - 0.6 * W, rtol=1e-13, atol=1e-15)


def test_flow_starts_from_the_sgd_initial_neurons():
    kw = dict(SMALL, eps=1e-3, t_max=0.01, seeds=(4, 9), n_times=3)
    flow = simulate_gaussians_flow(**kw)
    sgd = simulate_gaussians(**kw)
    assert flow.t[0] == sgd.t[0] == 0.0
    np.testing.assert_array_equal(flow.extra["snapshot_norm"][:, 0],
                                  sgd.extra["snapshot_norm"][:, 0])
    np.testing.assert_array_equal(flow.risk[:, 0], sgd.risk[:, 0])
    np.testing.assert_array_equal(flow.t, sgd.t)


def test_risk_is_non_increasing_along_the_flow():
    times = np.linspace(0.0, 3.0, 61)
    flow = simulate_gaussians_flow(**SMALL, eps=1e-3, t_max=3.0, record_times=times,
                                   seeds=(0, 1))
    increments = np.diff(flow.risk, axis=1)
    assert np.all(increments <= 1e-13), increments.max()
    assert np.all(flow.risk[:, -1] < flow.risk[:, 0] - 0.1)  # the flow does move


def test_dormand_prince_steps_are_fifth_order_on_the_flow():
    W0 = _initial_weights(0)

    def velocity(t, W):
        return gaussian_classes_velocity(W, mmn18(), 0.5)

    reference = DormandPrince(velocity, W0, 0.0, 1e-12)
    reference.advance_to(0.5)
    errors = []
    for n_steps in (10, 20, 40):
        integrator = DormandPrince(velocity, W0, 0.0, 1e-6)
        integrator.advance_fixed(0.5, n_steps)
        errors.append(np.linalg.norm(integrator.W - reference.W))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 4.6) & (orders < 5.7)), orders


def test_global_error_is_proportional_to_the_tolerance():
    W0 = _initial_weights(1)

    def velocity(t, W):
        return gaussian_classes_velocity(W, mmn18(), 0.5)

    reference = DormandPrince(velocity, W0, 0.0, 1e-12)
    reference.advance_to(1.0)
    tols = np.array([1e-5, 1e-6, 1e-7, 1e-8])
    errors = []
    for tol in tols:
        integrator = DormandPrince(velocity, W0, 0.0, tol)
        integrator.advance_to(1.0)
        errors.append(np.linalg.norm(integrator.W - reference.W) / np.linalg.norm(reference.W))
    errors = np.array(errors)
    slope = np.polyfit(np.log(tols), np.log(errors), 1)[0]
    assert 0.85 < slope < 1.15, slope
    assert np.all(errors < tols), errors / tols


def test_sgd_approaches_the_flow_per_seed_at_rate_sqrt_eps():
    seeds = tuple(range(6))
    kw = dict(SMALL, t_max=0.5, record_times=[0.0, 0.5], seeds=seeds, keep_weights=True)
    flow = simulate_gaussians_flow(**kw, eps=1e-3, flow_tol=1e-9)
    eps_values = np.array([2.5e-4, 6.25e-5, 1.5625e-5])
    weight_gaps, risk_gaps = [], []
    for eps in eps_values:
        sgd = simulate_gaussians(**kw, eps=eps)
        gap = sgd.extra["final_weights"] - flow.extra["final_weights"]
        weight_gaps.append(np.linalg.norm(gap, axis=(1, 2)) / math.sqrt(SMALL["N"]))
        risk_gaps.append(np.abs(sgd.risk[:, -1] - flow.risk[:, -1]))
    weight_gaps, risk_gaps = np.array(weight_gaps), np.array(risk_gaps)
    # every seed: the gap at the smallest step is well below that at the largest
    assert np.all(weight_gaps[-1] < 0.6 * weight_gaps[0]), weight_gaps
    rms = np.sqrt(np.mean(weight_gaps**2, axis=1))
    rate = np.polyfit(np.log(eps_values), np.log(rms), 1)[0]
    assert 0.4 < rate < 0.6, rate
    assert risk_gaps[-1].mean() < 0.5 * risk_gaps[0].mean(), risk_gaps


def test_sgd_with_weight_decay_approaches_the_flow_with_the_same_decay():
    kw = dict(SMALL, t_max=0.5, record_times=[0.0, 0.5], seeds=(0, 1), keep_weights=True)
    sgd = simulate_gaussians(**kw, eps=1e-5, lam=1.0)
    decayed = simulate_gaussians_flow(**kw, eps=1e-3, lam=1.0)
    plain = simulate_gaussians_flow(**kw, eps=1e-3)
    near = np.linalg.norm(sgd.extra["final_weights"] - decayed.extra["final_weights"])
    far = np.linalg.norm(sgd.extra["final_weights"] - plain.extra["final_weights"])
    assert near < 0.5 * far, (near, far)


def test_schedule_xi_rescales_time():
    kw = dict(SMALL, eps=1e-3, seeds=(2,), flow_tol=1e-10)
    doubled = simulate_gaussians_flow(**kw, t_max=0.25, record_times=[0.0, 0.25],
                                      xi=lambda t: np.full_like(t, 2.0))
    plain = simulate_gaussians_flow(**kw, t_max=0.5, record_times=[0.0, 0.5])
    np.testing.assert_allclose(doubled.risk[:, -1], plain.risk[:, -1], rtol=1e-8)


def test_resumed_flow_equals_the_uninterrupted_one():
    kw = dict(SMALL, eps=1e-3, t_max=1.0, n_times=8, seeds=(0, 1), keep_weights=True,
              block_time=0.1)
    states = []
    full = simulate_gaussians_flow(
        **kw, checkpointing=Checkpointing(every_s=0.0, save=lambda s, _: states.append(s)))
    assert len(states) > 10
    resumed = simulate_gaussians_flow(**kw,
                                      checkpointing=Checkpointing(resume=states[len(states) // 2]))
    np.testing.assert_array_equal(resumed.risk, full.risk)
    np.testing.assert_array_equal(resumed.mean_norm, full.mean_norm)
    np.testing.assert_array_equal(resumed.histograms, full.histograms)
    for key in full.extra:
        np.testing.assert_array_equal(resumed.extra[key], full.extra[key], err_msg=key)


def test_particle_dynamics_flow_runs_through_the_api_and_hdf5(tmp_path):
    params = {"particle_dynamics": "flow", "N": 12, "d": 8, "t_max": 0.2, "t_min": 0.01,
              "n_times": 6, "seeds": 2, "cells": 100, "correction": "none"}
    result = run_sgd("gaussians-quick", params, progress=False)
    loaded = io.load(io.save(result, tmp_path / "flow.h5"))
    assert loaded.sgd.attrs["dynamics"] == "gradient-flow"
    assert loaded.config["particle_dynamics"] == "flow"
    np.testing.assert_array_equal(loaded.sgd.risk, result.sgd.risk)
    eps = result.config["eps"]
    direct = simulate_gaussians_flow(N=12, d=8, delta=0.5, kappa=0.4, eps=eps, t_max=0.2,
                                     record_times=result.sgd.t,
                                     snapshot_times=result.sgd.snapshot_times, seeds=(0, 1),
                                     progress=False)
    np.testing.assert_array_equal(direct.risk, result.sgd.risk)


@pytest.mark.parametrize("params, name", [
    ({"beta": 40.0}, "beta"),
    ({"anneal": "geometric"}, "anneal"),
    ({"activation": "tanh"}, "activation"),
    ({"flow_tol": 0.0}, "flow_tol"),
    ({"flow_tol": 0.5}, "flow_tol"),
])
def test_unsupported_flow_parameters_are_refused_by_name(params, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        resolve("gaussians-quick", {"particle_dynamics": "flow", "correction": "none",
                                    **params})


@pytest.mark.parametrize("kwargs, name", [
    ({"flow_tol": 1.0}, "flow_tol"),
    ({"flow_tol": -1e-6}, "flow_tol"),
    ({"block_time": 0.0}, "block_time"),
    ({"activation": "tanh"}, "activation"),
    ({"eps": 0.0}, "eps"),
])
def test_simulate_flow_refuses_bad_arguments_by_name(kwargs, name):
    kw = {**SMALL, "eps": 1e-3, "t_max": 0.1, **kwargs}
    with pytest.raises(ValueError, match=name):
        simulate_gaussians_flow(**kw)


def test_validate_labels_the_particle_column_flow(capsys):
    from reducedpde.cli import main

    main(["validate", "gaussians-quick", "-q", "-p", "particle_dynamics=flow", "-p",
          "t_max=0.05", "-p", "seeds=1", "-p", "n_times=3", "-p", "correction=none",
          "-p", "N=20", "-p", "cells=200"])
    header = capsys.readouterr().out.splitlines()[1]
    assert header.split() == ["PDE", "flow"]
