"""Compiled finite-volume kernels against their NumPy twins and exact properties."""

import numpy as np
import pytest

from reducedpde.solvers.fv import kernels
from reducedpde.solvers.fv.grid import Grid1D
from reducedpde.solvers.fv.reference import (
    implicit_euler_step,
    sg_operator_matrix,
    transport_rate_numpy,
)


@pytest.fixture
def nonuniform_grid():
    rng = np.random.default_rng(1)
    return Grid1D(np.cumsum(np.concatenate([[0.0], rng.uniform(0.5, 1.5, 40)])) / 20)


@pytest.mark.parametrize("theta", [1.0, 1.5, 2.0])
def test_transport_rate_matches_numpy_twin(nonuniform_grid, theta):
    g = nonuniform_grid
    rng = np.random.default_rng(2)
    masses = rng.uniform(0, 1, g.n_cells) * g.widths
    velocity = rng.normal(size=g.n_cells + 1)
    rate = np.empty(g.n_cells)
    left, right = np.empty(g.n_cells), np.empty(g.n_cells)
    kernels.transport_rate(masses, kernels.grid_factors(g.widths, g.centres), velocity, theta,
                           left, right, rate)
    np.testing.assert_allclose(
        rate, transport_rate_numpy(masses, g.widths, g.centres, velocity, theta), rtol=1e-13,
        atol=1e-15,
    )
    assert abs(rate.sum()) < 1e-14


def test_transport_step_is_positive_at_half_courant_number(nonuniform_grid):
    g = nonuniform_grid
    rng = np.random.default_rng(3)
    masses = rng.uniform(0, 1, g.n_cells) ** 4 * g.widths
    velocity = rng.normal(size=g.n_cells + 1)
    rate = np.empty(g.n_cells)
    left, right = np.empty(g.n_cells), np.empty(g.n_cells)
    kernels.transport_rate(masses, kernels.grid_factors(g.widths, g.centres), velocity, 2.0,
                           left, right, rate)
    dt = 0.5 * g.widths.min() / np.abs(velocity).max()
    assert np.all(masses + dt * rate >= -1e-15)


def test_implicit_scharfetter_gummel_step_matches_numpy_twin(nonuniform_grid):
    g = nonuniform_grid
    rng = np.random.default_rng(4)
    potential = 30 * rng.normal(size=g.n_cells)
    masses = rng.uniform(0, 1, g.n_cells)
    a, b = np.empty(g.n_cells), np.empty(g.n_cells)
    kernels.sg_coefficients(potential, g.widths, g.centres, 0.1, a, b)
    out, c, d = np.empty(g.n_cells), np.empty(g.n_cells), np.empty(g.n_cells)
    kernels.solve_mass_matrix(a, b, 0.7, masses, out, c, d)
    expected = implicit_euler_step(potential, g.widths, g.centres, 0.1, 0.7, masses)
    np.testing.assert_allclose(out, expected, rtol=1e-10)
    assert np.all(out > 0)
    assert out.sum() == pytest.approx(masses.sum(), rel=1e-13)


@pytest.mark.parametrize("n_cells", [1, 2, 3, 4, 5, 40, 41])
def test_twisted_factorisation_solves_the_implicit_euler_system(n_cells):
    """factor_mass_matrix + solve_factored (reused factors, two recurrences meeting in the
    middle) against the dense solve, the reference twin and solve_mass_matrix."""
    rng = np.random.default_rng(n_cells)
    edges = np.cumsum(np.concatenate([[0.0], rng.uniform(0.5, 1.5, n_cells)])) / 20
    widths, centres = np.diff(edges), 0.5 * (edges[1:] + edges[:-1])
    potential = 30 * rng.normal(size=n_cells)
    a, b = np.full(n_cells, np.nan), np.full(n_cells, np.nan)  # last entries: never read
    kernels.sg_coefficients(potential, widths, centres, 0.1, a, b)
    pivot, upper, mult = np.empty(n_cells), np.empty(n_cells), np.empty(n_cells)
    kernels.factor_mass_matrix(a, b, 0.7, pivot, upper, mult)
    matrix = np.eye(n_cells) - 0.7 * sg_operator_matrix(potential, widths, centres, 0.1)
    for _ in range(3):
        rhs = rng.uniform(0, 1, n_cells)
        out = np.empty(n_cells)
        kernels.solve_factored(pivot, upper, mult, rhs, out)
        np.testing.assert_allclose(out, np.linalg.solve(matrix, rhs), rtol=1e-12)
        np.testing.assert_allclose(
            out, implicit_euler_step(potential, widths, centres, 0.1, 0.7, rhs), rtol=1e-12)
        expected, c, d = np.empty(n_cells), np.empty(n_cells), np.empty(n_cells)
        kernels.solve_mass_matrix(a, b, 0.7, rhs, expected, c, d)
        np.testing.assert_allclose(out, expected, rtol=1e-12)
        assert np.all(out > 0)
        assert out.sum() == pytest.approx(rhs.sum(), rel=1e-13)
        kernels.solve_factored(pivot, upper, mult, rhs, rhs)  # in place
        np.testing.assert_array_equal(rhs, out)


def test_scharfetter_gummel_operator_annihilates_the_discrete_gibbs_state(nonuniform_grid):
    g = nonuniform_grid
    potential = 5 * np.sin(7 * g.centres) + 40 * g.centres**2
    gibbs = g.widths * np.exp(-(potential - potential.min()))
    op = sg_operator_matrix(potential, g.widths, g.centres, 0.3)
    assert np.abs(op @ gibbs).max() < 1e-13 * gibbs.max()


def test_bernoulli_function_is_stable_for_large_arguments():
    for z in (-800.0, -30.0, -1e-12, 0.0, 1e-12, 30.0, 800.0):
        value = kernels.bernoulli(z)
        assert np.isfinite(value) and value >= 0
    assert kernels.bernoulli(0.0) == 1.0
    assert kernels.bernoulli(-800.0) == pytest.approx(800.0)
