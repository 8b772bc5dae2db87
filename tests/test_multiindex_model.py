"""The (a, s, r) multi-index model: smoothing, expectations, velocity field."""

import itertools
import math

import numpy as np
import pytest
from finite_differences import atom_gradient  # tests/, on the path of the test modules

from reducedpde.activations import ShiftedSigmoid, Tanh, mmn18, relu
from reducedpde.models.multiindex.latents import GaussianLatent, HypercubeLatent
from reducedpde.models.multiindex.reduced import MultiIndexModel
from reducedpde.models.multiindex.smoothing import (
    smoothed_features,
    smoothed_features_numpy,
    smoothed_second_derivative,
    smoothed_second_moment,
)
from reducedpde.models.multiindex.spherical import SphericalHermiteModel
from reducedpde.models.multiindex.targets import (
    HermiteTarget,
    MonomialTarget,
    bmz23_target,
    staircase_target,
)

ACTIVATIONS = [relu(), mmn18(), Tanh(), ShiftedSigmoid(shift=-2.0)]


def _atoms(m, k, seed, r_low=0.3):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=m)
    s = rng.normal(scale=0.7, size=(m, k))
    r = rng.uniform(r_low, 1.5, size=m)
    p = rng.uniform(0.5, 1.5, size=m)
    return a, s, r, p / p.sum()


# -- Gaussian smoothing σ_r --------------------------------------------------------------


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
def test_compiled_smoothing_matches_numpy_twin(act):
    rng = np.random.default_rng(0)
    T = rng.normal(scale=2.0, size=(7, 9))
    r = np.concatenate([[0.0], rng.uniform(0.01, 3.0, size=6)])
    fast = smoothed_features(act, T, r)
    ref = smoothed_features_numpy(act, T, r[:, None])
    for x, y in zip(fast, ref):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-13)


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
def test_smoothing_matches_activation_module(act):
    rng = np.random.default_rng(1)
    T = rng.normal(scale=2.0, size=(5, 6))
    r = rng.uniform(0.05, 3.0, size=5)
    S0, S1, _ = smoothed_features(act, T, r)
    np.testing.assert_allclose(S0, act.smoothed(T, r[:, None]), atol=1e-12)
    np.testing.assert_allclose(S1, act.smoothed_derivative(T, r[:, None]), atol=1e-12)


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
def test_r_derivative_is_finite_difference_and_heat_equation(act):
    """∂_r σ_r = (FD in r) = r ∂²_t σ_r (FD of ∂_t σ_r in t)."""
    t = np.linspace(-2.5, 2.5, 11)
    r = 0.8
    h = 1e-5
    dr = smoothed_features_numpy(act, t, r)[2]
    fd_r = (act.smoothed(t, r + h) - act.smoothed(t, r - h)) / (2 * h)
    fd_tt = (act.smoothed_derivative(t + h, r) - act.smoothed_derivative(t - h, r)) / (2 * h)
    np.testing.assert_allclose(dr, fd_r, atol=1e-8)
    np.testing.assert_allclose(dr, r * fd_tt, atol=1e-8)
    np.testing.assert_allclose(smoothed_second_derivative(act, t, r), fd_tt, atol=1e-8)


@pytest.mark.parametrize("t, r", [(0.3, 0.7), (-1.0, 2.0), (1.0, 0.3), (0.9, 0.0)])
def test_smoothed_second_moment_matches_adaptive_quadrature(t, r):
    from scipy.integrate import quad

    act = mmn18()
    if r == 0:
        assert smoothed_second_moment(act, t, r) == pytest.approx(float(act.value(t)) ** 2)
        return
    kinks = sorted((tj - t) / r for tj in act.knots)
    edges = [-40.0, *kinks, 40.0]

    def f(g):
        return float(act.value(t + r * g)) ** 2 * math.exp(-0.5 * g * g) / math.sqrt(2 * math.pi)

    ref = sum(quad(f, lo, hi, epsabs=1e-13)[0] for lo, hi in itertools.pairwise(edges))
    assert abs(smoothed_second_moment(act, t, r) - ref) < 1e-12


# -- velocity field ------------------------------------------------------------------------


def _gaussian_model(**kw):
    target = HermiteTarget({(1, 0): 1.0, (1, 1): 0.5, (0, 2): -0.4, (0, 0): 0.2})
    return MultiIndexModel(mmn18(), target, GaussianLatent(2, 24), **kw)


def _hypercube_model(**kw):
    return MultiIndexModel(Tanh(), staircase_target(3), HypercubeLatent(3), **kw)


