import math

import pytest

from reducedpde.activations import mmn18
from reducedpde.models.gaussians.radial import GaussianRadialModel


@pytest.fixture(scope="session")
def fig4_model():
    """MMN18 Fig. 4 physics (Δ = 0.5, d = 320), noiseless, kernel resolved up to r = 4."""
    return GaussianRadialModel(mmn18(), 0.5, 320, r_bound=4.0)


@pytest.fixture(scope="session")
def noisy_model():
    """A noisy, confined model small enough for fast steady-state checks."""
    return GaussianRadialModel(mmn18(), 0.5, 20, lam=1.0, beta=40.0, r_bound=4.0, kernel_tol=1e-8)


@pytest.fixture(scope="session")
def infinite_d_model():
    return GaussianRadialModel(mmn18(), 0.5, math.inf, r_bound=4.0)
