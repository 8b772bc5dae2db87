"""Activations and their Gaussian expectations against independent adaptive quadrature.

The references below use their own definitions of ``σ``, ``σ'`` (not the package's) and
``scipy.integrate.quad`` over ``|g| ≤ 14`` split at the kinks ``t_j / a``, with
``scipy.special.eval_hermitenorm`` for ``He_k``; Hermite coefficients are compared after
division by ``√k!`` (``E[(He_k/√k!)²] = 1``).
"""

from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pytest
from scipy.integrate import IntegrationWarning, quad
from scipy.special import eval_hermitenorm, expit, gammaln

from reducedpde.activations import (
    Activation,
    PiecewiseLinear,
    ShiftedSigmoid,
    Tanh,
    activation_derivative,
    activation_value,
    get_activation,
    list_activations,
    mmn18,
    relu,
)

A_VALUES = (0.05, 0.3, 1.0, 2.7, 7.0)
K_VALUES = (0, 1, 2, 3, 7, 16, 30)
T_VALUES = (-2.0, -0.3, 0.0, 0.5, 1.5, 3.0)
R_VALUES = (0.05, 0.3, 1.0, 2.7)
G_MAX = 14.0
QUAD_TOL = 1e-13


# -- independent references ------------------------------------------------------------


class PiecewiseLinearRef:
    """``σ`` through ``(knots, values)`` with end slopes, written with ``np.interp``."""

    def __init__(self, knots, values, left_slope=0.0, right_slope=0.0):
        self.knots = np.asarray(knots, float)
        self.values = np.asarray(values, float)
        self.left_slope, self.right_slope = left_slope, right_slope

    def value(self, t):
        k, v = self.knots, self.values
        if t <= k[0]:
            return v[0] + self.left_slope * (t - k[0])
        if t >= k[-1]:
            return v[-1] + self.right_slope * (t - k[-1])
        return float(np.interp(t, k, v))

    def derivative(self, t):
        k, v = self.knots, self.values
        if t < k[0]:
            return self.left_slope
        if t > k[-1]:
            return self.right_slope
        j = min(int(np.searchsorted(k, t, side="right")) - 1, len(k) - 2)
        return (v[j + 1] - v[j]) / (k[j + 1] - k[j])


class TanhRef:
    knots = np.array([])

    @staticmethod
    def value(t):
        return math.tanh(t)

    @staticmethod
    def derivative(t):
        return 1.0 - math.tanh(t) ** 2


class SigmoidRef:
    knots = np.array([])

    def __init__(self, shift, offset):
        self.shift, self.offset = shift, offset

    def value(self, t):
        return float(expit(t - self.shift)) - self.offset

    def derivative(self, t):
        s = float(expit(t - self.shift))
        return s * (1.0 - s)


CASES = {
    "mmn18": (mmn18, PiecewiseLinearRef([0.5, 1.5], [-2.5, 7.5])),
    "relu": (relu, PiecewiseLinearRef([0.0], [0.0], 0.0, 1.0)),
    "tanh": (Tanh, TanhRef()),
    "shifted-sigmoid": (lambda: ShiftedSigmoid(0.7, 0.2), SigmoidRef(0.7, 0.2)),
    "general-pl": (
        lambda: PiecewiseLinear([-1.0, 0.0, 2.0], [0.0, 1.0, -1.0], 0.3, -0.2),
        PiecewiseLinearRef([-1.0, 0.0, 2.0], [0.0, 1.0, -1.0], 0.3, -0.2),
    ),
}
NAMES = list(CASES)


def _phi(g):
    return math.exp(-0.5 * g * g) / math.sqrt(2.0 * math.pi)


def gauss_expect(f, breaks=()):
    """``∫_{|g|≤14} f(g) φ(g) dg`` by adaptive quadrature split at ``breaks`` and 0."""
    points = sorted({-G_MAX, 0.0, G_MAX, *(b for b in breaks if -G_MAX < b < G_MAX)})
    total = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntegrationWarning)
        for lo, hi in itertools.pairwise(points):
            val, _ = quad(
                lambda g: f(g) * _phi(g), lo, hi, epsabs=QUAD_TOL, epsrel=QUAD_TOL, limit=400
            )
            total += val
    return total


def _he_normalised(k, g):
    return eval_hermitenorm(k, g) / math.sqrt(math.factorial(k))


def ref_h_normalised(ref, a, k):
    """``h_k(a)/√k! = E[σ(aG) He_k(G)]/√k!``."""
    return gauss_expect(lambda g: ref.value(a * g) * _he_normalised(k, g), ref.knots / a)


