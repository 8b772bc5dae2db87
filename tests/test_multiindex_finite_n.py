"""Finite-N corrections of the multi-index (a, s, r) model (correction=finite-n,
reducedpde.models.multiindex.corrections)."""

import itertools
import math

import numpy as np
import pytest
from finite_differences import atom_gradient  # tests/, on the path of the test modules
from scipy.integrate import quad
from scipy.stats import binom

from reducedpde import api
from reducedpde.activations import ShiftedSigmoid, mmn18, relu
from reducedpde.cli import main
from reducedpde.models.multiindex.corrections import (
    FiniteNMultiIndexModel,
    FiniteNSphericalModel,
    check_correction,
)
from reducedpde.models.multiindex.expansions import hermite_expansion, make_target
from reducedpde.models.multiindex.latents import GaussianLatent, HypercubeLatent
from reducedpde.models.multiindex.population_risk import multiindex_gaussian_risk
from reducedpde.models.multiindex.reduced import MultiIndexModel
from reducedpde.models.multiindex.smoothing import smoothed_second_moment_features
from reducedpde.models.multiindex.spherical import SphericalHermiteModel
from reducedpde.models.multiindex.targets import HermiteTarget, bmz23_target, staircase_target

ACTIVATIONS = [relu(), mmn18(), ShiftedSigmoid(shift=-2.0)]
#: E_z f(z) on 40 nodes per coordinate: the features of r ≥ 0.3 are analytic in z
TARGET = HermiteTarget({(1, 0): 1.0, (1, 1): 0.5, (0, 2): -0.4, (0, 0): 0.2})


def _gaussian_model(act=None, nodes=40, **kw):
    return MultiIndexModel(act or mmn18(), TARGET, GaussianLatent(2, nodes), **kw)


def _gauss(f, knots=()):
    """``E f(G)`` by adaptive quadrature, split at the given points."""
    edges = [-14.0, *sorted(p for p in knots if -14 < p < 14), 14.0]
    density = lambda g: f(g) * math.exp(-0.5 * g * g) / math.sqrt(2 * math.pi)  # noqa: E731
    return sum(quad(density, lo, hi, limit=200, epsabs=1e-14, epsrel=1e-13)[0]
               for lo, hi in itertools.pairwise(edges))


def _knots(act):
    return tuple(getattr(act, "knots", ()))


def _direct_moments(act, t, r):
    """``(E σ(t + rG)², 2E[σσ'(t + rG)], 2E[σσ'(t + rG) G])`` by adaptive quadrature."""
    pts = [(k - t) / r for k in _knots(act)]

    def value(g):
        return float(act(t + r * g))

    def prod(g):
        return value(g) * float(act.derivative(t + r * g))

    return (_gauss(lambda g: value(g) ** 2, pts), 2 * _gauss(prod, pts),
            2 * _gauss(lambda g: prod(g) * g, pts))


