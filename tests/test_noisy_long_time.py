"""Noisy runs settle on the discrete Gibbs state and stay there, for every stepper.

The reference is independent of the time steppers: a damped Picard iteration (plain NumPy)
on the self-consistency ``m_j ∝ h_j r_j^{d−1} exp(−β ψ_λ(r_j; m))`` of the Gibbs law on the
same grid, started from the initial law. Measured at ``t_max = 1000`` on gaussians-noisy
(L1 distance to it; largest rise of the free energy between output times): implicit Euler
3.7e-13 and 7.8e-15, TR-BDF2 3.7e-14 and 7.5e-16, ESDIRK4 2.5e-14 and 5e-16. Before the
Picard sweeps of the steppers (frozen potential at large steps) these were 2.4e-3 and 3.4e-7
(implicit Euler), 5.2e-4 and 1.6e-3 (ESDIRK4).
"""

import numpy as np
import pytest

from reducedpde import api
from reducedpde.models import build_model
from reducedpde.scenarios import resolve

LONG = {"t_max": 1000.0, "n_times": 40, "n_snapshots": 3}


def gibbs_fixed_point(model, grid, start, tol=1e-15, damping=0.3, max_iter=100_000):
    """Damped Picard iteration on m_j ∝ h_j r_j^{d−1} exp(−β ψ_λ(r_j; m)) (plain NumPy)."""
    r = grid.centres
    masses = start / start.sum()
    for _ in range(max_iter):
        psi = model.psi(r, r, masses) + 0.5 * model.lam * r**2
        log_w = np.log(grid.widths) + (model.d - 1) * np.log(r) - model.beta * psi
        gibbs = np.exp(log_w - log_w.max())
        gibbs /= gibbs.sum()
        new = (1 - damping) * masses + damping * gibbs
        if np.abs(new - masses).max() < tol:
            return new
        masses = new
    raise AssertionError("Picard iteration did not converge")


@pytest.fixture(scope="module")
def gibbs_state():
    model = build_model(resolve("gaussians-noisy"))
    grid = model.grid()
    return gibbs_fixed_point(model.reduced_model(), grid, model.initial_masses(grid))


@pytest.fixture(scope="module", params=["implicit-euler", "trbdf2", "esdirk4"])
def long_run(request):
    stepper = request.param
    step_tol = 2e-3 if stepper == "implicit-euler" else 1e-6
    return api.run_pde("gaussians-noisy", {**LONG, "stepper": stepper, "step_tol": step_tol},
                       progress=False).pde


def test_every_stepper_ends_on_the_discrete_gibbs_state(long_run, gibbs_state):
    assert np.abs(long_run.cell_masses[-1] - gibbs_state).sum() < 1e-8


def test_the_free_energy_never_rises_over_a_long_horizon(long_run):
    free_energy = long_run.extra["free_energy"]
    assert np.all(np.diff(free_energy) <= 1e-13)


def test_the_default_noisy_scenario_ends_within_1e_6_of_the_gibbs_state(gibbs_state):
    pde = api.run_pde("gaussians-noisy", progress=False).pde
    assert np.abs(pde.cell_masses[-1] - gibbs_state).sum() < 1e-6
