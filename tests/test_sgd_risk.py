"""Exact population risk of finite networks: pair expectations and Monte-Carlo checks."""

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.stats import norm

from reducedpde.activations import get_activation
from reducedpde.models.gaussians.population_risk import gaussian_classes_risk
from reducedpde.models.multiindex.expansions import hermite_expansion, make_target
from reducedpde.models.multiindex.population_risk import multiindex_gaussian_risk
from reducedpde.pair_expectation import (
    bivariate_normal_upper,
    hermite_table,
    interaction_sum,
    pair_expectation,
)
from reducedpde.solvers.particles.network import cosine_matrix, network_output


def _awkward_weights(rng, N, d, scale):
    """Random neurons plus a near-duplicate, an opposite and a zero neuron, so that every
    branch of the pair sum (series, closed form, diagonal, zero norm) is used."""
    W = rng.standard_normal((N, d)) * scale
    W[1] = 0.98 * W[0] + 0.05 * scale * rng.standard_normal(d)
    W[2] = -1.3 * W[0]
    W[3] = 0.0
    return W


def _monte_carlo(sq_fn, n_samples, rng, chunk=500_000):
    vals = np.concatenate([sq_fn(rng, chunk) for _ in range(n_samples // chunk)])
    return vals.mean(), vals.std(ddof=1) / math.sqrt(vals.size)


def test_bivariate_normal_upper_matches_one_dimensional_quadrature():
    rng = np.random.default_rng(0)
    worst = 0.0
    for r in (-0.9999, -0.97, -0.93, -0.6, -0.2, 0.25, 0.5, 0.8, 0.93, 0.99, 0.999999):
        q = math.sqrt(1 - r * r)
        for h, k in rng.normal(0.0, 1.5, (4, 2)):
            ref = quad(
                lambda g, k=k, r=r, q=q: norm.pdf(g) * norm.sf((k - r * g) / q),
                h,
                np.inf,
                epsabs=1e-15,
                epsrel=1e-13,
                limit=200,
            )[0]
            worst = max(worst, abs(bivariate_normal_upper(h, k, r) - ref))
    assert worst < 1e-13


@pytest.mark.parametrize("name", ["mmn18", "relu", "tanh"])
def test_pair_expectation_matches_mehler_series(name):
    act = get_activation(name)
    a, b = np.array([0.3, 1.3, 2.0]), np.array([0.8, 0.7, 2.5])
    table_a, table_b = hermite_table(act, a, 120), hermite_table(act, b, 120)
    for c in (-0.6, -0.1, 0.4, 0.6):
        series = np.sum(c ** np.arange(121) * table_a * table_b, axis=1)
        np.testing.assert_allclose(pair_expectation(act, a, b, c), series, rtol=0, atol=1e-11)


@pytest.mark.parametrize("name", ["mmn18", "relu"])
def test_pair_expectation_at_full_correlation_is_second_moment(name):
    act = get_activation(name)
    a = np.array([0.2, 1.0, 3.0])
    np.testing.assert_allclose(
        pair_expectation(act, a, a, 1.0), act.gaussian_second_moment(a), rtol=1e-12
    )


@pytest.mark.parametrize("name", ["mmn18", "tanh"])
def test_interaction_sum_equals_direct_pair_sum(name):
    act = get_activation(name)
    rng = np.random.default_rng(1)
    W = _awkward_weights(rng, 9, 4, 0.8)
    norms, C = cosine_matrix(W)
    weights = rng.standard_normal(9)
    I, J = np.meshgrid(np.arange(9), np.arange(9), indexing="ij")
    C_direct = np.where(I == J, 1.0, C)
    direct = np.sum(weights[I] * weights[J] * pair_expectation(act, norms[I], norms[J], C_direct))
    assert interaction_sum(act, norms, weights, C) == pytest.approx(direct, rel=1e-11, abs=1e-11)


def test_gaussian_classes_risk_matches_monte_carlo():
    act, delta = get_activation("mmn18"), 0.5
    rng = np.random.default_rng(2)
    N, d = 10, 6
    W = _awkward_weights(rng, N, d, 0.5)

    def sq(rng, n):
        y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
        X = (1.0 + delta * y)[:, None] * rng.standard_normal((n, d))
        return (y - network_output(W, np.ones(N), X, act)) ** 2

    mc, se = _monte_carlo(sq, 2_000_000, rng)
    assert abs(gaussian_classes_risk(W, act, delta) - mc) < 4 * se


@pytest.mark.parametrize(
    ("name", "target", "k"),
    [
        ("relu", {(1, 0): 1.0, (1, 1): 0.5, (0, 2): 0.3, (0, 0): -0.2}, 2),
        ("tanh", [0.5, -1.0, 2.0 / 3.0], 1),
        ("mmn18", lambda z: z[:, 0] ** 3 - z[:, 0] * z[:, 1], 2),
    ],
)
def test_multiindex_gaussian_risk_matches_monte_carlo(name, target, k):
    act = get_activation(name)
    tgt = make_target(target, k)
    rng = np.random.default_rng(3)
    N, d = 10, 5
    W = _awkward_weights(rng, N, d, 0.6)
    A = rng.standard_normal(N)

    def sq(rng, n):
        X = rng.standard_normal((n, d))
        return (tgt(X[:, :k]) - network_output(W, A, X, act)) ** 2

    mc, se = _monte_carlo(sq, 2_000_000, rng)
    assert abs(multiindex_gaussian_risk(W, A, hermite_expansion(tgt), act) - mc) < 4 * se


def test_callable_polynomial_target_is_projected_exactly():
    poly = make_target(lambda z: 2.0 * z[:, 0] ** 2 * z[:, 1] + z[:, 1] - 0.5, 2)
    exp = hermite_expansion(poly)
    coefs = {tuple(a): c for a, c in zip(exp.alphas.tolist(), exp.coefs)}
    # 2 z0² z1 + z1 − ½ = 2 He2(z0) He1(z1) + 3 He1(z1) − ½
    assert coefs.keys() == {(2, 1), (0, 1), (0, 0)}
    np.testing.assert_allclose(
        [coefs[(2, 1)], coefs[(0, 1)], coefs[(0, 0)]], [2, 3, -0.5], atol=1e-12
    )
    assert exp.second_moment == pytest.approx(4 * 2 + 9 + 0.25, rel=1e-12)
    assert exp.residual < 1e-10