# -- the same-neuron kernel D --------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
def test_second_moment_features_match_quadrature_of_their_definitions(act):
    """m = E σ(t + rG)², ∂_t m = 2E[σσ'], ∂_r m = 2E[σσ'G] (closed forms for piecewise-linear
    σ, the model's G rule otherwise) against adaptive quadrature, r > 0; r = 0 gives σ(t)²
    and 2σσ'."""
    T = np.array([[-2.2, -0.4, 0.45, 1.1, 3.0]] * 3)
    r = np.array([0.0, 0.35, 1.6])
    m, m_t, m_r = smoothed_second_moment_features(act, T, r)
    for i, q in itertools.product((1, 2), range(T.shape[1])):
        direct = _direct_moments(act, T[i, q], r[i])
        assert m[i, q] == pytest.approx(direct[0], rel=1e-11, abs=1e-13)
        assert m_t[i, q] == pytest.approx(direct[1], rel=1e-10, abs=1e-12)
        assert m_r[i, q] == pytest.approx(direct[2], rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(m[0], act(T[0]) ** 2, rtol=1e-14)
    np.testing.assert_allclose(m_t[0], 2 * act(T[0]) * act.derivative(T[0]), rtol=1e-14,
                               atol=1e-14)


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
def test_diagonal_kernel_is_the_second_moment_of_one_neuron(act):
    """Gaussian inputs: D(a, s, r) = E[(a σ(⟨w, x⟩))²] = a² E σ(‖w‖G)², ‖w‖² = |s|² + r²
    (exact at any d), against adaptive quadrature in one variable; and it is not the pair
    kernel a² E_z σ_r(⟨s,z⟩)² on its diagonal. The model's 40 × 40 latent rule agrees with
    the direct value to 4e-12 relative (1e-6 for MMN18's kinks at r = 0.3, |s| = 1.1)."""
    model = _gaussian_model(act)
    a = np.array([0.7, -1.3, 2.0])
    s = np.array([[0.4, -0.2], [1.1, 0.3], [-0.5, 0.8]])
    r = np.array([0.6, 0.6, 1.2])
    D = model.diagonal(a, s, r)
    for i in range(3):
        direct = a[i] ** 2 * _direct_moments(act, 0.0, math.hypot(*s[i], r[i]))[0]
        assert D[i] == pytest.approx(direct, rel=1e-10)
    pair = a * a * (model.features(s, r)[0] ** 2 @ model.qweights)
    assert np.all(D > pair + 1e-3)


def test_diagonal_kernel_on_the_hypercube_is_the_gaussian_limit_of_the_perpendicular_part():
    """Hypercube: D = a² E_z E_G σ(⟨s,z⟩ + rG)², z exact on {±1}^k and ⟨w_⊥, x_⊥⟩ replaced
    by the Gaussian rG of the model's σ_r (d → ∞). A neuron whose ⊥ part has m equal
    entries ±r/√m has ⟨w_⊥, x_⊥⟩ = r(2B − m)/√m, B ~ Bin(m, ½): the exact finite-d value
    tends to D like 1/m (measured relative gaps 3.0e-4, 7.4e-5, 1.8e-5 at m = 25, 100,
    400)."""
    act = ShiftedSigmoid(shift=-2.0)
    model = MultiIndexModel(act, staircase_target(2), HypercubeLatent(2))
    a, s, r = np.array([1.5]), np.array([[0.8, -0.3]]), np.array([1.0])
    D = model.diagonal(a, s, r)[0]
    z = model.nodes
    gaps = []
    for m in (25, 100, 400):
        b = np.arange(m + 1)
        x_perp = r[0] * (2 * b - m) / math.sqrt(m)
        exact = a[0] ** 2 * np.mean([binom.pmf(b, m, 0.5) @ act(t + x_perp) ** 2
                                     for t in z @ s[0]])
        gaps.append(abs(exact - D) / D)
    assert gaps[0] < 1e-3
    assert gaps[1] < gaps[0] / 3 and gaps[2] < gaps[1] / 3


@pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda a: a.name)
def test_diagonal_gradient_matches_central_differences(act):
    model = _gaussian_model(act)
    a, s, r = np.array([0.9, -1.4]), np.array([[0.3, -0.6], [1.0, 0.2]]), np.array([0.7, 0.4])
    g_a, g_s, g_r = model.diagonal_gradient(a, s, r)
    h = 1e-6
    np.testing.assert_allclose(g_a, (model.diagonal(a + h, s, r)
                                     - model.diagonal(a - h, s, r)) / (2 * h), rtol=1e-7)
    np.testing.assert_allclose(g_r, (model.diagonal(a, s, r + h)
                                     - model.diagonal(a, s, r - h)) / (2 * h), rtol=1e-6)
    for j in range(2):
        e = np.zeros_like(s)
        e[:, j] = h
        fd = (model.diagonal(a, s + e, r) - model.diagonal(a, s - e, r)) / (2 * h)
        np.testing.assert_allclose(g_s[:, j], fd, rtol=1e-6, atol=1e-9)


def test_spherical_diagonal_kernel_is_constant_on_the_sphere():
    """‖w‖ = 1: D = a² E σ(G)² for the spherical (a, s, r) model and BMZ23's closed form."""
    act = relu()
    free = MultiIndexModel(act, HermiteTarget({(1,): 1.0}), GaussianLatent(1, 64),
                           spherical=True)
    closed = SphericalHermiteModel(act, bmz23_target())
    a, s = np.array([0.5, -2.0, 1.0]), np.array([[0.1], [0.6], [-0.95]])
    np.testing.assert_allclose(free.diagonal(a, s, None), 0.5 * a * a, rtol=1e-10)
    np.testing.assert_allclose(closed.diagonal(a, s), 0.5 * a * a, rtol=1e-14)


