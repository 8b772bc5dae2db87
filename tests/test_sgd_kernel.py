"""The compiled SGD kernel's fixed evaluation order: the row operations follow their stated
order exactly, the read-only and fused paths agree bit for bit, and so a run does not depend
on how its steps are split into blocks, whichever path each row takes."""

import math
from fractions import Fraction

import numba
import numpy as np
import pytest

from reducedpde.activations import (
    PiecewiseLinear,
    activation_derivative,
    activation_value,
    get_activation,
)
from reducedpde.solvers.particles.kernels import (
    SAMPLER_GAUSSIAN_CLASSES,
    SAMPLER_GIVEN,
    KernelState,
    _activations,
    _piecewise_linear_terms,
)
from reducedpde.solvers.particles.rowops import dot, row_step, row_step_noisy

# row lengths hitting every part of the loop: 16-wide groups, the extra group of 8, the tail
LENGTHS = [0, 1, 5, 8, 12, 16, 23, 24, 37, 40]


def _fma(a, b, c):
    return float(Fraction(a) * Fraction(b) + Fraction(c))


def _ordered_dot(v, y):
    """The order stated in :mod:`reducedpde.solvers.particles.rowops`, with exact-rounding fma."""
    n = len(v)
    m16, m8 = n - n % 16, n - n % 8
    s = [0.0] * 16
    for l in range(m16):
        s[l % 16] = _fma(v[l], y[l], s[l % 16])
    for l in range(m16, m8):
        s[l - m16] = _fma(v[l], y[l], s[l - m16])
    q = [(s[k] + s[k + 8]) + (s[k + 4] + s[k + 12]) for k in range(4)]
    total = (q[0] + q[2]) + (q[1] + q[3])
    for l in range(m8, n):
        total = _fma(v[l], y[l], total)
    return total


@numba.njit
def _dots(U, y, out):
    for i in range(U.shape[0]):
        out[i] = dot(U, i, y)


@numba.njit
def _steps(W, decay, c, x, y, out):
    for i in range(W.shape[0]):
        out[i] = row_step(W, i, decay, c, x, y)


@numba.njit
def _noisy_steps(W, decay, c, x, noise, g, y, out):
    for i in range(W.shape[0]):
        out[i] = row_step_noisy(W, i, decay, c, x, noise, g, y)


@pytest.mark.parametrize("d", LENGTHS)
def test_row_operations_follow_the_stated_order(d):
    rng = np.random.default_rng(d)
    W = rng.standard_normal((3, d))
    x, y, g = rng.standard_normal((3, d))
    decay, c, noise = 0.97, 0.3, 0.05
    out = np.empty(3)

    _dots(W, y, out)
    assert [*out] == [_ordered_dot(w, y) for w in W]

    W1 = W.copy()
    _steps(W1, decay, c, x, y, out)
    new = [[_fma(c, x[l], decay * w[l]) for l in range(d)] for w in W]
    assert W1.tolist() == new
    assert [*out] == [_ordered_dot(v, y) for v in new]

    W2 = W.copy()
    _noisy_steps(W2, decay, c, x, noise, g, y, out)
    new = [[_fma(noise, g[l], _fma(c, x[l], decay * w[l])) for l in range(d)] for w in W]
    assert W2.tolist() == new
    assert [*out] == [_ordered_dot(v, y) for v in new]


@pytest.mark.parametrize("d", LENGTHS)
def test_fused_step_without_change_equals_read_only_dot(d):
    rng = np.random.default_rng(100 + d)
    W = rng.standard_normal((20, d)) * rng.uniform(1e-3, 1e3, size=(20, 1))
    x, y, g = rng.standard_normal((3, d))
    read, fused, noisy = np.empty(20), np.empty(20), np.empty(20)
    _dots(W, y, read)
    W1, W2 = W.copy(), W.copy()
    _steps(W1, 1.0, 0.0, x, y, fused)
    _noisy_steps(W2, 1.0, 0.0, x, 0.0, g, y, noisy)
    np.testing.assert_array_equal(W1, W)
    np.testing.assert_array_equal(W2, W)
    assert read.tobytes() == fused.tobytes() == noisy.tobytes()


@pytest.mark.parametrize(
    "act",
    [
        get_activation("mmn18"),
        get_activation("relu"),
        PiecewiseLinear([-1.0, 0.3, 2.0], [0.5, -0.7, 1.9], left_slope=0.3, right_slope=-1.1),
    ],
    ids=["mmn18", "relu", "three-knots"],
)
def test_vectorised_piecewise_linear_activation_matches_numpy_bit_for_bit(act):
    code, params = act.numba_spec()
    offset, left, knots, jumps = _piecewise_linear_terms(code, params)
    assert offset == act.offset and left == act.left_slope
    np.testing.assert_array_equal(knots, act.knots)
    np.testing.assert_array_equal(jumps, act.slope_jumps)
    h = np.concatenate([
        np.random.default_rng(0).normal(0.5, 2.0, 1000),
        act.knots,  # σ' at a kink is the left slope
        np.nextafter(act.knots, np.inf),
        np.nextafter(act.knots, -np.inf),
        [0.0, -0.0, 1e300, -1e300],
    ])
    sig, dsig = np.empty_like(h), np.empty_like(h)
    _activations(code, params, offset, left, knots, jumps, h, sig, dsig)
    np.testing.assert_array_equal(sig, act.value(h))
    np.testing.assert_array_equal(dsig, act.derivative(h))
    kinks = slice(1000, 1000 + act.knots.size)
    below = np.array([activation_derivative(code, params, t) for t in np.nextafter(h[kinks], -1)])
    np.testing.assert_allclose(dsig[kinks], below, rtol=1e-14)


