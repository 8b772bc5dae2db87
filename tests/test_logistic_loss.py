"""Logistic loss for the Gaussian classes: the SGD step, the population loss and
classification error of finite networks and of radial laws, the logistic radial velocity,
conventions and parameter checks."""

import math

import numpy as np
import pytest

from reducedpde.activations import get_activation
from reducedpde.losses import classification_error, logistic_loss, logistic_residual
from reducedpde.models.gaussians.classification import (
    RadialClassifier,
    angular_mean,
    angular_mean_derivative,
)
from reducedpde.models.gaussians.population_risk import HeldOutSample
from reducedpde.models.gaussians.radial import GaussianRadialModel
from reducedpde.solvers.particles.kernels import SAMPLER_GIVEN, KernelState

DELTA = 0.5


def _network(W, act, x):
    return float(np.mean(act.value(W @ x)))


@pytest.mark.parametrize("loss", ["logistic", "square"])
def test_one_step_is_minus_s_N_times_the_loss_gradient(loss):
    """One SGD step on one sample moves W by ``−s N ∇_W ℓ`` (central differences of the
    sample loss; tanh, so the loss is smooth)."""
    rng = np.random.default_rng(3)
    N, d, s = 4, 6, 1e-3
    act = get_activation("tanh")
    W0 = 0.7 * rng.standard_normal((N, d))
    x = rng.standard_normal((1, d))
    y = np.array([-1.0])

    def sample_loss(W):
        f = _network(W, act, x[0])
        return float(logistic_loss(y[0] * f)) if loss == "logistic" else (y[0] - f) ** 2

    st = KernelState(W0, None, act, SAMPLER_GIVEN, *(np.random.default_rng(k) for k in (1, 2)),
                     loss=loss)
    st.advance(np.array([s]), x, y)
    grad = np.zeros_like(W0)
    h = 1e-6
    for i in range(N):
        for j in range(d):
            E = np.zeros_like(W0)
            E[i, j] = h
            grad[i, j] = (sample_loss(W0 + E) - sample_loss(W0 - E)) / (2 * h)
    np.testing.assert_allclose(st.W - W0, -s * N * grad, rtol=1e-7, atol=1e-13)


def test_logistic_residual_is_minus_the_loss_derivative_in_f():
    for y in (1.0, -1.0):
        for f in (-800.0, -3.0, 0.0, 0.4, 800.0):
            h = 1e-6
            fd = -(logistic_loss(y * (f + h)) - logistic_loss(y * (f - h))) / (2 * h)
            assert logistic_residual(y, f) == pytest.approx(float(fd), rel=1e-6, abs=1e-300)
            assert math.isfinite(logistic_residual(y, f))


def test_held_out_metrics_of_a_tiny_network_against_monte_carlo():
    """The fixed-sample estimates agree with an independent Monte-Carlo average of 2·10⁵
    points per class within 4 standard errors (of the sum of the two estimates)."""
    act = get_activation("mmn18")
    rng = np.random.default_rng(11)
    N, d = 3, 5
    W = 0.9 * rng.standard_normal((N, d))
    est = HeldOutSample(d).metrics(W, act, DELTA)
    n = 200_000
    g = np.random.default_rng(12).standard_normal((n, d))
    loss = err = 0.0
    var_loss = var_err = 0.0
    for y, s in ((1.0, 1 + DELTA), (-1.0, 1 - DELTA)):
        f = act.value(s * g @ W.T).mean(axis=1)
        values, wrong = logistic_loss(y * f), classification_error(y, f)
        loss += 0.5 * values.mean()
        err += 0.5 * wrong.mean()
        var_loss += 0.25 * values.var() * (1 / n + 1 / 10_000)
        var_err += 0.25 * wrong.var() * (1 / n + 1 / 10_000)
    assert 0.05 < err < 0.95  # a non-trivial classifier
    assert abs(est["logistic_loss"] - loss) < 4 * math.sqrt(var_loss)
    assert abs(est["classification_error"] - err) < 4 * math.sqrt(var_err)


