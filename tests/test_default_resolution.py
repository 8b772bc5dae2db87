"""The default grids of the radial scenarios are converged, and each run says how accurate
it is.

Criterion of the defaults: halving the cell width changes the risk curve by less than 0.1%
(relative, at every output time). Measured (default vs twice the cells): gaussians-fig4
κ = 0.1 3.7e-4 (it was 1.2e-2 on the former uniform 2000 cells, where the initial law
spanned about ten cells), κ = 0.4 5.9e-4, gaussians-quick 4.1e-4, gaussians-noisy 3.3e-4.
The error estimate (the same run on half the cells) against runs on four times the cells:
actual/estimate 0.65 (quick), 0.79 (fig4, κ = 0.4), 0.51 (noisy).
"""

import numpy as np
import pytest

from reducedpde import api
from reducedpde.solvers.fv.grid import Grid1D

CASES = [
    ("gaussians-quick", {"correction": "none"}),
    ("gaussians-noisy", {}),
    pytest.param("gaussians-fig4", {"kappa": 0.1}, marks=pytest.mark.slow),
    pytest.param("gaussians-fig4", {"kappa": 0.4}, marks=pytest.mark.slow),
]


def _risk(scenario, params):
    return api.run_pde(scenario, params, progress=False).pde


@pytest.mark.parametrize("scenario, params", CASES)
def test_halving_the_cell_width_changes_the_default_curve_by_less_than_0_1_percent(
        scenario, params):
    default = _risk(scenario, params)
    finer = _risk(scenario, {**params, "cells": 2 * default.attrs["n_cells"],
                             "error_estimate": "none"})
    assert np.max(np.abs(default.risk - finer.risk) / finer.risk) < 1e-3


def test_the_error_estimate_bounds_the_error_of_the_quick_default():
    default = _risk("gaussians-quick", {"correction": "none"})
    reference = _risk("gaussians-quick", {"cells": 4 * default.attrs["n_cells"],
                                          "error_estimate": "none", "correction": "none"})
    error = np.max(np.abs(default.risk - reference.risk))
    estimate = default.attrs["risk_error_estimate"]
    assert estimate.__class__ is float and estimate == np.max(default.extra[
        "risk_error_estimate"])
    assert 0.3 * estimate < error <= estimate


def test_graded_cells_grow_in_proportion_to_the_radius_between_floor_and_knee():
    grid = Grid1D.graded(4.0, 2000, floor=0.02, knee=0.5)
    assert grid.edges[0] == 0.0 and grid.edges[-1] == 4.0 and grid.n_cells == 2000
    inner = (grid.centres > 0.03) & (grid.centres < 0.45)
    relative = grid.widths[inner] / grid.centres[inner]
    assert np.ptp(relative) < 0.01 * relative.mean()
    outer = grid.centres > 0.55
    np.testing.assert_allclose(grid.widths[outer], grid.widths[outer][0], rtol=1e-9)


def test_a_graded_grid_with_a_floor_outside_the_domain_is_refused():
    with pytest.raises(ValueError, match="floor must lie in"):
        Grid1D.graded(1.0, 100, floor=2.0)
