"""The reference results shipped in data/ load and are reproduced by a fresh run."""

from pathlib import Path

import numpy as np
import pytest

from reducedpde import api, io

DATA = Path(__file__).resolve().parent.parent / "data"

# The PDE is deterministic; a fresh run may differ from the shipped file only by
# floating-point reassociation (other CPU, other BLAS), amplified along the run.
CURVE_TOLERANCE = 1e-8


@pytest.mark.parametrize("kappa", [0.1, 0.4])
def test_fresh_run_reproduces_the_shipped_fig4_pde_curve(kappa):
    shipped = io.load(DATA / f"fig4_pde_kappa{kappa:g}.h5")
    assert shipped.scenario == "gaussians-fig4" and shipped.config["kappa"] == kappa
    fresh = api.run_pde(shipped.scenario, api.parameters_of(shipped.config, shipped.scenario),
                        progress=False)
    # output times: log-spaced, equal up to the last bit of NumPy's geomspace (which has
    # changed between releases by one unit in the last place)
    np.testing.assert_allclose(fresh.pde.t, shipped.pde.t, rtol=4e-16, atol=0)
    np.testing.assert_allclose(fresh.pde.risk, shipped.pde.risk, rtol=0, atol=CURVE_TOLERANCE)
    np.testing.assert_allclose(fresh.pde.mean_norm, shipped.pde.mean_norm, rtol=0,
                               atol=CURVE_TOLERANCE)


def test_shipped_quick_validation_has_all_parts():
    result = io.load(DATA / "gaussians_quick.h5")
    assert result.pde is not None and result.sgd is not None
    assert result.comparison.passed
    assert result.sgd.risk.shape[0] == result.config["seeds"]