@pytest.mark.parametrize("activation", ["mmn18", "tanh"])
@pytest.mark.parametrize("d", [5, 40])
def test_angular_mean_against_random_directions(activation, d):
    act = get_activation(activation)
    g = np.random.default_rng(d).standard_normal((400_000, d))
    c = g[:, 0] / np.linalg.norm(g, axis=1)
    for b in (0.2, 0.9, 1.7):
        a = b * math.sqrt(d)
        v, dv = act.value(a * c), math.sqrt(d) * c * act.derivative(a * c)
        tol = 5 / math.sqrt(c.size)
        assert abs(angular_mean(act, b, d) - v.mean()) <= tol * v.std() + 1e-12
        assert abs(angular_mean_derivative(act, b, d) - dv.mean()) <= tol * dv.std() + 1e-12


@pytest.mark.parametrize("d", [24, 320, math.inf])
def test_radial_quadrature_reproduces_the_exact_risk_and_square_velocity(d):
    """The same τ-nodes give the exact (kernel) square risk and ``∂_r ψ`` when ``ℓ'`` is
    replaced by the square-loss derivative: a check of ``K``, ``B`` and the weights."""
    act = get_activation("mmn18")
    rc = RadialClassifier(act, DELTA, d)
    model = GaussianRadialModel(act, DELTA, d)
    at, m = np.array([0.3, 0.8, 1.2, 2.0]), np.array([0.1, 0.4, 0.3, 0.2])
    f = rc.output_matrix(at) @ m
    assert rc.square_risk(f) == pytest.approx(model.risk(at, m), rel=1e-11)
    edges = np.array([0.25, 0.7, 1.1, 1.9])
    square_coef = 0.5 * rc.weights * (-2.0 * (rc.labels - f))  # ½ y ω ∂_m of (1 − m)²
    np.testing.assert_allclose(0.5 * rc.velocity_matrix(edges) @ square_coef,
                               model.psi_derivative(edges, at, m), rtol=1e-9, atol=1e-12)


def test_radial_loss_and_error_against_monte_carlo():
    """Population logistic loss and classification error of a radial law against a
    Monte-Carlo average over ``x`` (``f`` of each point by the exact angular mean)."""
    act = get_activation("mmn18")
    d = 40
    rc = RadialClassifier(act, DELTA, d)
    at, m = np.array([0.6, 1.0, 1.4]), np.array([0.3, 0.4, 0.3])
    f_nodes = rc.output_matrix(at) @ m
    loss, err = rc.logistic_loss(f_nodes), rc.classification_error(at, m, f_nodes)
    assert 0.05 < err < 0.95
    rng = np.random.default_rng(5)
    n = 100_000
    mc_loss = mc_err = var_l = var_e = 0.0
    for y, s in ((1.0, 1 + DELTA), (-1.0, 1 - DELTA)):
        tau = s * np.sqrt(rng.chisquare(d, n) / d)
        f = rc.output(tau, at, m)
        values, wrong = logistic_loss(y * f), classification_error(y, f)
        mc_loss += 0.5 * values.mean()
        mc_err += 0.5 * wrong.mean()
        var_l += 0.25 * values.var() / n
        var_e += 0.25 * wrong.var() / n
    assert abs(loss - mc_loss) < 4 * math.sqrt(var_l)
    assert abs(err - mc_err) < 4 * math.sqrt(var_e)


def test_zero_output_counts_as_wrong_for_both_classes():
    """sign(0) is a wrong sign: ``f ≡ 0`` has classification error 1 and logistic loss
    log 2, for the finite network (ReLU, W = 0) and for the radial law ``δ_0``."""
    relu = get_activation("relu")
    assert np.all(classification_error([1.0, -1.0], [0.0, 0.0]) == 1.0)
    est = HeldOutSample(4, n=500).metrics(np.zeros((3, 4)), relu, DELTA)
    assert est == {"logistic_loss": pytest.approx(math.log(2)), "classification_error": 1.0}
    for d in (8, math.inf):
        rc = RadialClassifier(relu, DELTA, d)
        at, m = np.zeros(1), np.ones(1)
        f = rc.output_matrix(at) @ m
        assert np.all(f == 0.0)
        assert rc.classification_error(at, m, f) == pytest.approx(1.0, abs=1e-13)
        assert rc.logistic_loss(f) == pytest.approx(math.log(2), rel=1e-12)


