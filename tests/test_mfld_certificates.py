"""Free energy and Gibbs-gap certificate of noisy radial runs (reducedpde.mfld).

Problem: gaussians-noisy (d = 40, β = 80, λ = 0.1) on 200 cells, run to t = 40 (the gap
falls from 7.9 to round-off, |gap| ~ 2e-17, by t = 20). Measured: the largest rise of the
objective between output times 2.5e-16; certificate / (L(q_t) − L(q*)) between 1.06 and
4.6 where the suboptimality exceeds 1e-10, and certificate − suboptimality ≥ −5e-17
everywhere; certificate of the independent fixed-point solve 2e-19 (it lies 8.5e-13 in L1
from the run's end state); fitted rate of the gap 1.72.
"""

import numpy as np
import pytest
from scipy.optimize import root

from reducedpde import api
from reducedpde.cli import main
from reducedpde.mfld import entropy_objective, fit_gap_rate, gibbs_gap
from reducedpde.models import build_model
from reducedpde.scenarios import resolve
from reducedpde.solvers.fv.radial import RadialDiscretization

SMALL = {"cells": 200, "t_max": 40.0, "n_times": 40}


def gibbs_state(model, grid, start, beta, lam):
    """Discrete Gibbs state ``m_j ∝ h_j r_j^{d−1} exp(−β ψ_λ(r_j; m))`` by a root solve on
    the kernel moments (scaled by √w_l), plain NumPy/SciPy, independent of the steppers."""
    r = grid.centres
    features, weights = model.kernel.features(r), model.kernel.weights
    scale = np.sqrt(weights)
    base = (np.log(grid.widths) + (model.d - 1) * np.log(r)
            - beta * (model.potential(r) + 0.5 * lam * r**2))

    def law(b):
        logw = base - beta * ((scale * b) @ features)
        p = np.exp(logw - logw.max())
        return p / p.sum()

    sol = root(lambda b: scale * (features @ law(b)) - b, scale * (features @ start),
               method="hybr", options={"xtol": 1e-15})
    assert np.abs(scale * (features @ law(sol.x)) - sol.x).max() < 1e-13
    return law(sol.x)


@pytest.fixture(scope="module")
def setting():
    config = resolve("gaussians-noisy", SMALL)
    reduction = build_model(config)
    grid = reduction.grid()
    return reduction, grid, RadialDiscretization(reduction.reduced_model(), grid)


@pytest.fixture(scope="module")
def run():
    return api.run_pde("gaussians-noisy", SMALL, progress=False).pde


def test_the_recorded_free_energy_is_the_objective_with_the_radial_jacobian(setting, run):
    reduction, grid, disc = setting
    masses = run.cell_masses[0]
    model = reduction.reduced_model()
    energy = 0.5 * disc.risk(masses) + 0.5 * model.lam * masses @ grid.centres**2
    log_reference = np.log(grid.widths) + (model.d - 1) * np.log(grid.centres)
    expected = entropy_objective(energy, masses, log_reference, model.beta)
    assert run.extra["free_energy"][0] == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_the_objective_never_rises(run):
    assert np.diff(run.extra["free_energy"]).max() <= 1e-13


def test_the_gap_bounds_the_suboptimality_against_a_converged_long_run(run):
    objective, gap = run.extra["free_energy"], run.extra["gibbs_gap"]
    assert gap[-1] < 1e-15  # the long run has converged: q* = its end state
    assert np.all(gap >= objective - objective[-1] - 1e-14)


def test_the_gap_of_the_exact_gibbs_state_is_zero_to_round_off(setting):
    reduction, grid, disc = setting
    model = reduction.reduced_model()
    star = gibbs_state(model, grid, reduction.initial_masses(grid), model.beta, model.lam)
    assert abs(disc.gibbs_gap(star)) < 1e-15


def test_the_gap_is_the_relative_entropy_to_the_proximal_gibbs_law(setting, run):
    reduction, grid, disc = setting
    model = reduction.reduced_model()
    k = 4  # a snapshot where no cell's Gibbs weight underflows
    masses = run.cell_masses[k]
    logw = (np.log(grid.widths) + (model.d - 1) * np.log(grid.centres)
            - model.beta * disc.psi(masses))
    p = np.exp(logw - logw.max())
    p /= p.sum()
    pos = masses > 0
    kl = np.sum(masses[pos] * np.log(masses[pos] / p[pos]))
    i = int(np.searchsorted(run.t, run.snapshot_times[k]))
    assert run.extra["gibbs_gap"][i] == pytest.approx(kl / model.beta, rel=1e-10)


def test_the_fitted_rate_of_an_exponential_is_exact():
    t = np.linspace(0.0, 50.0, 60)
    gap = np.maximum(4.0 * np.exp(-0.7 * t), 1e-18)
    rate, t_first, t_last = fit_gap_rate(t, gap)
    assert rate == pytest.approx(0.7, rel=1e-10)
    assert gap[t == t_first][0] <= 0.4 and gap[t == t_last][0] > 1e-12


def test_the_noisy_run_has_a_positive_fitted_rate(run):
    rate, _, _ = fit_gap_rate(run.t, run.extra["gibbs_gap"])
    assert 1.0 < rate < 3.0  # measured 1.72


def test_noiseless_runs_record_no_gap():
    pde = api.run_pde("gaussians-quick", {"t_max": 0.05, "n_times": 4, "cells": 200},
                      progress=False).pde
    assert "gibbs_gap" not in pde.extra


def test_an_infinite_beta_is_refused_with_its_name():
    with pytest.raises(ValueError, match="beta"):
        gibbs_gap(np.ones(3) / 3, np.zeros(3), np.zeros(3), np.inf)


def test_the_pde_command_prints_the_fitted_rate(capsys):
    assert main(["pde", "gaussians-noisy", "-q", "-p", "cells=200", "-p", "t_max=30"]) == 0
    assert "fitted rate" in capsys.readouterr().out
