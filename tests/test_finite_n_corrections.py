"""Finite-N corrections of the radial model (reducedpde.models.gaussians.corrections)."""

import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad

from reducedpde import api, io
from reducedpde.activations import get_activation
from reducedpde.cli import main
from reducedpde.models.gaussians.corrections import (
    FiniteNRadialModel,
    diagonal_kernel,
    diagonal_kernel_derivative,
    iid_risk,
)
from reducedpde.models.gaussians.kernel import radial_potential
from reducedpde.models.gaussians.population_risk import gaussian_classes_risk
from reducedpde.models.gaussians.radial import GaussianRadialModel, scaled_chi_cdf
from reducedpde.solvers.fv.grid import Grid1D

DELTA = 0.5
SCALES = (1.0 + DELTA, 1.0 - DELTA)


def _gauss(f, knots=()):
    """``E f(G)`` by adaptive quadrature, split at the activation's kinks."""
    points = sorted(p for p in knots if -12 < p < 12)
    edges = [-12.0, *points, 12.0]
    density = lambda g: f(g) * math.exp(-0.5 * g * g) / math.sqrt(2 * math.pi)  # noqa: E731
    return sum(quad(density, a, b, limit=200, epsabs=1e-13, epsrel=1e-13)[0]
               for a, b in itertools.pairwise(edges))


def _direct_diagonal(act, r, knots):
    return 0.5 * sum(_gauss(lambda g, s=s: float(act(s * r * g)) ** 2,
                            [k / (s * r) for k in knots]) for s in SCALES)


@pytest.mark.parametrize("name, knots", [("mmn18", (0.5, 1.5)), ("relu", (0.0,))])
def test_diagonal_kernel_matches_direct_quadrature(name, knots):
    """D(r) = ½ Σ_± E σ(s_± r G)² against adaptive quadrature split at the kinks; measured
    agreement better than 1e-12 relative at r ∈ {0.05, 0.4, 1, 2.5}."""
    act = get_activation(name)
    r = np.array([0.05, 0.4, 1.0, 2.5])
    direct = np.array([_direct_diagonal(act, x, knots) for x in r])
    np.testing.assert_allclose(diagonal_kernel(act, DELTA, r), direct, rtol=1e-10)


def test_diagonal_kernel_derivative_matches_quadrature_of_its_formula():
    """D'(r) = Σ_± s_± E[σ(s_± r G) σ'(s_± r G) G] by quadrature against the central
    difference of the closed form; measured agreement about 1e-10 relative."""
    act = get_activation("mmn18")
    r = np.array([0.3, 1.0, 2.0])
    direct = []
    for x in r:
        total = 0.0
        for s in SCALES:
            def f(g, s=s, x=x):
                return float(act(s * x * g)) * float(act.derivative(s * x * g)) * g
            total += s * _gauss(f, [k / (s * x) for k in (0.5, 1.5)])
        direct.append(total)
    np.testing.assert_allclose(diagonal_kernel_derivative(act, DELTA, r), direct, rtol=1e-7)


def test_diagonal_kernel_is_not_the_angle_averaged_kernel_on_the_diagonal():
    """At d = 40 the same-neuron value D(r) exceeds u(r, r) (two independent directions):
    D − u(r, r) = ½ Σ_± Σ_{k≥1} h_k(s_± r)²/k! (1 − E c^k) > 0; measured D = 10.78 against
    u = 2.21 at r = 1."""
    model = GaussianRadialModel(get_activation("mmn18"), DELTA, 40)
    r = np.array([1.0])
    assert diagonal_kernel(model.activation, DELTA, r)[0] > model.kernel(r, r)[0, 0] + 1.0


def _parallel_pair(act, ra, rb):
    """``U(w_a, w_b)`` for parallel (``ra rb > 0``) or antiparallel neurons of signed radii:
    ``½ Σ_± E[σ(s ra G) σ(s rb G)]`` by quadrature."""
    total = 0.0
    for s in SCALES:
        knots = [k / (s * ra) for k in (0.5, 1.5)] + [k / (s * rb) for k in (0.5, 1.5)]
        total += 0.5 * _gauss(lambda g, s=s: float(act(s * ra * g)) * float(act(s * rb * g)),
                              knots)
    return total


@pytest.mark.parametrize("radii", [(0.7, 1.1), (0.7, 1.1, -0.9)],
                         ids=["two-neurons", "three-neurons"])
