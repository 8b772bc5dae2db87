"""The d → ∞ limit of the radial model: a point mass moving along the gradient of R.

At d = ∞ the initial law κχ_d/√d of ‖w‖ is the point mass δ_κ, and the noiseless law stays
a point mass whose radius follows dr/dt = −2∂_r ψ_λ(r; δ_r). With the rank-2 kernel of
d = ∞, ψ(r; δ_r) = v(r) + ½ Σ_± ½ q(s_± r)² in the self-interaction, so dr/dt = −R'(r):
a gradient flow of the point-mass risk R(r) = 1 − q(1.5r) + q(0.5r) + ½(q(1.5r)² + q(0.5r)²),
q(a) = E σ(aG), which the tests evaluate by direct adaptive quadrature.
"""

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from reducedpde import api
from reducedpde.activations import mmn18
from reducedpde.cli import main

MMN18_R20, MMN18_NORM20 = 0.00312, 1.805  # MMN18 Fig. 4, the d = ∞ curve at t = 20


def point_mass_risk(r):
    """R(δ_r) at d = ∞ by adaptive quadrature of q(a) = E σ(aG) split at the knots of σ
    (t = 0.5 and 1.5; Δ = 0.5)."""
    sigma = mmn18()

    def q(a):
        value, _ = quad(lambda x: float(sigma(np.array([a * x]))[0]) * norm.pdf(x), -12, 12,
                        points=[0.5 / a, 1.5 / a], epsabs=1e-14, epsrel=1e-13, limit=200)
        return value

    return 1.0 - q(1.5 * r) + q(0.5 * r) + 0.5 * (q(1.5 * r) ** 2 + q(0.5 * r) ** 2)


@pytest.fixture(scope="module", params=[0.1, 0.4])
def infinite_d_run(request):
    return api.run_pde("gaussians", {"d": "inf", "kappa": request.param, "t_max": 20.0},
                       progress=False)


def test_infinite_d_runs_the_point_mass_solver(infinite_d_run):
    assert infinite_d_run.pde.attrs["solver"] == "lagrangian-point-mass"
    assert infinite_d_run.config["initial_law"].startswith("point mass at r = kappa")


def test_infinite_d_matches_the_mmn18_curve_at_t_20(infinite_d_run):
    """Measured 0.00312087 and 1.8050 for both κ."""
    assert infinite_d_run.pde.risk[-1] == pytest.approx(MMN18_R20, abs=1e-5)
    assert infinite_d_run.pde.mean_norm[-1] == pytest.approx(MMN18_NORM20, abs=5e-4)


def test_the_point_mass_risk_equals_direct_quadrature(infinite_d_run):
    pde = infinite_d_run.pde
    for k in (0, pde.t.size // 2, -1):
        assert pde.risk[k] == pytest.approx(point_mass_risk(pde.mean_norm[k]), rel=1e-9)


def test_the_point_mass_ends_at_the_minimiser_of_its_risk(infinite_d_run):
    best = minimize_scalar(point_mass_risk, bounds=(1.0, 3.0), method="bounded",
                           options={"xatol": 1e-10})
    assert infinite_d_run.pde.mean_norm[-1] == pytest.approx(best.x, abs=1e-4)
    assert np.all(np.diff(infinite_d_run.pde.risk) <= 1e-12)  # a gradient flow


def test_validate_at_infinite_d_is_refused_with_the_reason(capsys):
    assert main(["validate", "gaussians", "-p", "d=inf", "-q"]) == 2
    assert "parameter 'd' must be finite for validate" in capsys.readouterr().err


def test_noise_at_infinite_d_is_refused_with_the_limit_explained():
    with pytest.raises(ValueError, match="parameter 'beta' must be inf when d=inf: at fixed"):
        api.run_pde("gaussians", {"d": "inf", "beta": 100.0}, progress=False)
