"""Specification of the radial finite-volume solver (MMN18 isotropic Gaussians)."""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.special import roots_jacobi
from scipy.stats import beta as beta_law
from scipy.stats import norm

from reducedpde.models.gaussians.radial import scaled_chi_cdf
from reducedpde.solvers.fv.grid import Grid1D
from reducedpde.solvers.fv.radial import SolverError, default_output_times, solve_radial
from reducedpde.solvers.lagrangian.radial import solve_radial_particles


def run(model, grid, masses, t_max, n_times=30, **kw):
    times = default_output_times(t_max, n_times, t_max * 1e-3)
    return solve_radial(model, grid, masses, times, progress=False, **kw)


@pytest.fixture(scope="module")
def fig4_run(fig4_model):
    grid = Grid1D.uniform(0.0, 4.0, 400)
    return run(fig4_model, grid, grid.cell_masses(scaled_chi_cdf(0.4, 320)), 20.0)


@pytest.fixture(scope="module")
def noisy_run(noisy_model):
    grid = Grid1D.uniform(0.0, 4.0, 300)
    return run(noisy_model, grid, grid.cell_masses(norm(1.5, 0.2).cdf), 50.0)


def test_mass_is_conserved_to_round_off_without_noise(fig4_run):
    np.testing.assert_allclose(fig4_run.cell_masses.sum(axis=1), 1.0, rtol=1e-12)


def test_mass_is_conserved_to_round_off_with_noise(noisy_run):
    np.testing.assert_allclose(noisy_run.cell_masses.sum(axis=1), 1.0, rtol=1e-12)


def test_density_stays_non_negative(fig4_run, noisy_run):
    assert fig4_run.densities.min() >= 0.0
    assert noisy_run.densities.min() >= 0.0


def test_risk_never_increases_without_noise(fig4_run):
    energy = fig4_run.extra["free_energy"]
    np.testing.assert_allclose(energy, 0.5 * fig4_run.risk, rtol=1e-14)
    assert np.all(np.diff(energy) <= 1e-13 * np.abs(energy[:-1]))
    assert fig4_run.risk[-1] < 0.1 * fig4_run.risk[0]


def test_free_energy_with_entropy_never_increases_with_noise(noisy_run):
    energy = noisy_run.extra["free_energy"]
    assert np.all(np.diff(energy) <= 1e-12 * np.abs(energy[:-1]))
    assert energy[-1] < energy[0]


def test_second_order_convergence_against_characteristics(fig4_model):
    """L1 error of the cell masses against the exact transport of a smooth law.

    The reference moves Gauss–Jacobi atoms (spectrally accurate interaction moments) and
    massless tracers; in 1-D the flow is monotone, so F_t(X_t(r)) = F_0(r) exactly.
    """
    law = beta_law(5, 5, loc=0.5, scale=1.0)  # smooth bump on [0.5, 1.5]
    times = np.array([0.0, 0.3])
    nodes, weights = roots_jacobi(30, 4, 4)
    tracers = np.linspace(0.5, 1.5, 8001)
    _, moved = solve_radial_particles(
        fig4_model, 1.0 + 0.5 * nodes, weights / weights.sum(), times, tracers=tracers
    )
    errors = []
    cells = [100, 200, 400, 800]
    for n_cells in cells:
        grid = Grid1D.uniform(0.0, 3.0, n_cells)
        res = solve_radial(fig4_model, grid, grid.cell_masses(law.cdf), times,
                           snapshot_times=times, progress=False)
        cdf = np.interp(grid.edges, moved[-1], law.cdf(tracers), left=0.0, right=1.0)
        errors.append(np.abs(np.diff(cdf) - res.cell_masses[-1]).sum())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders >= 1.8), (errors, orders)


def gibbs_fixed_point(model, grid, start, tol=1e-14, damping=0.3, max_iter=20_000):
    """Damped Picard iteration on m_j ∝ h_j r_j^{d-1} exp(-β ψ_λ(r_j; m)) (plain NumPy)."""
    r = grid.centres
    masses = start.copy()
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


def test_noisy_steady_state_is_the_self_consistent_gibbs_law(noisy_model):
    grid = Grid1D.uniform(0.0, 4.0, 300)
    start = grid.cell_masses(norm(1.5, 0.2).cdf)
    res = run(noisy_model, grid, start, 2000.0, n_times=10)
    expected = gibbs_fixed_point(noisy_model, grid, start)
    np.testing.assert_allclose(res.cell_masses[-1], expected, atol=1e-8, rtol=0)


def test_narrow_initial_law_follows_the_single_particle_ode(fig4_model):
    r0, t_max = 0.6, 1.0
    grid = Grid1D.uniform(0.0, 3.0, 3000)
    res = run(fig4_model, grid, grid.cell_masses(norm(r0, 0.005).cdf), t_max, n_times=12)
    ode = solve_ivp(lambda _t, r: fig4_model.single_particle_velocity(r), (0, t_max), [r0],
                    t_eval=res.t, rtol=1e-11, atol=1e-12, method="DOP853")
    assert ode.y[0, -1] - r0 > 0.5  # the atom really moves
    np.testing.assert_allclose(res.mean_norm, ode.y[0], atol=2e-3)


