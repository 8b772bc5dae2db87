"""Lagrangian (characteristics) solver of the (a, s, r) multi-index dynamics."""

import numpy as np
import pytest

from reducedpde.activations import ShiftedSigmoid, Tanh, relu
from reducedpde.models.multiindex.latents import GaussianLatent
from reducedpde.models.multiindex.reduced import MultiIndexModel
from reducedpde.models.multiindex.spherical import SphericalHermiteModel
from reducedpde.models.multiindex.targets import HermiteTarget, bmz23_target, staircase_target
from reducedpde.solvers.lagrangian.multiindex import (
    degenerate_atoms,
    gaussian_init_atoms,
    quadrature_atoms,
    solve_multiindex_particles,
)


def test_quadrature_atoms_integrate_polynomials_exactly():
    a, p = quadrature_atoms(("uniform", -1.0, 3.0), 5)
    assert p.sum() == pytest.approx(1.0)
    for n in range(10):  # E a^n for a ~ U[-1, 3]
        assert a**n @ p == pytest.approx((3.0 ** (n + 1) - (-1.0) ** (n + 1)) / (4 * (n + 1)))
    a, p = quadrature_atoms(("normal", 0.5, 2.0), 6)
    assert a @ p == pytest.approx(0.5)
    assert (a - 0.5) ** 4 @ p == pytest.approx(3 * 2.0**4)


def test_gaussian_init_atoms_have_finite_d_spread():
    d = 400
    _, s, r, _ = gaussian_init_atoms(4000, 2, d, kappa=1.0, seed=1)
    assert np.allclose(s[:2000], -s[2000:]) and np.allclose(r[:2000], r[2000:])
    assert np.var(s) == pytest.approx(1.0 / d, rel=0.05)
    assert np.mean(r**2) == pytest.approx((d - 2) / d, rel=0.01)


@pytest.fixture(scope="module")
def gaussian_run():
    """ReLU, k = 2 Gaussian latent, sampled finite-d start (d = 30), noiseless, λ = 0."""
    target = HermiteTarget({(1, 0): 1.0, (0, 2): 0.5, (1, 1): -0.3})
    model = MultiIndexModel(relu(), target, GaussianLatent(2, 20), xi_a=1.0, xi_w=2.0)
    a, s, r, p = gaussian_init_atoms(24, 2, 30, kappa=1.0, seed=3, symmetric=False)
    times = np.linspace(0.0, 4.0, 41)
    return model, solve_multiindex_particles(model, a, s, r, p, times)


def test_risk_is_non_increasing_without_noise(gaussian_run):
    _, res = gaussian_run
    assert np.all(np.diff(res.risk) <= 1e-12 * res.risk[0])
    assert res.risk[-1] < 0.7 * res.risk[0]


def test_result_records_means_and_trajectories(gaussian_run):
    model, res = gaussian_run
    n_t, m = res.t.size, res.weights.size
    assert res.a.shape == (n_t, m) and res.s.shape == (n_t, m, 2) and res.r.shape == (n_t, m)
    np.testing.assert_allclose(res.mean_s, np.einsum("tmk,m->tk", res.s, res.weights))
    np.testing.assert_allclose(res.mean_r, res.r @ res.weights)
    j = 17
    assert res.risk[j] == pytest.approx(model.risk(res.a[j], res.s[j], res.r[j], res.weights))
    assert res.hermite.shape == (n_t, len(res.hermite_indices))
    # a-posteriori |R_Q − R_Q'| (finer Gauss–Hermite rule) at the first and last time
    last = model.quadrature_error(res.a[-1], res.s[-1], res.r[-1], res.weights)
    first = model.quadrature_error(res.a[0], res.s[0], res.r[0], res.weights)
    assert res.attrs["quadrature_error"] == max(first, last)