# -- the risk of N neurons -----------------------------------------------------------------


def _orthogonal_network(s, r):
    """First layers with the given (s_i, r_i) and mutually orthogonal ⊥ parts (d = k + N):
    their ⊥ Gaussians are independent, as the d → ∞ pair kernel assumes."""
    n, k = s.shape
    W = np.zeros((n, k + n))
    W[:, :k] = s
    W[np.arange(n), k + np.arange(n)] = r
    return W


@pytest.mark.parametrize("n", [2, 3])
def test_finite_width_risk_is_the_exact_risk_of_the_explicit_network(n):
    """R_N = R(ρ̄_N) + N⁻² Σ_i (D(θ_i) − a_i² E_z σ_{r_i}²) of N explicit neurons against the
    exact population risk of the network in dimension d = k + N (Hermite expansion of the
    target, Mehler's series of the pairs), the ⊥ parts orthogonal. The model's latent rule
    converges to it (80 × 80 nodes: 4e-13; 40 × 40: 5e-8)."""
    act = relu()
    model = _gaussian_model(act, nodes=80)
    rng = np.random.default_rng(n)
    a = rng.normal(size=n)
    s = rng.normal(scale=0.6, size=(n, 2))
    r = rng.uniform(0.4, 1.2, size=n)
    expansion = hermite_expansion(make_target(TARGET.coeffs, 2))
    exact = multiindex_gaussian_risk(_orthogonal_network(s, r), a, expansion, act)
    assert model.finite_width_risk(a, s, r, n) == pytest.approx(exact, rel=1e-11)


@pytest.mark.parametrize("latent", ["gaussian", "hypercube"])
@pytest.mark.parametrize("n", [2, 3])
def test_iid_risk_is_the_mean_risk_of_n_neurons_drawn_from_the_law(n, latent):
    """E R_N = R(ρ̄) + (∫D dρ̄ − ∫∫U dρ̄ dρ̄)/N for a law of three atoms: the exact mean over
    all 3^N draws (repeats included) of the risk of the drawn network. Gaussian inputs: each
    network's exact population risk in d = k + N; hypercube: its finite_width_risk (the
    model's pair kernel plus the diagonal D)."""
    act = relu() if latent == "gaussian" else ShiftedSigmoid(shift=-2.0)
    if latent == "gaussian":
        model = _gaussian_model(act, nodes=80)
        expansion = hermite_expansion(make_target(TARGET.coeffs, 2))
    else:
        model = MultiIndexModel(act, staircase_target(2), HypercubeLatent(2))
    a = np.array([1.2, -0.5, 0.8])
    s = np.array([[0.5, 0.1], [-0.3, 0.9], [0.2, -0.4]])
    r = np.array([0.6, 1.0, 0.45])
    p = np.array([0.5, 0.3, 0.2])
    mean = 0.0
    for idx in itertools.product(range(3), repeat=n):
        idx = list(idx)
        if latent == "gaussian":
            risk = multiindex_gaussian_risk(_orthogonal_network(s[idx], r[idx]), a[idx],
                                            expansion, act)
        else:
            risk = model.finite_width_risk(a[idx], s[idx], r[idx], n)
        mean += np.prod(p[idx]) * risk
    assert model.iid_risk(a, s, r, p, n) == pytest.approx(mean, rel=1e-9)
    assert abs(model.risk(a, s, r, p) - mean) > 1e-2  # the correction matters here


def test_corrected_model_risk_is_the_iid_risk():
    base = _gaussian_model()
    model = FiniteNMultiIndexModel(base, 7)
    a, s, r, p = np.array([1.0, -0.4]), np.array([[0.2, 0.5], [0.7, -0.1]]), \
        np.array([0.8, 0.5]), np.array([0.6, 0.4])
    assert model.risk(a, s, r, p) == base.iid_risk(a, s, r, p, 7)


