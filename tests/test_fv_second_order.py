"""The second-order (TR-BDF2) Scharfetter–Gummel stepper ``integrate_drift_diffusion_trbdf2``."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from reducedpde.solvers.fv import steppers
from reducedpde.solvers.fv.grid import Grid1D
from reducedpde.solvers.fv.radial import MOBILITY, RadialDiscretization

TRBDF2 = steppers.integrate_drift_diffusion_trbdf2
EULER = steppers.integrate_drift_diffusion

# linear radial Fokker–Planck problem: V = r²/2 + cos(3r)/2, D = 0.05, d = 10 on [0, 4]
D, DIM = 0.05, 10


class Linear:
    """Rank-0 data of eq. (1) (μ = 1, b = V, β = 1/D, S = (d − 1) ln r) on M cells."""

    def __init__(self, n_cells):
        self.grid = Grid1D.uniform(0.0, 4.0, n_cells)
        r = self.grid.centres
        self.features = np.zeros((0, n_cells))
        self.weights = np.zeros(0)
        self.base = 0.5 * r**2 + 0.5 * np.cos(3.0 * r)
        self.entropic = (DIM - 1) * np.log(r)
        start = (DIM - 1) * np.log(r) - (r - 2.5) ** 2 / (2 * 0.3**2)
        self.initial = self.grid.widths * np.exp(start - start.max())
        self.initial /= self.initial.sum()

    def run(self, stepper, masses, t_end, dt, step_tol=math.inf, dt_max=None):
        out = stepper(masses, self.grid.widths, self.grid.centres, self.features,
                      self.weights, self.base, self.entropic, 1.0 / D, 1.0, 0.0, t_end, dt,
                      step_tol, dt if dt_max is None else dt_max, 10**7, 2.0)
        assert out[2] == steppers.STATUS_OK
        return out


class Interacting:
    """The noisy MMN18 radial model (low-rank interaction, μ = 2) on M cells."""

    def __init__(self, model, n_cells):
        self.model = model
        self.grid = Grid1D.uniform(0.0, 4.0, n_cells)
        self.disc = RadialDiscretization(model, self.grid)
        self.initial = self.grid.cell_masses(norm(1.5, 0.2).cdf)
        self.initial /= self.initial.sum()

    def run(self, stepper, masses, t_end, dt, step_tol=math.inf, dt_max=None):
        d = self.disc
        out = stepper(masses, self.grid.widths, self.grid.centres, d.features, d.weights,
                      d.potential, d.entropic, self.model.beta, MOBILITY, 0.0, t_end, dt,
                      step_tol, dt if dt_max is None else dt_max, 10**7, 1e-9)
        assert out[2] == steppers.STATUS_OK
        return out


def observed_orders(problem, stepper, t_end, dt0, levels=4):
    """log2 of the ratios of successive L1 differences under fixed steps dt0 / 2^k."""
    sols = []
    for k in range(levels):
        m = problem.initial.copy()
        problem.run(stepper, m, t_end, dt0 / 2**k)
        sols.append(m)
    diffs = [np.abs(sols[k] - sols[k + 1]).sum() for k in range(levels - 1)]
    return np.log2(np.array(diffs[:-1]) / np.array(diffs[1:]))


def test_second_order_in_time_on_the_linear_problem():
    problem = Linear(120)
    orders = observed_orders(problem, TRBDF2, 0.25, 0.0125)
    assert np.all(orders >= 1.8), orders
    # the same measurement sees first order for implicit Euler
    euler = observed_orders(problem, EULER, 0.25, 0.0125)
    assert np.all(np.abs(euler - 1.0) < 0.2), euler


def test_second_order_in_time_with_an_interaction(noisy_model):
    problem = Interacting(noisy_model, 150)
    assert problem.disc.weights.size > 0
    orders = observed_orders(problem, TRBDF2, 0.5, 0.0125)
    assert np.all(orders >= 1.8), orders


def test_discrete_gibbs_state_is_an_exact_steady_state():
    problem = Linear(200)
    phi = problem.base / D - problem.entropic
    gibbs = problem.grid.widths * np.exp(-(phi - phi.min()))
    gibbs /= gibbs.sum()
    m = gibbs.copy()
    _, steps, _, _ = problem.run(TRBDF2, m, 50.0, 1e-3, step_tol=1e-6, dt_max=math.inf)
    assert steps > 3
    assert np.abs(m - gibbs).sum() < 1e-13
    np.testing.assert_allclose(m, gibbs, rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("case", ["linear", "interacting"])
def test_mass_is_conserved_and_masses_stay_non_negative(case, noisy_model):
    problem = Linear(300) if case == "linear" else Interacting(noisy_model, 300)
    m = problem.initial.copy()
    problem.run(TRBDF2, m, 5.0, 1e-6, step_tol=1e-5, dt_max=math.inf)
    assert abs(m.sum() - 1.0) < 1e-12
    assert m.min() >= -1e-13


def test_fixed_large_steps_stay_positive():
    problem = Linear(300)
    m = problem.initial.copy()
    problem.run(TRBDF2, m, 1.0, 0.2)
    assert abs(m.sum() - 1.0) < 1e-12
    assert m.min() >= -1e-13


def test_adaptive_solution_converges_to_the_implicit_euler_limit():
    """Both steppers solve the same semi-discrete system: tight tolerances agree."""
    problem = Linear(150)
    second = problem.initial.copy()
    problem.run(TRBDF2, second, 1.0, 1e-6, step_tol=1e-10, dt_max=math.inf)
    first = problem.initial.copy()
    problem.run(EULER, first, 1.0, 1e-6, step_tol=3e-5, dt_max=math.inf)
    # implicit Euler with an L1 change of 3e-5 per step is accurate to ~4e-5 in L1
    assert np.abs(second - first).sum() < 1e-4


def test_error_decreases_with_the_tolerance():
    problem = Linear(150)
    fine = problem.initial.copy()
    problem.run(TRBDF2, fine, 1.0, 1e-6, step_tol=1e-11, dt_max=math.inf)
    errors, steps = [], []
    for tol in (1e-5, 1e-6, 1e-7):
        m = problem.initial.copy()
        _, n, _, _ = problem.run(TRBDF2, m, 1.0, 1e-6, step_tol=tol, dt_max=math.inf)
        errors.append(np.abs(m - fine).sum())
        steps.append(n)
    assert errors[0] > errors[1] > errors[2]
    assert steps[0] < steps[1] < steps[2]