@pytest.mark.parametrize("make", [_gaussian_model, _hypercube_model])
def test_a_velocity_does_not_depend_on_a(make):
    model = make(xi_a=0.7, xi_w=1.3)
    a, s, r, p = _atoms(6, model.k, 2)
    test_a = np.array([-2.0, -0.3, 0.0, 1.0, 4.0])
    at = (test_a, np.tile(s[0], (5, 1)), np.full(5, r[0]))
    da = model.velocity(a, s, r, p, at=at)[0]
    np.testing.assert_allclose(da, da[0], rtol=0, atol=1e-14)


@pytest.mark.parametrize("make", [_gaussian_model, _hypercube_model])
def test_s_and_r_velocities_are_linear_in_a(make):
    model = make(xi_a=0.7, xi_w=1.3)
    a, s, r, p = _atoms(6, model.k, 3)
    test_a = np.array([-2.0, -0.3, 0.5, 1.0, 4.0])
    at = (test_a, np.tile(s[1], (5, 1)), np.full(5, r[1]))
    _, ds, dr = model.velocity(a, s, r, p, at=at)
    _, ds1, dr1 = model.velocity(a, s, r, p, at=(np.ones(1), s[1:2], r[1:2]))
    np.testing.assert_allclose(ds, test_a[:, None] * ds1, atol=1e-14)
    np.testing.assert_allclose(dr, test_a * dr1, atol=1e-14)


@pytest.mark.parametrize("make", [_gaussian_model, _hypercube_model])
def test_velocity_is_minus_mobility_times_gradient_of_psi(make):
    """(ȧ, ṡ, ṙ) = −2(ξ_a ∂_a, ξ_w ∇_s, ξ_w ∂_r) Ψ_λ, Ψ_λ by central differences."""
    lam, xa, xw = 0.3, 0.7, 1.9
    model = make(xi_a=xa, xi_w=xw, lam=lam)
    a, s, r, p = _atoms(5, model.k, 4)
    theta = np.array([0.8, *(0.4 * np.arange(1, model.k + 1)), 0.9])
    k = model.k

    def psi_lam(th):
        at = (th[:1], th[1 : 1 + k][None, :], th[-1:])
        return model.psi(a, s, r, p, at=at)[0] + 0.5 * lam * th @ th

    h = 1e-6
    grad = np.array(
        [(psi_lam(theta + h * e) - psi_lam(theta - h * e)) / (2 * h) for e in np.eye(k + 2)]
    )
    da, ds, dr = model.velocity(a, s, r, p, at=(theta[:1], theta[None, 1 : 1 + k], theta[-1:]))
    mobility = np.array([xa, *([xw] * k), xw])
    np.testing.assert_allclose(
        np.concatenate([da, ds[0], dr]), -2.0 * mobility * grad, rtol=1e-7, atol=1e-8
    )


@pytest.mark.parametrize("make", [_gaussian_model, _hypercube_model])
def test_psi_is_half_the_first_variation_of_the_risk(make):
    """∂R/∂θ_i = 2 p_i ∇Ψ(θ_i; ρ̄) for ρ̄ = Σ p_j δ_{θ_j}."""
    model = make()
    a, s, r, p = _atoms(4, model.k, 5)
    i = 2
    g_a, g_s, g_r = model.psi_gradient(a, s, r, p)
    fd_a, fd_s, fd_r = atom_gradient(lambda aa, ss, rr: model.risk(aa, ss, rr, p),
                                     a, s, r, i, h=1e-6)
    fd = np.concatenate([[fd_a], fd_s, [fd_r]])
    expected = 2 * p[i] * np.concatenate([[g_a[i]], g_s[i], [g_r[i]]])
    np.testing.assert_allclose(fd, expected, rtol=1e-6, atol=1e-9)


def test_spherical_velocity_is_projected_gradient_and_keeps_the_sphere():
    """ṡ = −2ξ_w (I − s sᵀ) ∇_s Ψ̃(s), Ψ̃(s) = Ψ(s, √(1 − |s|²)); d(|s|² + r²)/dt = 0."""
    xw = 0.8
    target = HermiteTarget({(1, 0): 1.0, (0, 2): 0.5})
    model = MultiIndexModel(relu(), target, GaussianLatent(2, 40), xi_w=xw, spherical=True)
    rng = np.random.default_rng(6)
    a = rng.normal(size=5)
    s = rng.uniform(-0.5, 0.5, size=(5, 2))
    p = np.full(5, 0.2)
    s0 = np.array([0.3, -0.4])

    def psi_tilde(x):
        return model.psi(a, s, None, p, at=(np.ones(1), x[None, :], None))[0]

    h = 1e-6
    grad = np.array([(psi_tilde(s0 + h * e) - psi_tilde(s0 - h * e)) / (2 * h) for e in np.eye(2)])
    _, ds, dr = model.velocity(a, s, None, p, at=(np.ones(1), s0[None, :], None))
    np.testing.assert_allclose(ds[0], -2 * xw * (grad - s0 * (s0 @ grad)), rtol=1e-6, atol=1e-9)
    r0 = math.sqrt(1 - s0 @ s0)
    assert abs(s0 @ ds[0] + r0 * dr[0]) < 1e-13


