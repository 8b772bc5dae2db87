"""The ESDIRK Scharfetter–Gummel steppers ``integrate_drift_diffusion_esdirk`` (fourth order)
and ``integrate_drift_diffusion_esdirk3`` (third order), and the tableaux they share with
TR-BDF2."""

import itertools
import math

import numpy as np
import pytest
from test_fv_second_order import Interacting, Linear, observed_orders

from reducedpde.solvers.fv import steppers

ESDIRK4 = steppers.integrate_drift_diffusion_esdirk
ESDIRK3 = steppers.integrate_drift_diffusion_esdirk3
TRBDF2 = steppers.integrate_drift_diffusion_trbdf2

# (tableau, order of b, order of the embedded b̂)
TABLEAUX = {
    "trbdf2": (steppers.TRBDF2_TABLEAU, 2, 3),
    "esdirk3": (steppers.ESDIRK3_TABLEAU, 3, 2),
    "esdirk4": (steppers.ESDIRK4_TABLEAU, 4, 3),
}


def order_defects(a, b):
    """Residuals of the Runge–Kutta order conditions up to order 4, by order."""
    c = a.sum(axis=1)
    return {
        1: [b.sum() - 1.0],
        2: [b @ c - 1 / 2],
        3: [b @ c**2 - 1 / 3, b @ a @ c - 1 / 6],
        4: [b @ c**3 - 1 / 4, b @ (c * (a @ c)) - 1 / 8, b @ a @ c**2 - 1 / 12,
            b @ a @ a @ c - 1 / 24],
    }


def stability(a, b, z):
    s = b.size
    return 1.0 + z * b @ np.linalg.solve(np.eye(s) - z * a, np.ones(s))


@pytest.mark.parametrize("name", sorted(TABLEAUX))
def test_tableau_order_conditions_and_stability(name):
    (a, err), order, embedded_order = TABLEAUX[name]
    s = a.shape[0]
    b = a[-1]  # stiffly accurate
    b_hat = b - err
    gamma = a[1, 1]
    assert np.all(a[0] == 0.0)  # explicit first stage
    assert np.allclose(np.diag(a)[1:], gamma)  # singly diagonally implicit
    assert np.all(np.triu(a, 1) == 0.0)
    for defects, p in ((order_defects(a, b), order), (order_defects(a, b_hat), embedded_order)):
        for k in range(1, 5):
            if k <= p:
                assert np.max(np.abs(defects[k])) < 1e-12, (name, k)
            else:  # the order is exactly p
                assert np.max(np.abs(defects[k])) > 1e-6, (name, k)
    # L-stable: A-stable on the imaginary axis (and on the left half-plane by the maximum
    # principle, the poles 1/γ being in the right half-plane), R(−∞) = 0
    for y in np.linspace(-200.0, 200.0, 801):
        assert abs(stability(a, b, 1j * y)) <= 1.0 + 1e-12
    assert abs(stability(a, b, -1e9)) < 1e-7
    if name != "trbdf2":
        # the embedded method is A-stable and bounded at infinity: no filter needed
        for y in np.linspace(-200.0, 200.0, 801):
            assert abs(stability(a, b_hat, 1j * y)) <= 1.0 + 1e-12
        assert abs(stability(a, b_hat, -1e9)) < 0.2
    assert s == {"trbdf2": 3, "esdirk3": 4, "esdirk4": 6}[name]


def test_fourth_and_third_order_in_time_on_the_linear_problem():
    problem = Linear(120)
    orders = observed_orders(problem, ESDIRK4, 0.25, 0.0125)
    assert np.all(np.abs(orders - 4.0) < 0.2), orders
    orders = observed_orders(problem, ESDIRK3, 0.25, 0.0125)
    assert np.all(np.abs(orders - 3.0) < 0.2), orders


def test_third_order_in_time_with_an_interaction(noisy_model):
    """Stage potentials extrapolated to O(Δt³): third order for both tableaux."""
    problem = Interacting(noisy_model, 150)
    assert problem.disc.weights.size > 0
    for stepper in (ESDIRK4, ESDIRK3):
        orders = observed_orders(problem, stepper, 0.5, 0.0125)
        assert np.all(orders >= 2.8), orders