def test_step_size_schedule_is_a_time_change(fig4_model):
    grid = Grid1D.uniform(0.0, 4.0, 200)
    masses = grid.cell_masses(scaled_chi_cdf(0.4, 320))
    times = np.array([0.0, 0.5, 1.0])
    slow = solve_radial(fig4_model, grid, masses, times, xi=lambda t: 0.5, progress=False)
    plain = solve_radial(fig4_model, grid, masses, 0.5 * times, progress=False)
    np.testing.assert_allclose(slow.risk, plain.risk, rtol=1e-12)


def test_mass_reaching_r_max_raises_with_advice(fig4_model):
    grid = Grid1D.uniform(0.0, 1.0, 200)
    masses = grid.cell_masses(scaled_chi_cdf(0.4, 320))
    with pytest.raises(SolverError, match="larger r_max") as info:
        run(fig4_model, grid, masses, 50.0)
    assert info.value.partial is not None
    assert np.isfinite(info.value.partial.risk[0])


def test_user_initial_density_matches_the_built_in_law():
    from scipy.stats import chi

    from reducedpde import api

    params = {"kappa": 0.4, "d": 320, "cells": 400, "t_max": 1.0, "n_times": 10}
    built_in = api.run_pde("gaussians", params, progress=False)
    law = chi(320, scale=0.4 / np.sqrt(320))
    user = api.run_pde("gaussians", params, initial_density=law.pdf, progress=False)
    assert user.config["initial_law"] == "user density"
    np.testing.assert_allclose(user.pde.risk, built_in.pde.risk, rtol=1e-6)


def test_infinite_dimension_refuses_an_initial_law_other_than_the_point_mass():
    from reducedpde import api

    with pytest.raises(ValueError, match="initial_density: for d = inf"):
        api.run_pde("gaussians", {"d": "inf", "cells": 400, "t_max": 1.0, "n_times": 5},
                    initial_density=lambda r: norm(0.4, 0.02).pdf(r), progress=False)


def test_noisy_density_narrower_than_the_grid_stops_with_advice():
    from reducedpde.api import run_pde

    with pytest.raises(SolverError, match="narrower than the grid resolves") as err:
        run_pde("gaussians-noisy", {"beta": 1e6, "stepper": "implicit-euler", "step_tol": 2e-3,
                                    "t_max": 10.0}, progress=False)
    partial = err.value.partial
    assert np.isfinite(partial.risk[0])  # the last good outputs are kept
    assert np.isnan(partial.risk[-1])


def test_resolution_check_can_be_switched_off():
    from reducedpde.api import run_pde

    res = run_pde("gaussians-noisy", {"beta": 1e6, "min_resolved_cells": 0, "t_max": 10.0,
                                      "stepper": "implicit-euler", "step_tol": 2e-3},
                  progress=False)
    assert np.all(np.isfinite(res.pde.risk))


@pytest.fixture(scope="module")
def noisy_scenario_runs():
    """gaussians-noisy with each stepper: {name: (risk curve, steps)}."""
    from reducedpde.api import run_pde

    settings = {
        "esdirk4 tight": {"stepper": "esdirk4", "step_tol": 1e-9},
        "trbdf2 tight": {"stepper": "trbdf2", "step_tol": 1e-9},
        "esdirk4": {"stepper": "esdirk4", "step_tol": 1e-6},
        "trbdf2": {"stepper": "trbdf2", "step_tol": 1e-6},
        "implicit-euler fine": {"stepper": "implicit-euler", "step_tol": 2e-4},
    }
    runs = {}
    for name, params in settings.items():
        pde = run_pde("gaussians-noisy", {**params, "t_max": 10.0}, progress=False).pde
        runs[name] = (pde.risk, pde.attrs["n_steps"])
    return runs


def test_second_and_fourth_order_steppers_converge_to_the_same_solution(noisy_scenario_runs):
    """Measured: 6.2e-9 apart at step_tol 1e-9 (753 and 10255 steps)."""
    esdirk, trbdf2 = noisy_scenario_runs["esdirk4 tight"][0], noisy_scenario_runs[
        "trbdf2 tight"][0]
    assert np.max(np.abs(esdirk - trbdf2)) < 5e-8


@pytest.mark.parametrize("stepper, other", [("esdirk4", "trbdf2"), ("trbdf2", "esdirk4")])
def test_higher_order_steppers_are_accurate_at_step_tol_1e_6(noisy_scenario_runs, stepper,
                                                            other):
    """Measured against the other method's tight run: ESDIRK4 3.4e-7 (171 steps), TR-BDF2
    6.1e-7 (1062 steps); implicit Euler at its default needs 8095 steps for 4.2e-5."""
    risk, steps = noisy_scenario_runs[stepper]
    reference = noisy_scenario_runs[f"{other} tight"][0]
    assert np.max(np.abs(risk - reference)) < 2e-6
    assert steps < 1500


def test_implicit_euler_converges_to_the_higher_order_solution(noisy_scenario_runs):
    """First order: at step_tol 2e-4 (80872 steps) it is 4.2e-6 from the tight runs."""
    euler = noisy_scenario_runs["implicit-euler fine"][0]
    for name in ("esdirk4 tight", "trbdf2 tight"):
        assert np.max(np.abs(euler - noisy_scenario_runs[name][0])) < 1e-5


def test_unknown_stepper_is_refused_with_the_choices(fig4_model):
    grid = Grid1D.uniform(0.0, 4.0, 100)
    with pytest.raises(ValueError, match="stepper must be one of"):
        run(fig4_model, grid, grid.cell_masses(scaled_chi_cdf(0.4, 320)), 1.0, stepper="rk4")
