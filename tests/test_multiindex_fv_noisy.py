"""Noisy (finite β) k = 1 (a, s, r) multi-index dynamics: Scharfetter–Gummel FV scheme."""

import numpy as np
import pytest
from scipy.stats import beta as beta_law

from reducedpde.activations import get_activation
from reducedpde.models.multiindex.latents import GaussianLatent
from reducedpde.models.multiindex.reduced import MultiIndexModel
from reducedpde.models.multiindex.targets import HermiteTarget
from reducedpde.solvers.fv.grid import Grid1D
from reducedpde.solvers.fv.multiindex import solve_multiindex_fv

TARGET = {(1,): 1.0, (2,): 0.5}
BETA, LAM, DIM = 10.0, 1.0, 5.0


def _gaussian_start(grids, centre=(0.5, 0.3, 0.8), width=0.2):
    a, s, r = np.meshgrid(*(g.centres for g in grids), indexing="ij")
    m = np.exp(-((a - centre[0]) ** 2 + (s - centre[1]) ** 2 + (r - centre[2]) ** 2)
               / (2.0 * width**2))
    return m / m.sum()


def gibbs_of_potential(model, grids, masses):
    """m ∝ h_a h_s h_r r^{d−k−1} exp(−β Ψ_λ(·; masses)) at the cell centres (plain NumPy,
    through ``MultiIndexModel.psi``): the Gibbs law of the frozen potential of ``masses``."""
    a, s, r = np.meshgrid(*(g.centres for g in grids), indexing="ij")
    log_vol = np.log(np.einsum("i,j,k->ijk", *(g.widths for g in grids)))
    psi = model.psi(a.ravel(), s.reshape(-1, 1), r.ravel(), masses.ravel()).reshape(a.shape)
    psi += 0.5 * model.lam * (a**2 + s**2 + r**2)
    log_w = log_vol + (model.d - model.k - 1.0) * np.log(r) - model.beta * psi
    gibbs = np.exp(log_w - log_w.max())
    return gibbs / gibbs.sum()


def gibbs_fixed_point(model, grids, start, tol=1e-15, damping=0.3, max_iter=20_000):
    """Damped Picard iteration on the self-consistent Gibbs law m = gibbs_of_potential(m)."""
    masses = start.copy()
    for _ in range(max_iter):
        new = (1.0 - damping) * masses + damping * gibbs_of_potential(model, grids, masses)
        if np.abs(new - masses).max() < tol:
            return new
        masses = new
    raise AssertionError("Picard iteration did not converge")


@pytest.fixture(scope="module")
def noisy_model():
    """ReLU, φ = He1 + 0.5 He2, 8 latent nodes, β = 10, λ = 1, d = 5 (d − k − 1 = 3)."""
    return MultiIndexModel(get_activation("relu"), HermiteTarget(TARGET), GaussianLatent(1, 8),
                           lam=LAM, beta=BETA, d=DIM)


@pytest.fixture(scope="module")
def long_run(noisy_model):
    grids = (Grid1D.uniform(-2.5, 2.5, 16), Grid1D.uniform(-2.5, 2.5, 16),
             Grid1D.uniform(0.0, 2.5, 16))
    start = _gaussian_start(grids)
    # the Gibbs tails put up to 5.4e-8 of the mass in the outer slabs (upper s)
    res = solve_multiindex_fv(noisy_model, *grids, start, np.linspace(0.0, 40.0, 6),
                              boundary_tol=1e-6)
    return grids, start, res


def test_noisy_run_conserves_mass_and_stays_non_negative(long_run):
    grids, _, res = long_run
    assert res.status == "ok" and res.attrs["solver"] == "fv-multiindex-sg-ssprk3"
    assert res.attrs["cfl_retries"] == 0
    # measured: |Σm − 1| = 1.3e-13 after 3726 steps
    assert abs(res.masses.sum() - 1.0) < 1e-12
    for dens, g in zip((res.density_a, res.density_s, res.density_r), grids):
        np.testing.assert_allclose(dens @ g.widths, 1.0, rtol=0, atol=1e-12)
    assert np.all(res.min_mass >= 0.0)
    # the diffusion really acts: the law spreads from width 0.2 and the risk moves
    assert np.all(res.masses > 0.0)
    assert abs(res.risk[-1] - res.risk[0]) > 0.03