def test_self_interaction_factor_half_against_the_exact_gradient(radii):
    """N ∂R_N/∂w_i = 2 [v'(r_i) + (1/N) Σ_{j≠i} ∂_1U(w_i, w_j) + D'(r_i)/(2N)] along w_i for
    neurons on one line (signed radii, d = 3): the exact risk of the package's finite
    network differentiated by central differences (h = 1e-5) against the decomposition
    with the pair kernel by quadrature. The factor ½ on D' is what makes them agree
    (measured: to 1e-8; with D'/N instead the difference is D'(r_i)/N ≈ 0.3–1)."""
    act = get_activation("mmn18")
    n = len(radii)
    e = np.array([1.0, 0.0, 0.0])
    weights = np.array([r * e for r in radii])
    h = 1e-5
    for i, ri in enumerate(radii):
        plus, minus = weights.copy(), weights.copy()
        plus[i] += h * np.sign(ri) * e
        minus[i] -= h * np.sign(ri) * e
        exact = n * (gaussian_classes_risk(plus, act, DELTA)
                     - gaussian_classes_risk(minus, act, DELTA)) / (2 * h)
        pair = sum((_parallel_pair(act, ri + h * np.sign(ri), rj)
                    - _parallel_pair(act, ri - h * np.sign(ri), rj)) / (2 * h)
                   for j, rj in enumerate(radii) if j != i)
        v_prime = (radial_potential(act, DELTA, abs(ri) + h)
                   - radial_potential(act, DELTA, abs(ri) - h)) / (2 * h)
        d_prime = diagonal_kernel_derivative(act, DELTA, abs(ri))
        predicted = 2.0 * (v_prime + pair / n + d_prime / (2 * n))
        assert exact == pytest.approx(predicted, rel=1e-6, abs=1e-7)


def test_finite_n_model_scales_the_kernel_and_adds_half_the_diagonal():
    """ψ_N = v + D/(2N) + (1 − 1/N)∫u dρ̄: the wrapper's base potential and kernel weights."""
    base = GaussianRadialModel(get_activation("mmn18"), DELTA, 40)
    model = FiniteNRadialModel(base, 200)
    r = np.linspace(0.1, 2.0, 5)
    np.testing.assert_allclose(model.potential(r) - base.potential(r),
                               diagonal_kernel(base.activation, DELTA, r) / 400, rtol=1e-14)
    np.testing.assert_allclose(model.kernel.weights, base.kernel.weights * (1 - 1 / 200),
                               rtol=1e-15)


@pytest.mark.filterwarnings("ignore::reducedpde.models.gaussians.kernel.KernelTruncationWarning")
def test_iid_risk_matches_the_mean_exact_risk_of_random_networks():
    """E R_N over N = 3 neurons i.i.d. from N(0, κ²/d I) (d = 16, κ = 0.8): the formula
    R + (∫D − ∫∫u)/N on a fine radial grid (4.1566) against the mean of the exact risk of
    1500 random networks (4.1619 ± 0.0102): 0.5 standard errors apart, while the
    uncorrected R(ρ̄) = 2.02 is 210 standard errors away. (The kernel truncation warning
    at d = 16 concerns an error bound of 1e-6, far below the Monte Carlo error.)"""
    act, d, kappa, n = get_activation("mmn18"), 16, 0.8, 3
    model = GaussianRadialModel(act, DELTA, d, r_bound=3.0)
    grid = Grid1D.uniform(0.0, 3.0, 3000)
    masses = grid.cell_masses(scaled_chi_cdf(kappa, d))
    predicted = iid_risk(model, grid.centres, masses, n)
    rng = np.random.default_rng(5)
    draws = np.array([gaussian_classes_risk(rng.normal(0, kappa / math.sqrt(d), (n, d)),
                                            act, DELTA) for _ in range(1500)])
    stderr = draws.std(ddof=1) / math.sqrt(draws.size)
    assert abs(draws.mean() - predicted) < 3 * stderr
    assert abs(draws.mean() - model.risk(grid.centres, masses)) > 10 * stderr


def test_corrections_vanish_like_one_over_n():
    """risk_corrected − risk at t = 0.2 (quick physics, 200 cells) scales as 1/N: the ratio
    of the gaps at N = 100 and N = 1000 is 10 to within 2 % (measured 10.0)."""
    params = {"t_max": 0.2, "cells": 200, "n_times": 6, "correction": "finite-n"}
    gaps = []
    for n in (100, 1000):
        pde = api.run_pde("gaussians-quick", dict(params, N=n), progress=False).pde
        gaps.append(pde.extra["risk_corrected"][-1] - pde.risk[-1])
    assert gaps[0] / gaps[1] == pytest.approx(10.0, rel=0.02)


def test_correction_none_records_no_corrected_risk():
    pde = api.run_pde("gaussians-quick", {"t_max": 0.05, "cells": 100, "n_times": 3,
                                          "correction": "none"}, progress=False).pde
    assert "risk_corrected" not in pde.extra


def test_cli_pde_writes_the_corrected_risk(tmp_path, capsys):
    out = tmp_path / "corrected.h5"
    code = main(["pde", "gaussians-quick", "-q", "-p", "correction=finite-n", "-p",
                 "t_max=0.05", "-p", "cells=100", "-p", "n_times=4", "-o", str(out)])
    assert code == 0
    assert "finite-N prediction (finite-n, N=200) R_corrected(t=0.05)" in capsys.readouterr().out
    run = io.load(out)
    assert run.pde.extra["risk_corrected"].shape == run.pde.risk.shape
    assert run.config["correction"] == "finite-n"
