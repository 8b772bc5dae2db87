"""The compiled SGD step against the loss, the population risk and the noise convention.

One step is ``θ_i ← θ_i − s N ∇_{θ_i}(y − ŷ)²`` (per-sample), whose mean over samples is
``−2 s ∇Ψ_λ(θ_i; ρ̂_N)`` with ``∇_{θ_i} R = (2/N) ∇Ψ(θ_i; ρ̂_N)``; the noise has covariance
``(4 s/β) I``.
"""

import math

import numpy as np
import pytest

from reducedpde.activations import get_activation
from reducedpde.models.gaussians.population_risk import gaussian_classes_risk
from reducedpde.models.multiindex.expansions import hermite_expansion, make_target
from reducedpde.models.multiindex.population_risk import multiindex_gaussian_risk
from reducedpde.solvers.particles.kernels import (
    SAMPLER_GAUSSIAN_CLASSES,
    SAMPLER_GAUSSIAN_SUBSPACE,
    SAMPLER_GIVEN,
    KernelState,
)


def _rngs(seed):
    return np.random.default_rng(seed), np.random.default_rng(seed + 1000)


def _sample_loss(W, A, x, y, act):
    return (y - A @ act.value(W @ x) / W.shape[0]) ** 2


def _central_difference(f, theta, h):
    grad = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        up, down = theta.copy(), theta.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (f(up) - f(down)) / (2 * h)
    return grad


@pytest.mark.parametrize("name", ["tanh", "mmn18"])
def test_step_is_minus_N_times_sample_loss_gradient(name):
    act = get_activation(name)
    rng = np.random.default_rng(1)
    N, d, s = 5, 4, 1e-3
    W0 = rng.standard_normal((N, d)) * 0.6
    A0 = rng.standard_normal(N)
    x, y = rng.standard_normal(d), 0.7
    xi_a, xi_w = 0.7, 1.3
    st = KernelState(W0, A0, act, SAMPLER_GIVEN, *_rngs(0), xi_a=xi_a, xi_w=xi_w)
    st.advance([s], x[None, :], [y])
    grad_w = _central_difference(lambda W: _sample_loss(W, A0, x, y, act), W0, 1e-6)
    grad_a = _central_difference(lambda A: _sample_loss(W0, A, x, y, act), A0, 1e-6)
    np.testing.assert_allclose((st.W - W0) / s, -xi_w * N * grad_w, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose((st.A - A0) / s, -xi_a * N * grad_a, rtol=1e-6, atol=1e-8)


def _mean_displacement(state, W0, A0, s, reps, draw=None):
    """Mean and standard error of the one-step displacement (divided by s) over ``reps``
    batches; ``draw()`` supplies ``(z, y)`` for samplers that need them."""
    dW, dA = [], []
    for _ in range(reps):
        state.W[:] = W0
        state.A[:] = A0
        state.advance([s], *(draw() if draw is not None else ()))
        dW.append((state.W - W0) / s)
        dA.append((state.A - A0) / s)
    dW, dA = np.array(dW), np.array(dA)
    se = lambda v: v.std(axis=0, ddof=1) / math.sqrt(reps)  # noqa: E731
    return dW.mean(axis=0), se(dW), dA.mean(axis=0), se(dA)


def test_mean_step_is_minus_2s_grad_psi_gaussian_classes():
    act, delta, lam = get_activation("mmn18"), 0.5, 0.3
    rng = np.random.default_rng(2)
    N, d, s, batch, reps = 3, 4, 1e-3, 20_000, 40
    W0 = rng.standard_normal((N, d)) * 0.6
    st = KernelState(
        W0, None, act, SAMPLER_GAUSSIAN_CLASSES, *_rngs(3), batch=batch, lam=lam, delta=delta
    )
    mean, se, _, _ = _mean_displacement(st, W0, np.ones(N), s, reps)
    grad_R = _central_difference(lambda W: gaussian_classes_risk(W, act, delta), W0, 1e-5)
    grad_psi = 0.5 * N * grad_R  # ∇_{w_i} R = (2/N) ∇Ψ(w_i; ρ̂_N)
    expected = -2.0 * (grad_psi + lam * W0)
    assert np.all(np.abs(mean - expected) <= 4.0 * se + 1e-9), (mean, expected, se)
    assert np.max(np.abs(expected)) > 20 * np.max(se)  # the test has power


def test_mean_step_is_minus_2s_grad_psi_multiindex_with_layer_ratio():
    act, lam, xi_a, xi_w = get_activation("relu"), 0.2, 0.5, 1.5
    target = make_target({(1, 0): 1.0, (1, 1): 0.8, (0, 2): -0.5}, 2)
    expansion = hermite_expansion(target)
    rng = np.random.default_rng(4)
    N, d, k, s, batch, reps = 3, 5, 2, 1e-3, 20_000, 40
    W0 = rng.standard_normal((N, d)) * 0.7
    A0 = rng.standard_normal(N)
    st = KernelState(
        W0,
        A0,
        act,
        SAMPLER_GAUSSIAN_SUBSPACE,
        *_rngs(5),
        batch=batch,
        lam=lam,
        xi_a=xi_a,
        xi_w=xi_w,
    )
    zrng = np.random.default_rng(6)

    def draw():
        z = zrng.standard_normal((batch, k))
        return z, target(z)

    mean_w, se_w, mean_a, se_a = _mean_displacement(st, W0, A0, s, reps, draw=draw)
    risk = lambda W, A: multiindex_gaussian_risk(W, A, expansion, act)  # noqa: E731
    grad_w = 0.5 * N * _central_difference(lambda W: risk(W, A0), W0, 1e-5)
    grad_a = 0.5 * N * _central_difference(lambda A: risk(W0, A), A0, 1e-5)
    exp_w = -2.0 * xi_w * (grad_w + lam * W0)
    exp_a = -2.0 * xi_a * (grad_a + lam * A0)
    assert np.all(np.abs(mean_w - exp_w) <= 4.0 * se_w + 1e-9), (mean_w, exp_w, se_w)
    assert np.all(np.abs(mean_a - exp_a) <= 4.0 * se_a + 1e-9), (mean_a, exp_a, se_a)


def test_noise_covariance_is_4s_over_beta():
    act, beta, s, xi_a, xi_w = get_activation("mmn18"), 2.0, 1e-7, 0.5, 2.0
    N, d = 4000, 3
    rng = np.random.default_rng(7)
    W0 = rng.standard_normal((N, d)) * 0.5
    A0 = rng.standard_normal(N)
    st = KernelState(
        W0, A0, act, SAMPLER_GAUSSIAN_SUBSPACE, *_rngs(8), beta=beta, xi_a=xi_a, xi_w=xi_w
    )
    z = rng.standard_normal((1, 1))
    st.advance([s], z, z[:, 0])
    # the data drift is O(s) = 1e-7, negligible against the noise O(√s) ~ 1e-3
    gw = (st.W - W0) / math.sqrt(4 * xi_w * s / beta)
    ga = (st.A - A0) / math.sqrt(4 * xi_a * s / beta)
    cov = np.cov(np.column_stack([gw, ga]), rowvar=False)  # (d + 1) × (d + 1)
    tol = 4.0 * math.sqrt(2.0 / N)
    np.testing.assert_allclose(np.diag(cov), 1.0, atol=tol)
    off = cov - np.diag(np.diag(cov))
    assert np.max(np.abs(off)) < 4.0 / math.sqrt(N)