def ref_dh_normalised(ref, a, k):
    """``∂_a h_k(a)/√k! = E[σ'(aG) G He_k(G)]/√k!``."""
    return gauss_expect(lambda g: ref.derivative(a * g) * g * _he_normalised(k, g), ref.knots / a)


def _normalise(h):
    k = np.arange(h.shape[-1])
    return h * np.exp(-0.5 * gammaln(k + 1.0))


@pytest.fixture(scope="module", params=NAMES)
def case(request):
    factory, ref = CASES[request.param]
    return request.param, factory(), ref


# -- Gaussian expectations vs quadrature -----------------------------------------------


def test_gaussian_mean_matches_quadrature(case):
    _, act, ref = case
    a = np.array(A_VALUES)
    want = [gauss_expect(lambda g, a=ai: ref.value(a * g), ref.knots / ai) for ai in A_VALUES]
    np.testing.assert_allclose(act.gaussian_mean(a), want, rtol=1e-11, atol=1e-12)


def test_hermite_coefficients_match_quadrature(case):
    _, act, ref = case
    ks = list(K_VALUES)
    got = _normalise(act.hermite_coefficients(np.array(A_VALUES), max(ks)))[:, ks]
    want = np.array([[ref_h_normalised(ref, a, k) for k in ks] for a in A_VALUES])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_hermite_coefficient_derivatives_match_quadrature(case):
    _, act, ref = case
    ks = list(K_VALUES)
    got = _normalise(act.hermite_coefficients_derivative(np.array(A_VALUES), max(ks)))[:, ks]
    want = np.array([[ref_dh_normalised(ref, a, k) for k in ks] for a in A_VALUES])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * max(1.0, np.abs(want).max()))


def test_hermite_coefficient_derivatives_match_finite_differences(case):
    _, act, _ = case
    a = np.array([0.2, 0.9, 2.0, 5.0])
    step = 1e-5
    fd = (act.hermite_coefficients(a + step, 12) - act.hermite_coefficients(a - step, 12)) / (
        2 * step
    )
    np.testing.assert_allclose(
        _normalise(act.hermite_coefficients_derivative(a, 12)), _normalise(fd), atol=1e-7
    )


def test_second_moment_matches_quadrature(case):
    _, act, ref = case
    want = [gauss_expect(lambda g, a=ai: ref.value(a * g) ** 2, ref.knots / ai) for ai in A_VALUES]
    np.testing.assert_allclose(act.gaussian_second_moment(np.array(A_VALUES)), want, rtol=1e-11)


def test_smoothed_matches_quadrature(case):
    _, act, ref = case
    t, r = np.meshgrid(T_VALUES, R_VALUES, indexing="ij")
    want = np.array(
        [
            [
                gauss_expect(lambda g, t=ti, r=ri: ref.value(t + r * g), (ref.knots - ti) / ri)
                for ri in R_VALUES
            ]
            for ti in T_VALUES
        ]
    )
    np.testing.assert_allclose(act.smoothed(t, r), want, rtol=1e-11, atol=1e-12)


def test_smoothed_derivative_matches_quadrature(case):
    _, act, ref = case
    t, r = np.meshgrid(T_VALUES, R_VALUES, indexing="ij")
    want = np.array(
        [
            [
                gauss_expect(lambda g, t=ti, r=ri: ref.derivative(t + r * g), (ref.knots - ti) / ri)
                for ri in R_VALUES
            ]
            for ti in T_VALUES
        ]
    )
    np.testing.assert_allclose(act.smoothed_derivative(t, r), want, rtol=1e-11, atol=1e-12)


def test_smoothed_broadcasts_t_against_r(case):
    _, act, _ = case
    t = np.array(T_VALUES)[:, None]
    r = np.array(R_VALUES)[None, :]
    assert act.smoothed(t, r).shape == (len(T_VALUES), len(R_VALUES))
    np.testing.assert_allclose(act.smoothed(t, r)[:, 1], act.smoothed(t[:, 0], R_VALUES[1]))


def test_gaussian_mean_is_h0(case):
    _, act, _ = case
    a = np.array(A_VALUES)
    np.testing.assert_allclose(
        act.gaussian_mean(a), act.hermite_coefficients(a, 3)[:, 0], rtol=1e-13, atol=1e-15
    )


def test_hermite_coefficients_shape(case):
    _, act, _ = case
    assert act.hermite_coefficients(np.ones((2, 3)), 5).shape == (2, 3, 6)
    assert act.hermite_coefficients(1.0, 5).shape == (6,)


# -- structural identities -------------------------------------------------------------


