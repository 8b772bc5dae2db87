"""The low-rank angle-averaged kernel against direct quadrature of U(w, w')."""

import math
import warnings

import numpy as np
import pytest
from numpy.polynomial.legendre import leggauss
from scipy.special import roots_jacobi

from reducedpde.activations import mmn18
from reducedpde.models.gaussians.kernel import KernelTruncationWarning, LowRankKernel


def _gaussian_panels(breaks, half_width=12.0, panel=0.1, order=12):
    """Composite Gauss–Legendre nodes/weights for E f(G) with panel edges at ``breaks``."""
    edges = np.unique(np.concatenate([np.arange(-half_width, half_width + panel, panel),
                                      [b for b in breaks if abs(b) < half_width]]))
    x, w = leggauss(order)
    mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    nodes = (mid[:, None] + half[:, None] * x).ravel()
    weights = (half[:, None] * w).ravel() * np.exp(-0.5 * nodes**2) / math.sqrt(2 * math.pi)
    return nodes, weights


def direct_u(activation, delta, d, r, r_prime):
    """u(r, r') = ½ Σ_± E_c E[σ(s r G₁) σ(s r' (c G₁ + √(1−c²) G₃))].

    The G₃ expectation is σ_ρ(s r' c G₁) with ρ = s r' √(1−c²) (closed form); the G₁
    expectation uses panels split at the kinks; c is integrated with Gauss–Jacobi nodes
    for the density ∝ (1−c²)^((d−3)/2) (c = 0 for d = ∞).
    """
    if math.isinf(d):
        cs, cw = np.array([0.0]), np.array([1.0])
    else:
        a = (d - 3) / 2
        cs, cw = roots_jacobi(80, a, a)
        cw = cw / cw.sum()
    total = 0.0
    for s in (1 + delta, 1 - delta):
        g, gw = _gaussian_panels(activation.knots / (s * r))
        left = activation.value(s * r * g)
        for c, wc in zip(cs, cw):
            inner = activation.smoothed(s * r_prime * c * g, s * r_prime * math.sqrt(1 - c * c))
            total += 0.5 * wc * (left * inner) @ gw
    return total


@pytest.mark.parametrize("d", [3, 10, 320, math.inf])
def test_low_rank_kernel_matches_direct_quadrature(d):
    """|u_lowrank − u| stays within the kernel's own a-priori bound (≤ 1e-10 for d = 320)."""
    act = mmn18()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KernelTruncationWarning)
        kernel = LowRankKernel(act, 0.5, d, r_bound=4.0, tol=1e-10)
    pairs = [(0.3, 0.3), (0.5, 1.7), (1.2, 2.5), (3.9, 0.8), (2.0, 2.0)]
    for r, rp in pairs:
        got = kernel(r, rp)[0, 0]
        want = direct_u(act, 0.5, d, r, rp)
        assert abs(got - want) <= kernel.tail_bound + 1e-11, (r, rp, got, want)


def test_kernel_reaches_tolerance_in_high_dimension():
    kernel = LowRankKernel(mmn18(), 0.5, 320, r_bound=4.0, tol=1e-10)
    assert kernel.tail_bound <= 1e-10
    assert kernel.rank <= 14


def test_infinite_dimension_keeps_rank_two():
    kernel = LowRankKernel(mmn18(), 0.5, math.inf, r_bound=4.0)
    assert kernel.rank == 2
    assert kernel.tail_bound == 0.0


def test_small_dimension_warns_when_tolerance_is_not_reached():
    with pytest.warns(KernelTruncationWarning, match="kernel_tol"):
        LowRankKernel(mmn18(), 0.5, 3, r_bound=4.0, tol=1e-10)


def test_kernel_is_symmetric():
    kernel = LowRankKernel(mmn18(), 0.5, 10, r_bound=4.0, tol=1e-6)
    r = np.linspace(0.1, 3.0, 7)
    u = kernel(r, r)
    np.testing.assert_allclose(u, u.T, rtol=1e-14)
