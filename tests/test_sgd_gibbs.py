"""Noisy SGD samples the Gibbs law ``∝ exp(−β Ψ_λ)`` (noise convention ``√(4 s/β)``).

A single neuron ``σ(w x)`` (ReLU, ``N = d = 1``) trained on the fixed sample ``x = 1``,
``y = 1`` has no sampling noise: its step is ``w ← w − 2 s F'(w) + √(4 s/β) g`` with
``F(w) = ½ (1 − σ(w))² + λ w²/2`` (``Ψ_λ`` of this one-particle system), so its invariant
law is ``∝ exp(−β F)`` — asymmetric and non-Gaussian. The compiled kernel is run as is.
"""

import numpy as np

from reducedpde.activations import get_activation
from reducedpde.solvers.particles.kernels import SAMPLER_GIVEN, KernelState


def test_single_neuron_langevin_samples_gibbs_law():
    lam, beta, s = 0.5, 4.0, 2e-3
    block, n_blocks = 200, 25_000
    st = KernelState(
        [[0.5]],
        None,
        get_activation("relu"),
        SAMPLER_GIVEN,
        np.random.default_rng(0),
        np.random.default_rng(1),
        lam=lam,
        beta=beta,
    )
    x, y, steps = np.ones((block, 1)), np.ones(block), np.full(block, s)
    st.advance(np.full(5000, s), np.ones((5000, 1)), np.ones(5000))  # burn-in
    samples = np.empty(n_blocks)
    for i in range(n_blocks):
        st.advance(steps, x, y)
        samples[i] = st.W[0, 0]

    grid = np.linspace(-6.0, 6.0, 24_001)
    F = 0.5 * (1.0 - np.maximum(grid, 0.0)) ** 2 + 0.5 * lam * grid**2
    dens = np.exp(-beta * (F - F.min()))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    samples.sort()
    model = np.interp(samples, grid, cdf)
    emp_hi = np.arange(1, samples.size + 1) / samples.size
    ks = max(np.max(emp_hi - model), np.max(model - emp_hi + 1.0 / samples.size))
    # samples are 200 steps (0.4 time units) apart; relaxation time ≲ 1, so ≥ 5000
    # effectively independent draws: KS 99.9% quantile ≈ 1.95/√5000 ≈ 0.028
    assert ks < 0.03, ks
    # with noise √(2s/β) the law would be exp(−2βF): far away
    dens_half = np.exp(-2 * beta * (F - F.min()))
    cdf_half = np.cumsum(dens_half) / dens_half.sum()
    assert np.max(np.abs(np.interp(samples, grid, cdf_half) - emp_hi)) > 0.1