@pytest.mark.parametrize("stepper", [ESDIRK4, ESDIRK3])
def test_discrete_gibbs_state_is_an_exact_steady_state(stepper):
    problem = Linear(200)
    phi = problem.base / 0.05 - problem.entropic
    gibbs = problem.grid.widths * np.exp(-(phi - phi.min()))
    gibbs /= gibbs.sum()
    m = gibbs.copy()
    _, steps, _, _ = problem.run(stepper, m, 50.0, 1e-3, step_tol=1e-6, dt_max=math.inf)
    assert steps > 3
    assert np.abs(m - gibbs).sum() < 1e-13
    np.testing.assert_allclose(m, gibbs, rtol=1e-9, atol=1e-300)


@pytest.mark.parametrize("case", ["linear", "interacting"])
def test_mass_is_conserved_and_masses_stay_non_negative(case, noisy_model):
    problem = Linear(300) if case == "linear" else Interacting(noisy_model, 300)
    for stepper in (ESDIRK4, ESDIRK3):
        m = problem.initial.copy()
        problem.run(stepper, m, 5.0, 1e-6, step_tol=1e-5, dt_max=math.inf)
        assert abs(m.sum() - 1.0) < 1e-12
        assert m.min() >= -1e-13


@pytest.mark.parametrize("stepper", [ESDIRK4, ESDIRK3, TRBDF2])
def test_mass_is_conserved_to_round_off_at_very_large_steps(stepper):
    """Steps growing to Δt ~ 1e6: the nearly singular solves would lose ~1e-8 of the mass
    along the Gibbs direction; each step is rescaled to the initial total."""
    problem = Linear(200)
    m = problem.initial.copy()
    problem.run(stepper, m, 1e7, 1e-3, step_tol=1e-6, dt_max=math.inf)
    assert abs(m.sum() - 1.0) < 1e-14
    phi = problem.base / 0.05 - problem.entropic
    gibbs = problem.grid.widths * np.exp(-(phi - phi.min()))
    assert np.abs(m - gibbs / gibbs.sum()).sum() < 1e-13


@pytest.mark.parametrize("case", ["linear", "interacting"])
def test_fixed_large_steps_stay_positive(case, noisy_model):
    """Steps far beyond the accuracy limit: negative stages are replaced by the
    backward-Euler step (accepted with step_tol = inf)."""
    problem = Linear(300) if case == "linear" else Interacting(noisy_model, 300)
    for stepper in (ESDIRK4, ESDIRK3):
        for dt in (0.05, 0.2, 1.0):
            m = problem.initial.copy()
            problem.run(stepper, m, 2.0, dt)
            assert abs(m.sum() - 1.0) < 1e-12
            assert m.min() >= -1e-13


@pytest.mark.parametrize("case", ["linear", "interacting"])
def test_agrees_with_trbdf2_at_tight_tolerance(case, noisy_model):
    """Same semi-discrete system: both converge to its exact solution."""
    problem = Linear(150) if case == "linear" else Interacting(noisy_model, 150)
    second = problem.initial.copy()
    _, n_trbdf2, _, _ = problem.run(TRBDF2, second, 1.0, 1e-6, step_tol=1e-11,
                                    dt_max=math.inf)
    fourth = problem.initial.copy()
    _, n_esdirk, _, _ = problem.run(ESDIRK4, fourth, 1.0, 1e-6, step_tol=1e-11,
                                    dt_max=math.inf)
    # TR-BDF2 with step_tol 1e-11 is accurate to ~2e-8 in L1 here
    assert np.abs(second - fourth).sum() < 1e-7
    assert n_esdirk < n_trbdf2 / 3


def test_error_decreases_with_the_tolerance():
    problem = Linear(150)
    fine = problem.initial.copy()
    problem.run(ESDIRK4, fine, 1.0, 1e-6, step_tol=1e-12, dt_max=math.inf)
    errors, steps = [], []
    for tol in (1e-5, 1e-6, 1e-7, 1e-8):
        m = problem.initial.copy()
        _, n, _, _ = problem.run(ESDIRK4, m, 1.0, 1e-6, step_tol=tol, dt_max=math.inf)
        errors.append(np.abs(m - fine).sum())
        steps.append(n)
    assert all(e0 > e1 for e0, e1 in itertools.pairwise(errors)), errors
    assert all(n0 < n1 for n0, n1 in itertools.pairwise(steps)), steps
    # the global error follows the tolerance (within a factor 10 here)
    assert all(e < 10 * tol for e, tol in zip(errors, (1e-5, 1e-6, 1e-7, 1e-8))), errors
