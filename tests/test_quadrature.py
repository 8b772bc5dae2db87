"""Quadrature rules and moments against exact values and independent integration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import eval_hermitenorm, factorial2

from reducedpde.quadrature import (
    angle_moments,
    gauss_hermite_tensor,
    gaussian_rule,
    hermite_polynomials,
    hypercube_points,
    standard_normal_pdf,
)

# -- Hermite polynomials ---------------------------------------------------------------


def test_hermite_polynomials_match_scipy():
    x = np.linspace(-6.0, 6.0, 37)
    he = hermite_polynomials(x, 20)
    for n in range(21):
        np.testing.assert_allclose(he[n], eval_hermitenorm(n, x), rtol=1e-12, atol=1e-12)


def test_hermite_polynomials_shape():
    assert hermite_polynomials(np.zeros((2, 3)), 4).shape == (5, 2, 3)
    assert hermite_polynomials(0.5, 0).shape == (1,)
    np.testing.assert_array_equal(hermite_polynomials(0.5, 0), [1.0])


def test_hermite_polynomials_orthogonality():
    n_max = 30
    nodes, weights = gauss_hermite_tensor(1, n_max + 2)  # exact up to degree 2 n_max + 3
    he = hermite_polynomials(nodes[:, 0], n_max)
    gram = (he * weights) @ he.T
    norms = np.array([math.factorial(n) for n in range(n_max + 1)], dtype=float)
    normalised = gram / np.sqrt(np.outer(norms, norms))
    np.testing.assert_allclose(normalised, np.eye(n_max + 1), atol=1e-10)


def test_hermite_polynomials_negative_degree():
    with pytest.raises(ValueError, match="n_max"):
        hermite_polynomials(1.0, -1)


# -- Gauss–Hermite tensor rules --------------------------------------------------------


def test_gauss_hermite_tensor_shapes_and_weights():
    nodes, weights = gauss_hermite_tensor(3, 5)
    assert nodes.shape == (125, 3)
    assert weights.shape == (125,)
    assert np.all(weights > 0)
    np.testing.assert_allclose(weights.sum(), 1.0, rtol=1e-14)


def test_gauss_hermite_tensor_moments():
    nodes, weights = gauss_hermite_tensor(2, 6)  # exact to degree 11 per coordinate
    z1, z2 = nodes.T
    np.testing.assert_allclose(weights @ (z1**2 * z2**4), 3.0, rtol=1e-13)
    np.testing.assert_allclose(weights @ (z1**10), 945.0, rtol=1e-12)
    np.testing.assert_allclose(weights @ (z1 * z2), 0.0, atol=1e-14)
    np.testing.assert_allclose(weights @ (z1**3 * z2**2), 0.0, atol=1e-13)


def test_gauss_hermite_tensor_bad_input():
    with pytest.raises(ValueError, match="k must be >= 1"):
        gauss_hermite_tensor(0, 4)
    with pytest.raises(ValueError):
        gauss_hermite_tensor(1, 0)


# -- composite Gauss–Legendre rule for E f(G) ------------------------------------------


@pytest.mark.parametrize("n", range(11))
def test_gaussian_rule_even_moments(n):
    nodes, weights = gaussian_rule()
    want = float(factorial2(2 * n - 1)) if n > 0 else 1.0
    np.testing.assert_allclose(weights @ nodes ** (2 * n), want, rtol=1e-12)


def test_gaussian_rule_odd_moments_vanish():
    nodes, weights = gaussian_rule()
    for n in range(6):
        assert abs(weights @ nodes ** (2 * n + 1)) < 1e-12 * float(factorial2(2 * n + 1))


def test_gaussian_rule_steep_integrand():
    nodes, weights = gaussian_rule()

    def integrand(g):
        return math.tanh(5.0 * g) ** 2 * math.exp(-0.5 * g * g) / math.sqrt(2 * math.pi)

    want = sum(
        quad(integrand, lo, hi, epsabs=1e-14, epsrel=1e-14, limit=200)[0]
        for lo, hi in [(-14.0, -1.0), (-1.0, 0.0), (0.0, 1.0), (1.0, 14.0)]
    )
    np.testing.assert_allclose(weights @ np.tanh(5.0 * nodes) ** 2, want, rtol=1e-13)


def test_gaussian_rule_custom_parameters():
    nodes, weights = gaussian_rule(half_width=10.0, panel_width=0.2, order=6)
    assert nodes.size == 100 * 6
    assert np.all(np.abs(nodes) <= 10.0)
    np.testing.assert_allclose(weights @ nodes**4, 3.0, rtol=1e-12)


def test_standard_normal_pdf():
    np.testing.assert_allclose(standard_normal_pdf(0.0), 1.0 / math.sqrt(2 * math.pi))
    np.testing.assert_allclose(quad(standard_normal_pdf, -np.inf, np.inf)[0], 1.0, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs", [{"panel_width": 0.0}, {"half_width": 0.0}, {"panel_width": -0.1}]
)
def test_gaussian_rule_bad_input(kwargs):
    with pytest.raises(ValueError, match="|".join(kwargs)):
        gaussian_rule(**kwargs)


# -- angle moments ---------------------------------------------------------------------


def _angle_moment_quad(d, m):
    """``E c^{2m}`` for the density ∝ (1 − c²)^((d−3)/2) on [−1, 1], by quad."""
    e = (d - 3) / 2
    if e < 0:  # integrable endpoint singularity: let QAWS handle the weight
        kwargs = {"weight": "alg", "wvar": (e, e), "epsabs": 0.0, "epsrel": 1e-13}
        num = quad(lambda c: c ** (2 * m), -1.0, 1.0, **kwargs)[0]
        den = quad(lambda c: 1.0, -1.0, 1.0, **kwargs)[0]
        return num / den
    # by symmetry integrate over [0, 1]; split where the (possibly narrow) bump lives
    width = 1.0 / math.sqrt(d)
    cuts = sorted({0.0, *(min(j * width, 1.0) for j in (1, 2, 4, 8, 16)), 1.0})

    def integral(f):
        return sum(
            quad(f, lo, hi, epsabs=0.0, epsrel=1e-13, limit=200)[0]
            for lo, hi in itertools.pairwise(cuts)
            if hi > lo
        )

    num = integral(lambda c: c ** (2 * m) * (1.0 - c * c) ** e)
    den = integral(lambda c: (1.0 - c * c) ** e)
    return num / den


@pytest.mark.parametrize("d", [2, 3, 10, 320])
def test_angle_moments_match_direct_integration(d):
    m_max = 8
    want = [_angle_moment_quad(d, m) for m in range(m_max + 1)]
    np.testing.assert_allclose(angle_moments(d, m_max), want, rtol=1e-11, atol=1e-300)


def test_angle_moments_d3_uniform_cosine():
    np.testing.assert_allclose(angle_moments(3, 6), 1.0 / (2 * np.arange(7) + 1), rtol=1e-14)


def test_angle_moments_d1_is_one():
    np.testing.assert_array_equal(angle_moments(1, 5), np.ones(6))


def test_angle_moments_infinite_dimension():
    np.testing.assert_array_equal(angle_moments(math.inf, 4), [1.0, 0.0, 0.0, 0.0, 0.0])


def test_angle_moments_second_moment_is_one_over_d():
    for d in (2, 5, 10, 320, 1e6):
        np.testing.assert_allclose(angle_moments(d, 1)[1], 1.0 / d, rtol=1e-14)


def test_angle_moments_match_random_directions():
    d, n = 10, 200_000
    rng = np.random.default_rng(0)
    u = rng.standard_normal((n, d))
    v = rng.standard_normal((n, d))
    c = np.einsum("ij,ij->i", u, v) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
    moments = angle_moments(d, 2)
    for m in (1, 2):
        sample = c ** (2 * m)
        stderr = sample.std() / math.sqrt(n)
        assert abs(sample.mean() - moments[m]) < 5 * stderr


def test_angle_moments_order_zero():
    np.testing.assert_array_equal(angle_moments(10, 0), [1.0])


@pytest.mark.parametrize("d", [0.5, 0, -3, math.nan])
def test_angle_moments_bad_dimension(d):
    with pytest.raises(ValueError, match="d must be >= 1"):
        angle_moments(d, 3)


def test_angle_moments_negative_order():
    with pytest.raises(ValueError):
        angle_moments(10, -1)


# -- hypercube -------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_hypercube_points_enumerate_all_sign_patterns(k):
    nodes, weights = hypercube_points(k)
    assert nodes.shape == (2**k, k)
    assert set(np.unique(nodes)) == {-1.0, 1.0}
    assert len({tuple(row) for row in nodes}) == 2**k
    np.testing.assert_array_equal(weights, np.full(2**k, 2.0**-k))
    assert weights.sum() == 1.0


def test_hypercube_points_moments():
    nodes, weights = hypercube_points(4)
    np.testing.assert_array_equal((nodes.T * weights) @ nodes, np.eye(4))
    assert weights @ np.prod(nodes[:, :3], axis=1) == 0.0
    assert weights @ np.prod(nodes, axis=1) == 0.0


@pytest.mark.parametrize("k", [0, -2])
def test_hypercube_points_bad_input(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        hypercube_points(k)