# -- latent expectations -------------------------------------------------------------------


def test_hypercube_expectations_are_exact():
    """Risk, Ψ and Fourier–Walsh coefficients equal a brute-force sum over {±1}^k."""
    k = 4
    act = mmn18()
    model = MultiIndexModel(act, staircase_target(k), "hypercube")
    a, s, r, p = _atoms(5, k, 7)

    def phi(z):
        return z[0] + z[0] * z[1] + z[0] * z[1] * z[2] + z[0] * z[1] * z[2] * z[3]

    cube = [np.array(z, dtype=float) for z in itertools.product((-1, 1), repeat=k)]
    f = [sum(p[i] * a[i] * float(act.smoothed(s[i] @ z, r[i])) for i in range(5)) for z in cube]
    risk = np.mean([(phi(z) - fz) ** 2 for z, fz in zip(cube, f)])
    psi = [
        -a[i] * np.mean([(phi(z) - fz) * float(act.smoothed(s[i] @ z, r[i])) for z, fz in
                         zip(cube, f)])
        for i in range(5)
    ]
    sets, coef = model.fourier_walsh(a, s, r, p)
    brute = [np.mean([fz * np.prod(z[list(S)]) for z, fz in zip(cube, f)]) for S in sets]
    assert abs(model.risk(a, s, r, p) - risk) < 1e-13
    np.testing.assert_allclose(model.psi(a, s, r, p), psi, atol=1e-14)
    np.testing.assert_allclose(coef, brute, atol=1e-14)
    assert model.quadrature_error(a, s, r, p) == 0.0


def test_gaussian_potential_matches_mehler_closed_form():
    """E[He_α(z) σ_r(⟨s,z⟩)] = h_{|α|}(ρ) (s/ρ)^α with ρ² = |s|² + r² (exact)."""
    act = mmn18()
    coeffs = {(1, 0): 0.7, (2, 1): -0.3, (0, 3): 0.25, (0, 0): 0.1}
    model = MultiIndexModel(act, HermiteTarget(coeffs), GaussianLatent(2, 40))
    rng = np.random.default_rng(8)
    s = rng.normal(scale=0.6, size=(4, 2))
    r = rng.uniform(0.4, 1.2, size=4)
    rho = np.sqrt(np.sum(s * s, axis=1) + r * r)
    h = act.hermite_coefficients(rho, 3)
    exact = sum(
        c * h[:, sum(al)] * np.prod((s / rho[:, None]) ** np.array(al), axis=1)
        for al, c in coeffs.items()
    )
    # Ψ for the empty network (a' = 0) at a = −1 is E[φ σ_r(⟨s,z⟩)]
    psi = model.psi(np.zeros(1), np.zeros((1, 2)), np.ones(1), np.ones(1), at=(-np.ones(4), s, r))
    np.testing.assert_allclose(psi, exact, atol=1e-12)


def test_gaussian_interaction_matches_monte_carlo():
    """U/(a a') = E_z[σ_r(⟨s,z⟩) σ_{r'}(⟨s',z⟩)] vs 4·10⁵ Monte-Carlo samples (5 s.e.)."""
    act = relu()
    zero = HermiteTarget({(0, 0): 0.0})
    model = MultiIndexModel(act, zero, GaussianLatent(2, 32))
    s1, r1 = np.array([0.6, -0.3]), 0.7
    s2, r2 = np.array([-0.2, 0.9]), 0.5
    # Ψ(θ; δ_θ') with φ = 0 is a a' E[σ_r σ_r']
    u = model.psi(np.ones(1), s2[None], np.array([r2]), np.ones(1),
                  at=(np.ones(1), s1[None], np.array([r1])))[0]
    rng = np.random.default_rng(9)
    z = rng.standard_normal((400_000, 2))
    x = act.smoothed(z @ s1, r1) * act.smoothed(z @ s2, r2)
    assert abs(u - x.mean()) < 5 * x.std() / math.sqrt(x.size)


def test_gaussian_quadrature_error_estimate_is_small_for_smooth_features():
    model = _gaussian_model()
    a, s, r, p = _atoms(6, 2, 10, r_low=0.5)
    assert model.quadrature_error(a, s, r, p) < 1e-10