def test_free_energy_decreases_with_weight_decay():
    """With λ > 0 the Lyapunov functional is R/2 + (λ/2)∫(a² + |s|² + r²) dρ̄."""
    lam = 0.2
    model = MultiIndexModel(Tanh(), staircase_target(3), "hypercube", lam=lam)
    a, s, r, p = gaussian_init_atoms(16, 3, 20, seed=4)
    res = solve_multiindex_particles(model, a, s, r, p, np.linspace(0, 3, 31))
    norm2 = (res.a**2 + np.sum(res.s**2, axis=2) + res.r**2) @ res.weights
    free = 0.5 * res.risk + 0.5 * lam * norm2
    assert np.all(np.diff(free) <= 1e-12)


def test_even_target_keeps_the_s_marginal_symmetric():
    """φ(−z) = φ(z) and a law symmetric under s ↦ −s: mirror atoms stay mirrored."""
    target = HermiteTarget({(2, 0): 1.0, (1, 1): 0.8, (0, 2): -0.5})
    model = MultiIndexModel(relu(), target, GaussianLatent(2, 20), xi_w=2.0)
    a, s, r, p = gaussian_init_atoms(20, 2, 20, kappa=2.0, seed=5, symmetric=True)
    res = solve_multiindex_particles(model, a, s, r, p, np.linspace(0, 3, 16))
    assert np.max(np.abs(res.s).max(axis=(1, 2))[-1]) > 0.5  # the atoms did move
    half = 10
    np.testing.assert_allclose(res.s[:, :half], -res.s[:, half:], atol=1e-8)
    np.testing.assert_allclose(res.a[:, :half], res.a[:, half:], atol=1e-8)
    np.testing.assert_allclose(res.r[:, :half], res.r[:, half:], atol=1e-8)
    assert np.abs(res.mean_s).max() < 1e-8


@pytest.fixture(scope="module")
def staircase_run():
    """ABM22-like start μ_a ⊗ δ_{s=0} ⊗ δ_{r=1}, μ_a = U[−1, 1] (8 Gauss–Legendre atoms).

    σ(t) = 1/(1 + e^{−(t+2)}) − ½ (smooth, neither even nor odd), ξ_a/ξ_w = 10.
    """
    model = MultiIndexModel(ShiftedSigmoid(shift=-2.0), staircase_target(4), "hypercube",
                            xi_a=10.0, xi_w=1.0)
    a, s, r, p = degenerate_atoms(("uniform", -1.0, 1.0), 8, 4)
    times = np.linspace(0.0, 60.0, 601)
    return solve_multiindex_particles(model, a, s, r, p, times, rtol=1e-7, atol=1e-9)


def test_staircase_coefficients_grow_in_order(staircase_run):
    """f̂(z1) grows before f̂(z1z2), before f̂(z1z2z3), before f̂(z1z2z3z4)."""
    res = staircase_run
    onsets = []
    for n in range(1, 5):
        c = res.coefficient(tuple(range(n)))
        assert np.any(c > 0.1)
        onsets.append(res.t[np.argmax(c > 0.1)])
    assert np.all(np.diff(onsets) > 0), onsets
    # characters outside the staircase stay exactly zero (symmetry of the start)
    assert np.abs(res.coefficient((1,))).max() < 1e-10
    assert np.abs(res.coefficient((2, 3))).max() < 1e-10


def test_staircase_risk_has_successive_plateaus(staircase_run):
    """Saddle plateau at E φ² = 4, a fast drop, an intermediate plateau, a final drop."""
    res = staircase_run

    def risk_at(t):
        return res.risk[np.argmin(np.abs(res.t - t))]

    assert risk_at(1.5) > 0.98 * res.risk[0]  # escape from s = 0 takes time
    assert risk_at(12.0) < 0.3 * risk_at(3.0)  # first drop
    assert abs(risk_at(30.0) - risk_at(15.0)) < 0.2 * risk_at(15.0)  # plateau
    assert risk_at(60.0) < 0.05 * risk_at(30.0)  # second drop
    assert np.all(np.diff(res.risk) <= 1e-10)