@numba.njit
def _scalar_activations(code, params, h, sig, dsig):
    for i in range(h.size):
        sig[i] = activation_value(code, params, h[i])
        dsig[i] = activation_derivative(code, params, h[i])


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_smooth_activations_use_the_scalar_evaluators(name):
    code, params = get_activation(name).numba_spec()
    h = np.random.default_rng(1).normal(0.0, 3.0, 500)
    sig, dsig, ref_sig, ref_dsig = (np.empty_like(h) for _ in range(4))
    _activations(code, params, *_piecewise_linear_terms(code, params), h, sig, dsig)
    _scalar_activations(code, params, h, ref_sig, ref_dsig)
    np.testing.assert_array_equal(sig, ref_sig)
    np.testing.assert_array_equal(dsig, ref_dsig)


def _run(chunks, *, N, d, activation, batch, lam, beta, train_a, kappa=0.4, eps=0.02):
    W0 = (kappa / math.sqrt(d)) * np.random.default_rng(0).standard_normal((N, d))
    A0 = np.random.default_rng(1).uniform(0.5, 1.5, N) if train_a else None
    st = KernelState(
        W0, A0, get_activation(activation), SAMPLER_GAUSSIAN_CLASSES,
        np.random.default_rng(2), np.random.default_rng(3),
        batch=batch, lam=lam, beta=beta, delta=0.5,
    )
    for n in chunks:
        st.advance(np.full(n, eps))
    return st


@pytest.mark.parametrize(
    ("activation", "batch", "lam", "beta", "train_a"),
    [
        ("mmn18", 1, 0.0, math.inf, False),  # read-only rows (σ' = 0 off (0.5, 1.5])
        ("mmn18", 3, 0.0, math.inf, False),
        ("relu", 1, 0.0, math.inf, True),
        ("mmn18", 1, 0.1, math.inf, False),  # weight decay: every row is rewritten
        ("mmn18", 1, 0.0, 40.0, True),  # noise: every row is rewritten
        ("tanh", 2, 0.05, 40.0, True),
    ],
)
@pytest.mark.parametrize("d", [12, 37, 40])
def test_block_splitting_is_bit_identical_on_every_path(activation, batch, lam, beta, train_a, d):
    cfg = dict(N=40, d=d, activation=activation, batch=batch, lam=lam, beta=beta,
               train_a=train_a)
    whole = _run([300], **cfg)
    split = _run([1, 7, 292], **cfg)
    singles = _run([1] * 40 + [260], **cfg)
    for other in (split, singles):
        assert other.W.tobytes() == whole.W.tobytes()
        assert other.A.tobytes() == whole.A.tobytes()


def test_read_only_and_updated_rows_both_occur():
    """The configuration of the first case above takes both paths within one step."""
    N, d = 40, 37
    W0 = (0.4 / math.sqrt(d)) * np.random.default_rng(0).standard_normal((N, d))
    st = KernelState(W0, None, get_activation("mmn18"), SAMPLER_GAUSSIAN_CLASSES,
                     np.random.default_rng(2), np.random.default_rng(3), delta=0.5)
    unchanged = []
    for _ in range(20):
        before = st.W.copy()
        st.advance([0.02])
        unchanged.append(np.all(st.W == before, axis=1))
    unchanged = np.array(unchanged)
    assert 0 < unchanged.mean() < 1
    assert unchanged.any(axis=1).all() and (~unchanged).any(axis=1).any()


def test_step_matches_the_formula_for_given_samples():
    """One step with supplied data, read-only and fused rows together, against NumPy."""
    act = get_activation("mmn18")
    rng = np.random.default_rng(4)
    N, d, s = 30, 21, 0.05
    W0 = rng.normal(0.0, 0.5, (N, d))
    x, y = rng.standard_normal(d), 0.3
    st = KernelState(W0, None, act, SAMPLER_GIVEN, *(np.random.default_rng(k) for k in (5, 6)))
    st.advance([s], x[None, :], [y])
    h = W0 @ x
    e = y - act.value(h).mean()
    expected = W0 + np.outer(2.0 * s * e * act.derivative(h), x)
    zero = act.derivative(h) == 0.0
    assert zero.any() and (~zero).any()
    np.testing.assert_array_equal(st.W[zero], W0[zero])
    np.testing.assert_allclose(st.W, expected, rtol=0, atol=1e-14)