def test_parseval_partial_sums_increase_to_second_moment(case):
    name, act, _ = case
    smooth = name in ("tanh", "shifted-sigmoid")
    k_max = 150
    for a in A_VALUES:
        coeffs = _normalise(act.hermite_coefficients(a, k_max))
        partial = np.cumsum(coeffs**2)
        second = float(act.gaussian_second_moment(a))
        assert np.all(np.diff(partial) >= 0.0)
        assert partial[-1] <= second * (1.0 + 1e-12)  # Bessel's inequality
        gap = (second - partial) / second
        assert gap[-1] <= gap[len(gap) // 2] + 1e-14
        assert gap[-1] < 2e-2, (a, gap[-1])
        if smooth and a <= 1.0:
            assert gap[-1] < 1e-12, (a, gap[-1])


def test_hermite_coefficients_parity(case):
    _, act, _ = case
    a = np.array(A_VALUES)
    k_max = 30
    parity = (-1.0) ** np.arange(k_max + 1)
    np.testing.assert_allclose(
        _normalise(act.hermite_coefficients(-a, k_max)),
        _normalise(act.hermite_coefficients(a, k_max)) * parity,
        rtol=0,
        atol=1e-12,
    )


def test_values_at_a_zero(case):
    _, act, _ = case
    s0 = float(act.value(0.0))
    h = act.hermite_coefficients(0.0, 10)
    np.testing.assert_allclose(h, np.r_[s0, np.zeros(10)], atol=1e-14)
    np.testing.assert_allclose(act.gaussian_mean(0.0), s0, atol=1e-14)
    np.testing.assert_allclose(act.gaussian_second_moment(0.0), s0**2, atol=1e-14)


def test_smoothed_at_r_zero_is_the_activation(case):
    _, act, _ = case
    t = np.array([-2.2, -0.4, 0.25, 1.1, 2.6, 4.0])  # no knots
    np.testing.assert_allclose(act.smoothed(t, 0.0), act.value(t), atol=1e-14)
    np.testing.assert_allclose(act.smoothed_derivative(t, 0.0), act.derivative(t), atol=1e-14)


def test_expectations_continuous_at_a_zero(case):
    _, act, _ = case
    tiny = 1e-4
    np.testing.assert_allclose(
        act.hermite_coefficients(tiny, 6), act.hermite_coefficients(0.0, 6), atol=1e-3
    )
    np.testing.assert_allclose(
        act.gaussian_second_moment(tiny), act.gaussian_second_moment(0.0), atol=1e-3
    )


def test_hermite_derivative_at_a_zero_is_the_right_limit(case):
    _, act, _ = case
    # piecewise linear: the a -> 0+ terms converge like φ(t_j/a); smooth: like O(a)
    tiny, tol = (1e-3, 1e-12) if isinstance(act, PiecewiseLinear) else (1e-7, 1e-6)
    np.testing.assert_allclose(
        act.hermite_coefficients_derivative(0.0, 8),
        act.hermite_coefficients_derivative(tiny, 8),
        atol=tol,
    )


def test_relu_closed_forms():
    act = relu()
    a = np.array(A_VALUES)
    h = act.hermite_coefficients(a, 6)
    np.testing.assert_allclose(h[:, 0], a / math.sqrt(2 * math.pi), rtol=1e-14)
    np.testing.assert_allclose(h[:, 1], a / 2, rtol=1e-14)
    np.testing.assert_allclose(h[:, 2], a / math.sqrt(2 * math.pi), rtol=1e-14)
    np.testing.assert_allclose(h[:, 3], 0.0, atol=1e-15)
    np.testing.assert_allclose(h[:, 4], -a / math.sqrt(2 * math.pi), rtol=1e-14)
    np.testing.assert_allclose(act.gaussian_second_moment(a), a**2 / 2, rtol=1e-14)


def test_piecewise_linear_derivative_refuses_negative_a():
    with pytest.raises(ValueError, match="a >= 0"):
        mmn18().hermite_coefficients_derivative(np.array([0.5, -0.5]), 3)


def test_piecewise_linear_coefficients_finite_for_tiny_a():
    act = mmn18()
    assert np.all(np.isfinite(act.hermite_coefficients(1e-12, 30)))
    assert np.all(np.isfinite(act.hermite_coefficients_derivative(1e-12, 30)))


# -- pointwise values, compiled evaluators ---------------------------------------------


def _test_points(act):
    rng = np.random.default_rng(7)
    pts = [rng.uniform(-5.0, 5.0, 200), [-60.0, 0.0, 60.0]]
    knots = getattr(act, "knots", np.array([]))
    pts += [knots, knots - 1e-9, knots + 1e-9]
    return np.concatenate(pts)


def test_value_and_derivative_match_reference(case):
    _, act, ref = case
    t = _test_points(act)
    knots = set(getattr(act, "knots", np.array([])).tolist())
    off_knot = np.array([x for x in t if x not in knots])
    np.testing.assert_allclose(act.value(t), [ref.value(x) for x in t], rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(
        act.derivative(off_knot), [ref.derivative(x) for x in off_knot], rtol=1e-13, atol=1e-13
    )
    np.testing.assert_array_equal(act(t), act.value(t))


def test_compiled_value_matches_numpy(case):
    _, act, _ = case
    code, params = act.numba_spec()
    t = _test_points(act)
    got = np.array([activation_value(code, params, x) for x in t])
    np.testing.assert_allclose(got, act.value(t), rtol=1e-13, atol=1e-13)


def test_compiled_derivative_matches_numpy(case):
    _, act, _ = case
    code, params = act.numba_spec()
    t = _test_points(act)
    got = np.array([activation_derivative(code, params, x) for x in t])
    np.testing.assert_allclose(got, act.derivative(t), rtol=1e-13, atol=1e-13)


def test_derivative_at_knots_is_left_slope():
    act = PiecewiseLinear([-1.0, 0.0, 2.0], [0.0, 1.0, -1.0], 0.3, -0.2)
    left_slopes = [0.3, 1.0, -1.0]
    np.testing.assert_array_equal(act.derivative(act.knots), left_slopes)
    code, params = act.numba_spec()
    compiled = [activation_derivative(code, params, x) for x in act.knots]
    np.testing.assert_array_equal(compiled, left_slopes)


def test_mmn18_default_shape():
    act = mmn18()
    np.testing.assert_allclose(act.value([-3.0, 0.5, 1.0, 1.5, 9.0]), [-2.5, -2.5, 2.5, 7.5, 7.5])


# -- construction, configs and bad input -----------------------------------------------


@pytest.mark.parametrize("name", list_activations())
def test_get_activation_by_name(name):
    act = get_activation(name)
    assert isinstance(act, Activation)
    assert get_activation(name.upper()).to_config() == act.to_config()


def test_get_activation_accepts_instance():
    act = Tanh()
    assert get_activation(act) is act


def test_config_round_trip(case):
    _, act, _ = case
    config = json.loads(json.dumps(act.to_config()))
    again = get_activation(config)
    assert type(again) is type(act)
    assert again.to_config() == act.to_config()
    t = np.linspace(-4.0, 4.0, 41)
    np.testing.assert_array_equal(again.value(t), act.value(t))


def test_mmn18_config_keeps_its_name():
    assert get_activation(mmn18().to_config()).name == "mmn18"
    assert get_activation({"kind": "mmn18", "t1": 0.0, "t2": 1.0}).knots.tolist() == [0.0, 1.0]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="relu") as excinfo:
        get_activation("softplus")
    assert "softplus" in str(excinfo.value)


def test_unknown_kind_in_config():
    with pytest.raises(ValueError, match="unknown activation kind"):
        get_activation({"kind": "softplus"})


def test_bad_spec_type():
    with pytest.raises(ValueError, match="name, a dict or an Activation"):
        get_activation(3.0)


@pytest.mark.parametrize("knots", [[0.0, 0.0], [1.0, 0.5], [0.0, 2.0, 1.0]])
def test_non_increasing_knots(knots):
    with pytest.raises(ValueError, match="strictly increasing"):
        PiecewiseLinear(knots, np.zeros(len(knots)))


def test_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        PiecewiseLinear([0.0, 1.0], [0.0, 1.0, 2.0])


def test_empty_knots():
    with pytest.raises(ValueError, match="non-empty"):
        PiecewiseLinear([], [])


def test_non_finite_knots():
    with pytest.raises(ValueError, match="finite"):
        PiecewiseLinear([0.0, math.inf], [0.0, 1.0])


@pytest.mark.parametrize(("t1", "t2"), [(1.5, 1.5), (2.0, 1.0)])
def test_mmn18_needs_t1_below_t2(t1, t2):
    with pytest.raises(ValueError, match="t1 < t2"):
        mmn18(t1=t1, t2=t2)


@pytest.mark.parametrize(
    "config",
    [
        {"kind": "shifted-sigmoid", "bogus": 1.0},
        {"kind": "piecewise-linear", "knots": [0.0, 1.0]},
        {"kind": "relu", "bogus": 1.0},
    ],
)
def test_config_with_bad_keys_raises_value_error(config):
    with pytest.raises(ValueError):
        get_activation(config)


def test_tanh_config_with_unknown_key_is_refused():
    with pytest.raises(ValueError):
        get_activation({"kind": "tanh", "bogus": 1.0})


def test_tanh_derivative_has_no_overflow_warning_for_large_t():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        np.testing.assert_array_equal(Tanh().derivative(np.array([-400.0, 400.0])), [0.0, 0.0])