def test_spherical_hermite_model_matches_latent_quadrature():
    """BMZ23's v(s) = Σ φ_k σ_k s^k, κ(ss') route equals the σ_r route (k = 1)."""
    rng = np.random.default_rng(11)
    a = rng.normal(size=6)
    s = rng.uniform(-0.9, 0.9, size=(6, 1))
    p = np.full(6, 1 / 6)
    herm = SphericalHermiteModel(relu(), bmz23_target(), xi_a=3.0, xi_w=0.7)
    quad = MultiIndexModel(relu(), bmz23_target(), GaussianLatent(1, 128), xi_a=3.0, xi_w=0.7,
                           spherical=True)
    assert abs(herm.risk(a, s, None, p) - quad.risk(a, s, None, p)) < 1e-12
    for x, y in zip(herm.velocity(a, s, None, p), quad.velocity(a, s, None, p)):
        np.testing.assert_allclose(x, y, atol=1e-12)


def test_relu_arccosine_kernel_matches_hermite_series():
    herm = SphericalHermiteModel(relu(), bmz23_target(), n_terms=2000)
    c = np.linspace(-0.95, 0.95, 9)
    series = np.polynomial.polynomial.polyval(c, herm.sigma_k**2)
    np.testing.assert_allclose(herm.kappa(c), series, atol=1e-12)


# -- noise ---------------------------------------------------------------------------------


def test_bessel_drift_makes_the_radial_gibbs_law_stationary():
    """Drift −2ξ_w ∂_rΨ_λ + (2ξ_w/β)(d−k−1)/r = (2ξ_w/β) ∂_r log[r^{d−k−1} e^{−βΨ_λ}]."""
    beta, d, lam, xw = 50.0, 30, 0.4, 1.7
    model = _gaussian_model(xi_w=xw, lam=lam, beta=beta, d=d)
    a, s, r, p = _atoms(4, 2, 12)
    th_a, th_s = np.array([0.6]), np.array([[0.2, -0.5]])

    def log_gibbs(rr):
        psi = model.psi(a, s, r, p, at=(th_a, th_s, np.array([rr])))[0]
        psi += 0.5 * lam * (th_a @ th_a + th_s[0] @ th_s[0] + rr * rr)
        return (d - 2 - 1) * math.log(rr) - beta * psi

    r0, h = 0.8, 1e-6
    score = (log_gibbs(r0 + h) - log_gibbs(r0 - h)) / (2 * h)
    dr = model.velocity(a, s, r, p, at=(th_a, th_s, np.array([r0])))[2][0]
    assert abs(dr - 2 * xw / beta * score) < 1e-7


def test_noisy_model_needs_finite_dimension():
    with pytest.raises(ValueError, match="finite d"):
        _gaussian_model(beta=10.0)


def test_finite_width_risk_adds_the_diagonal_variance():
    """R_N − R(ρ̄_N) = N⁻² Σ a_i² (E σ(ρ_i G)² − E_z σ_{r_i}(⟨s_i,z⟩)²) (Gaussian z)."""
    act = mmn18()
    model = MultiIndexModel(act, HermiteTarget({(1, 0): 1.0}), GaussianLatent(2, 40))
    a, s, r, _ = _atoms(5, 2, 13, r_low=0.5)
    p = np.full(5, 0.2)
    rho = np.sqrt(np.sum(s * s, axis=1) + r * r)
    S0 = act.smoothed(s @ model.nodes.T, r[:, None])
    diag = act.gaussian_second_moment(rho) - (S0**2) @ model.qweights
    expected = model.risk(a, s, r, p) + np.sum(a * a * diag) / 25
    assert abs(model.finite_width_risk(a, s, r, 5) - expected) < 1e-9


def test_targets_evaluate_their_definitions():
    z = np.array([[0.3, -1.2], [2.0, 0.5]])
    herm = HermiteTarget({(2, 1): 1.5}, normalized=True)
    np.testing.assert_allclose(herm(z), 1.5 * (z[:, 0] ** 2 - 1) * z[:, 1] / math.sqrt(2))
    assert herm.second_moment_gaussian() == pytest.approx(2.25)
    mono = MonomialTarget({(0, 1): 2.0, (): -1.0})
    np.testing.assert_allclose(mono(z), 2.0 * z[:, 0] * z[:, 1] - 1.0)


def test_coefficient_dicts_follow_the_latent():
    herm = MultiIndexModel(relu(), {(1, 1): 2.0}, "gaussian")
    mono = MultiIndexModel(relu(), {(0, 1): 2.0}, "hypercube", k=3)
    assert isinstance(herm.target, HermiteTarget) and herm.k == 2
    assert isinstance(mono.target, MonomialTarget) and mono.k == 3
    assert herm.phi_second_moment == pytest.approx(4.0)
    assert mono.phi_second_moment == pytest.approx(4.0)