def test_noisy_steady_state_is_the_self_consistent_gibbs_law(noisy_model, long_run):
    # SG fluxes in Φ = βΨ_λ − (d−k−1) log r vanish exactly at m ∝ h e^{−Φ}, so the long-time
    # limit is the Picard fixed point on the cell centres. Measured max|m − m_Gibbs| (max m
    # = 3.4e-2): 3.4e-6 at t = 10, 5.3e-10 at t = 20, 3.1e-15 at t = 40 (round-off).
    grids, start, res = long_run
    expected = gibbs_fixed_point(noisy_model, grids, start)
    np.testing.assert_allclose(res.masses, expected, atol=1e-12, rtol=0)
    # the interaction matters: the Gibbs law of the initial potential is far from it
    # (measured max gap 3.2e-3, i.e. 10 % of max m)
    frozen = gibbs_of_potential(noisy_model, grids, start)
    assert np.abs(frozen - expected).max() > 1e-3


def _bump_masses(grids, centres=(0.5, 0.3, 0.8), half_width=0.4):
    law = beta_law(5, 5)
    ms = [g.cell_masses(lambda x, c=c: law.cdf((np.asarray(x) - (c - half_width))
                                               / (2.0 * half_width)))
          for g, c in zip(grids, centres)]
    return np.einsum("i,j,k->ijk", *ms)


def test_large_beta_tends_to_the_noiseless_solution_at_first_order():
    # As β → ∞ the SG flux tends to first-order upwind (MUSCL is second order), so the gap
    # to the noiseless MUSCL run is O(h). Measured max_t |R_SG − R_MUSCL| over t ∈ [0, 1]
    # (R falls from 1.36 to 0.75), β = 1e8: 1.82e-2 on 32×32×16, 9.3e-3 on 64×64×32.
    target = HermiteTarget(TARGET)
    noiseless = MultiIndexModel(get_activation("relu"), target, GaussianLatent(1, 24))
    cold = MultiIndexModel(get_activation("relu"), target, GaussianLatent(1, 24),
                           beta=1e8, d=DIM)
    times = np.linspace(0.0, 1.0, 7)
    gaps = []
    for refine in (1, 2):
        grids = (Grid1D.uniform(-1.0, 3.0, 32 * refine), Grid1D.uniform(-1.0, 3.0, 32 * refine),
                 Grid1D.uniform(0.0, 2.0, 16 * refine))
        masses = _bump_masses(grids)
        ref = solve_multiindex_fv(noiseless, *grids, masses, times)
        # first-order upwind smears the bump: a little mass reaches the box edge
        sg = solve_multiindex_fv(cold, *grids, masses, times, boundary_tol=1e-3)
        assert sg.risk[0] == ref.risk[0]
        assert sg.risk[-1] < 0.6 * sg.risk[0]
        gaps.append(np.max(np.abs(sg.risk - ref.risk)))
    assert gaps[0] < 2.5e-2
    assert gaps[1] < 1.3e-2
    assert gaps[0] / gaps[1] > 1.7  # first order


def test_noisy_model_with_d_at_most_k_plus_one_is_rejected(noisy_model):
    kwargs = dict(activation=get_activation("relu"), target=HermiteTarget(TARGET),
                  latent=GaussianLatent(1, 8), beta=BETA)
    with pytest.raises(ValueError, match="d > k \\+ 1"):
        MultiIndexModel(**kwargs, d=2.0)
    grids = (Grid1D.uniform(-1.0, 1.0, 4), Grid1D.uniform(-1.0, 1.0, 4),
             Grid1D.uniform(0.0, 1.0, 4))
    masses = np.ones((4, 4, 4))
    for bad_d in (2.0, 1.5, float("inf")):
        model = MultiIndexModel(**kwargs, d=DIM)
        model.d = bad_d  # bypass the constructor's check
        with pytest.raises(ValueError, match=r"model: .*d > k \+ 1 = 2.*d=" + str(bad_d)):
            solve_multiindex_fv(model, *grids, masses, [0.0, 1.0])