# -- the self-interaction --------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3])
def test_self_interaction_velocity_is_the_exact_gradient_flow_of_n_neurons(n):
    """SGD's ε → 0 limit at fixed N: θ̇_i = −N(ξ_a ∂_a, ξ_w ∇_s, ξ_w ∂_r)R_N − 2ξλθ_i, with
    R_N the risk of the N explicit neurons (finite_width_risk, by central differences),
    equals the corrected velocity of neuron i in the law of the other N − 1 neurons:
    −2ξ∇[V + (1 − 1/N)∫U dρ̄ + D/(2N)] + decay (measured agreement 1e-10 relative). With
    D/N instead of D/(2N) the velocity would move by ξ|∇D|/N, 0.06 to 34 here."""
    xi_a, xi_w, lam = 0.7, 1.3, 0.1
    base = _gaussian_model(mmn18(), xi_a=xi_a, xi_w=xi_w, lam=lam)
    model = FiniteNMultiIndexModel(base, n)
    rng = np.random.default_rng(10 + n)
    a = rng.normal(size=n)
    s = rng.normal(scale=0.6, size=(n, 2))
    r = rng.uniform(0.4, 1.2, size=n)
    def risk(aa, ss, rr):
        return base.finite_width_risk(aa, ss, rr, n)
    for i in range(n):
        g_a, g_s, g_r = atom_gradient(risk, a, s, r, i)
        exact = (-n * xi_a * g_a - 2 * xi_a * lam * a[i],
                 -n * xi_w * g_s - 2 * xi_w * lam * s[i],
                 -n * xi_w * g_r - 2 * xi_w * lam * r[i])
        others = [j for j in range(n) if j != i]
        at = (a[i:i + 1], s[i:i + 1], r[i:i + 1])
        da, ds, dr = model.velocity(a[others], s[others], r[others],
                                    np.full(n - 1, 1 / (n - 1)), at=at)
        assert da[0] == pytest.approx(exact[0], rel=1e-7, abs=1e-8)
        np.testing.assert_allclose(ds[0], exact[1], rtol=1e-7, atol=1e-8)
        assert dr[0] == pytest.approx(exact[2], rel=1e-7, abs=1e-8)
        d_a, d_s, d_r = base.diagonal_gradient(*at)
        assert np.abs(np.concatenate([xi_a * d_a, xi_w * d_s[0], xi_w * d_r])).max() / n > 0.03


@pytest.mark.parametrize("n", [2, 3])
def test_spherical_self_interaction_is_the_exact_gradient_flow_of_n_neurons(n):
    """BMZ23's closed-form model: R_N = R(ρ̄_N) + N⁻² Σ_i a_i²(E σ(G)² − κ(s_i²)); the flow
    ȧ_i = −Nξ_a ∂_{a_i}R_N, ṡ_i = −Nξ_w(1 − s_i²)∂_{s_i}R_N (projection on the sphere)
    against the corrected velocity in the law of the other neurons."""
    xi_a, xi_w = 2.0, 0.5
    base = SphericalHermiteModel(relu(), bmz23_target(), xi_a=xi_a, xi_w=xi_w)
    model = FiniteNSphericalModel(base, n)
    a = np.array([0.8, -1.1, 0.4])[:n]
    s = np.array([[0.3], [-0.5], [0.7]])[:n]

    def risk(aa, ss, rr):
        mf = base.risk(aa, ss, None, np.full(n, 1 / n))
        return mf + np.sum(aa * aa * (0.5 - base.kappa(ss[:, 0] ** 2))) / n**2

    r = np.zeros(n)
    for i in range(n):
        g_a, g_s, _ = atom_gradient(risk, a, s, r, i)
        others = [j for j in range(n) if j != i]
        da, ds, _ = model.velocity(a[others], s[others], None, np.full(n - 1, 1 / (n - 1)),
                                   at=(a[i:i + 1], s[i:i + 1]))
        assert da[0] == pytest.approx(-n * xi_a * g_a, rel=1e-7, abs=1e-9)
        assert ds[0, 0] == pytest.approx(-n * xi_w * (1 - s[i, 0] ** 2) * g_s[0], rel=1e-6,
                                         abs=1e-9)


