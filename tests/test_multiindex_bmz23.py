"""BMZ23: plateau values of the staged learning of φ = He_0 − He_1 + (2/3) He_2 (ReLU)."""

import math

import numpy as np
import pytest
from numpy.polynomial.hermite_e import hermegauss

from reducedpde.activations import relu
from reducedpde.models.multiindex.spherical import SphericalHermiteModel, bmz23_plateau_values
from reducedpde.models.multiindex.targets import bmz23_rates, bmz23_target
from reducedpde.solvers.lagrangian.multiindex import solve_multiindex_particles


def test_plateau_values_in_closed_form():
    """Orthonormal He_k: R_ℓ = Σ_{k>ℓ} φ_k² = 13/9, 4/9, 0 (ours); halved for BMZ23."""
    vals = bmz23_plateau_values()
    np.testing.assert_allclose(vals.risk, [13 / 9, 4 / 9, 0.0], atol=1e-14)
    np.testing.assert_allclose(vals.risk_bmz, [13 / 18, 2 / 9, 0.0], atol=1e-14)
    assert vals.initial_risk == pytest.approx(22 / 9)
    np.testing.assert_allclose(vals.sigma_k, [1 / math.sqrt(2 * math.pi), 0.5,
                                              1 / (2 * math.sqrt(math.pi))], atol=1e-15)


def test_plateau_values_with_unnormalised_hermite_basis():
    """He_2 = z² − 1 (norm √2): φ_2 = (2/3)√2 and R_ℓ = 17/9, 8/9, 0."""
    vals = bmz23_plateau_values(normalized=False)
    np.testing.assert_allclose(vals.risk, [17 / 9, 8 / 9, 0.0], atol=1e-14)


@pytest.mark.parametrize("normalized", [True, False])
@pytest.mark.parametrize("ell", [0, 1, 2])
def test_plateau_values_match_a_direct_minimisation(ell, normalized):
    """Best fit by ℓ + 1 ReLU neurons on the sphere with overlaps s_j = jδ (δ → 0).

    Independent of the Hermite route: features σ_{r_j}(s_j z), r_j = √(1 − s_j²), from the
    activation's closed-form smoothing, the target from its definition, 120-node Gauss–Hermite
    in z, and a least-squares minimisation over the second-layer weights. The restricted
    minimum converges to R_ℓ like O(δ).
    """
    act = relu()
    x, w = hermegauss(120)
    w = w / w.sum()
    he2 = (x * x - 1) / (math.sqrt(2) if normalized else 1.0)
    phi = 1.0 - x + (2.0 / 3.0) * he2
    expected = bmz23_plateau_values(normalized=normalized).risk[ell]
    for delta in (1e-3, 1e-4):
        s = delta * np.arange(ell + 1)
        r = np.sqrt(1 - s * s)
        F = np.stack([act.smoothed(sj * x, rj) for sj, rj in zip(s, r)], axis=1)
        sw = np.sqrt(w)
        c, *_ = np.linalg.lstsq(F * sw[:, None], phi * sw, rcond=None)
        restricted = w @ (phi - F @ c) ** 2
        assert abs(restricted - expected) < 2 * delta


def test_rates_reproduce_bmz23_time_scale():
    """ξ_a = 1/(2ε), ξ_w = 1/2: ȧ = −(1/ε)∂_aΨ and ṡ = −(1 − s²)∂_sΨ (BMZ23's equations)."""
    eps = 1e-3
    xa, xw = bmz23_rates(eps)
    model = SphericalHermiteModel(relu(), bmz23_target(), xi_a=xa, xi_w=xw)
    a = np.array([0.5, -1.0, 2.0])
    s = np.array([[0.1], [-0.3], [0.6]])
    p = np.full(3, 1 / 3)
    h = 1e-6
    da, ds, _ = model.velocity(a, s, None, p)
    for i in range(3):
        def psi(ai, si, i=i):
            return model.psi(a, s, None, p, at=(np.array([ai]), np.array([[si]])))[0]

        dpsi_a = (psi(a[i] + h, s[i, 0]) - psi(a[i] - h, s[i, 0])) / (2 * h)
        dpsi_s = (psi(a[i], s[i, 0] + h) - psi(a[i], s[i, 0] - h)) / (2 * h)
        assert da[i] == pytest.approx(-dpsi_a / eps, rel=1e-7)
        assert ds[i, 0] == pytest.approx(-(1 - s[i, 0] ** 2) * dpsi_s, rel=1e-6)


def test_mean_field_run_visits_the_first_two_stages():
    """m = 10 particles, ε = 1e-6, a = 0, s ~ N(0, 1/d) with d = 10⁴ (BMZ23 Fig. 2 setting).

    Stage 0: risk at R_0 = 13/9 (constant learnt, nothing else). Stage 1: the He_1
    component is learnt while He_2 is barely started (so the risk sits just below R_1).
    """
    xa, xw = bmz23_rates(1e-6)
    model = SphericalHermiteModel(relu(), bmz23_target(), xi_a=xa, xi_w=xw)
    rng = np.random.default_rng(1)
    s = rng.standard_normal((10, 1)) / 100.0
    a = np.zeros(10)
    times = np.array([0.0, 1e-4, 2e-4, 1e-2, 2e-2, 1e3])
    res = solve_multiindex_particles(model, a, s, None, None, times, method="LSODA",
                                     rtol=1e-9, atol=1e-12)
    plateaus = bmz23_plateau_values()
    f0, f1, f2 = res.hermite.T
    for j in (1, 2):  # stage 0
        assert abs(res.risk[j] - plateaus.risk[0]) < 5e-3
        assert abs(f0[j] - 1.0) < 5e-3 and abs(f1[j]) < 5e-3
    for j in (3, 4):  # stage 1
        assert abs(f1[j] + 1.0) < 0.1 and f2[j] < 0.15
        assert 0.25 < res.risk[j] < plateaus.risk[1] + 0.01
    assert res.risk[-1] < 1e-3