def test_bad_loss_is_refused_naming_the_parameter():
    from reducedpde import scenarios
    from reducedpde.models.gaussians.particles import simulate_gaussians

    with pytest.raises(ValueError, match="'loss'"):
        scenarios.resolve("gaussians", {"loss": "hinge"})
    with pytest.raises(ValueError, match="parameter 'loss' must be one of square, logistic"):
        simulate_gaussians(N=2, d=3, delta=DELTA, kappa=0.5, eps=0.1, t_max=0.1,
                           loss="hinge", progress=False)
    with pytest.raises(ValueError, match="parameter 'particle_dynamics'"):
        scenarios.resolve("gaussians", {"loss": "logistic", "particle_dynamics": "flow"})


def test_sgd_records_the_classification_series_for_both_losses():
    from reducedpde import api

    runs = {loss: api.run_sgd("gaussians", {"loss": loss, "d": 10, "N": 30, "kappa": 0.8,
                                            "eps": 1e-2, "t_max": 0.5, "n_times": 4,
                                            "held_out": 2000, "classification": "on"},
                              progress=False).sgd
            for loss in ("square", "logistic")}
    for loss, sgd in runs.items():
        for key in ("logistic_loss", "classification_error"):
            assert sgd.extra[key].shape == sgd.risk.shape
            assert np.all(np.isfinite(sgd.extra[key]))
        assert sgd.attrs["loss"] == loss
    # same seed and data stream, different step: the trajectories part after t = 0
    assert runs["square"].risk[0, 0] == runs["logistic"].risk[0, 0]
    assert runs["square"].risk[0, -1] != runs["logistic"].risk[0, -1]
    # logistic SGD lowers its own objective on this easy problem
    assert runs["logistic"].extra["logistic_loss"][0, -1] < runs["logistic"].extra[
        "logistic_loss"][0, 0]


def test_classification_series_are_recorded_by_default_for_the_logistic_loss_only():
    from reducedpde import api

    common = {"d": 10, "N": 30, "kappa": 0.8, "eps": 1e-2, "t_max": 0.2, "n_times": 3,
              "held_out": 500, "cells": 200, "kernel_tol": 1e-6}
    for loss, expected in (("square", False), ("logistic", True)):
        sgd = api.run_sgd("gaussians", {**common, "loss": loss}, progress=False).sgd
        pde = api.run_pde("gaussians", {**common, "loss": loss}, progress=False).pde
        assert ("classification_error" in sgd.extra) is expected
        assert ("classification_error" in pde.extra) is expected


def test_logistic_pde_predicts_logistic_sgd():
    """Mean-field PDE with the logistic velocity against SGD (N = 400, d = 24, 2 seeds):
    logistic loss within 0.01, classification error within 0.03 and the square risk within
    0.05 at every output time (measured at d = 20: 0.003, 0.017, 0.03), while the loss
    falls from 0.74 to 0.31."""
    from reducedpde import api

    params = {"loss": "logistic", "d": 24, "N": 400, "kappa": 0.6, "eps": 1e-4,
              "t_max": 2.0, "n_times": 8, "seeds": 2, "cells": 600, "held_out": 10_000,
              "error_estimate": "none"}
    pde = api.run_pde("gaussians", params, progress=False).pde
    sgd = api.run_sgd("gaussians", params, progress=False).sgd
    assert pde.extra["logistic_loss"][-1] < pde.extra["logistic_loss"][0] - 0.3
    np.testing.assert_allclose(sgd.extra["logistic_loss"].mean(0), pde.extra["logistic_loss"],
                               atol=0.01)
    np.testing.assert_allclose(sgd.extra["classification_error"].mean(0),
                               pde.extra["classification_error"], atol=0.03)
    np.testing.assert_allclose(sgd.risk.mean(0), pde.risk, atol=0.05)