# -- runs ------------------------------------------------------------------------------------

#: single-index-quick with a spread second layer (a nonzero correction at t = 0), coarse
QUICK = {"a_law": "normal", "a_init": 0.5, "a_spread": 0.5, "atoms_a": 4, "atoms_s": 12,
         "atoms_r": 2, "latent_nodes": 24, "latent_rule": "gauss-hermite", "t_max": 3.0,
         "t_min": 0.1, "n_times": 6, "n_snapshots": 2}


def test_corrections_vanish_like_one_over_n():
    """risk_corrected − risk scales as 1/N: from N = 100 to 1000 to 10000 the gap falls by
    10 exactly at t = 0 (the i.i.d. term of the same law) and approximately later, the
    departure being the O(1/N²) part of the corrected flow (measured ratios at t = 3, in
    the escape from the saddle: 8.28 and 9.77, the departure from 10 shrinking ~7 times)."""
    gaps = []
    for n in (100, 1000, 10000):
        pde = api.run_pde("single-index-quick", dict(QUICK, N=n, correction="finite-n"),
                          progress=False).pde
        gaps.append(pde.extra["risk_corrected"] - pde.risk)
    assert abs(gaps[2][0]) > 1e-5
    for coarse, fine in itertools.pairwise(gaps):
        assert coarse[0] / fine[0] == pytest.approx(10.0, rel=1e-9)
    late = [coarse[-1] / fine[-1] for coarse, fine in itertools.pairwise(gaps)]
    assert late[1] == pytest.approx(10.0, rel=0.05)
    assert abs(late[1] - 10.0) < abs(late[0] - 10.0) / 3


def test_correction_none_leaves_the_run_bit_identical():
    """The default, correction=none and the mean-field part of a finite-n run are the same
    arrays; only finite-n records risk_corrected and mean_norm_corrected."""
    default = api.run_pde("single-index-quick", QUICK, progress=False).pde
    none = api.run_pde("single-index-quick", dict(QUICK, correction="none"),
                       progress=False).pde
    finite = api.run_pde("single-index-quick", dict(QUICK, correction="finite-n"),
                         progress=False).pde
    for run in (none, finite):
        for name in ("risk", "mean_norm", "densities"):
            np.testing.assert_array_equal(getattr(run, name), getattr(default, name))
        for name, value in default.extra.items():
            np.testing.assert_array_equal(run.extra[name], value)
    assert "risk_corrected" not in default.extra and "risk_corrected" not in none.extra
    assert finite.extra["mean_norm_corrected"].shape == finite.mean_norm.shape
    assert finite.attrs["correction"] == "finite-n"
    assert finite.attrs["correction_n_neurons"] == 200


@pytest.mark.parametrize("params, match", [
    ({"correction": "full"}, "correction=full \\(the fluctuation expansion\\) is implemented "
                             "for the radial model only"),
    ({"correction": "exact"}, "parameter 'correction' must be one of none, finite-n"),
    ({"correction": "finite-n", "solver": "fv"}, "parameter 'correction' must be 'none' for "
                                                "solver='fv'"),
], ids=["full", "unknown", "fv"])
def test_bad_correction_values_are_refused_naming_the_parameter(params, match):
    with pytest.raises(ValueError, match=match):
        api.run_pde("single-index-quick", dict(QUICK, **params), progress=False)


def test_bad_correction_values_are_refused_by_the_model_api():
    with pytest.raises(ValueError, match="parameter 'correction' must be one of none, finite-n"):
        check_correction("full")
    with pytest.raises(ValueError, match="parameter 'N'"):
        FiniteNMultiIndexModel(_gaussian_model(), 0)


def test_cli_validate_prints_the_corrected_prediction(capsys):
    code = main(["validate", "single-index-quick", "-q", "-p", "correction=finite-n",
                 *itertools.chain.from_iterable(("-p", f"{k}={v}") for k, v in QUICK.items()),
                 "-p", "N=40", "-p", "eps=1e-3",
                 "-p", "seeds=2", "-p", "d=10"])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "final risk (corrected)" in out and "sup_t |R_sgd - R_corr|" in out