def test_spherical_run_stays_on_the_sphere():
    xa, xw = 5.0, 0.5
    model = SphericalHermiteModel(relu(), bmz23_target(), xi_a=xa, xi_w=xw)
    a, s, _, p = gaussian_init_atoms(10, 1, 100, seed=6, spherical=True)
    res = solve_multiindex_particles(model, a, s, None, p, np.linspace(0, 2, 11))
    np.testing.assert_allclose(res.s[..., 0] ** 2 + res.r**2, 1.0, atol=1e-12)
    assert np.all(np.diff(res.risk) <= 1e-12)
    assert res.hermite_indices == [(0,), (1,), (2,)]


def test_noisy_model_runs_only_in_the_drift_only_limit():
    target = HermiteTarget({(1,): 1.0})
    model = MultiIndexModel(relu(), target, GaussianLatent(1, 32), beta=200.0, d=100)
    a, s, r, p = degenerate_atoms(("normal", 0.0, 1.0), 4, 1, r0=0.5)
    with pytest.raises(ValueError, match="drift-only"):
        solve_multiindex_particles(model, a, s, r, p, [0.0, 1.0])
    res = solve_multiindex_particles(model, a, s, r, p, [0.0, 1.0], noise="drift-only")
    # the Bessel drift (2ξ_w/β)(d−k−1)/r pushes r outward where a = 0 sees no force
    assert res.attrs["noise"] == "drift-only"
    assert np.all(np.isfinite(res.r))


def test_solver_gives_up_with_a_clear_message():
    model = MultiIndexModel(relu(), HermiteTarget({(1,): 1.0}), GaussianLatent(1, 16))
    a, s, r, p = degenerate_atoms(("normal", 0.0, 1.0), 3, 1)
    with pytest.raises(RuntimeError, match="max_rhs"):
        solve_multiindex_particles(model, a, s, r, p, [0.0, 10.0], max_rhs=20)


def test_degenerate_start_converges_fast_in_the_number_of_atoms():
    """Gauss–Legendre atoms on μ_a: doubling M (8 → 16) cuts the error by far more than 4."""
    model = MultiIndexModel(Tanh(), HermiteTarget({(1,): 1.0, (3,): 0.3}), GaussianLatent(1, 40))
    risk = {}
    for m in (8, 16, 32):
        a, s, r, p = degenerate_atoms(("uniform", -1.0, 1.0), m, 1, s0=[0.05])
        risk[m] = solve_multiindex_particles(model, a, s, r, p, [0.0, 1.0, 2.0]).risk[-1]
    err8, err16 = abs(risk[8] - risk[32]), abs(risk[16] - risk[32])
    assert err16 < 0.01 * err8
    assert err16 < 1e-4 * risk[32]


@pytest.mark.parametrize("activation, lam", [(relu(), 0.0), (relu(), 0.3), (Tanh(), 0.0)])
def test_spherical_velocity_jacobian_matches_central_differences(activation, lam):
    model = SphericalHermiteModel(activation, bmz23_target(), xi_a=50.0, xi_w=0.5, lam=lam)
    rng = np.random.default_rng(1)
    m = 6
    a, s = rng.standard_normal(m), 0.3 * rng.standard_normal((m, 1))
    p = rng.random(m)
    p /= p.sum()

    def velocity(y):
        da, ds, _ = model.velocity(y[:m], y[m:, None], None, p)
        return np.concatenate([da, ds[:, 0]])

    y, h = np.concatenate([a, s[:, 0]]), 1e-6
    numeric = np.stack([(velocity(y + h * e) - velocity(y - h * e)) / (2 * h)
                        for e in np.eye(2 * m)], axis=1)
    exact = model.velocity_jacobian(a, s, p)
    assert np.abs(exact - numeric).max() < 1e-8 * np.abs(numeric).max()


def test_stiff_spherical_run_uses_the_exact_jacobian():
    model = SphericalHermiteModel(relu(), bmz23_target(), xi_a=1e4, xi_w=0.5)
    s0 = np.linspace(-0.3, 0.3, 8)[:, None]
    res = solve_multiindex_particles(model, np.zeros(8), s0, times=[0.0, 1e-3, 1.0],
                                     method="LSODA", rtol=1e-8, atol=1e-11)
    assert res.attrs["exact_jacobian"] and res.attrs["n_jacobians"] > 0
    assert res.risk[-1] < res.risk[0]
