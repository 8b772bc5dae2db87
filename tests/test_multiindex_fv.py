"""Finite-volume solver of the k = 1 (a, s, r) multi-index dynamics."""

import math

import numpy as np
import pytest
from scipy.special import roots_jacobi
from scipy.stats import beta as beta_law

from reducedpde.activations import get_activation
from reducedpde.models.multiindex.latents import GaussianLatent
from reducedpde.models.multiindex.reduced import MultiIndexModel
from reducedpde.models.multiindex.targets import HermiteTarget
from reducedpde.solvers.fv.grid import Grid1D
from reducedpde.solvers.fv.multiindex import solve_multiindex_fv
from reducedpde.solvers.fv.radial import SolverError
from reducedpde.solvers.lagrangian.multiindex import solve_multiindex_particles

# initial law: product of Beta(5, 5) bumps ∝ (1 − x²)^4 on [c − h, c + h] in a, s and r
CENTRES = (0.5, 0.3, 0.8)
HALF_WIDTHS = (0.4, 0.4, 0.4)
# box holding the support up to t = 1 (support at t = 1, from tracer atoms:
# a ∈ [−0.23, 1.99], s ∈ [−0.13, 1.95], r ∈ [0.21, 1.22]); base cell counts
BOX = ((-1.0, 3.0, 32), (-1.0, 3.0, 32), (0.0, 2.0, 16))
TIMES = np.linspace(0.0, 1.0, 7)


def _bump_cdf(centre, half_width):
    law = beta_law(5, 5)
    return lambda x: law.cdf((np.asarray(x) - (centre - half_width)) / (2.0 * half_width))


def _grids(refine=1):
    return tuple(Grid1D.uniform(lo, hi, n * refine) for lo, hi, n in BOX)


def _bump_masses(grids, centres=CENTRES, half_widths=HALF_WIDTHS):
    ms = [g.cell_masses(_bump_cdf(c, h)) for g, c, h in zip(grids, centres, half_widths)]
    return np.einsum("i,j,k->ijk", *ms)


def _bump_atoms(n):
    """Tensor Gauss–Jacobi (α = β = 4) atoms of the same product law: exact moments of
    degree ≤ 2n − 1 in each coordinate."""
    x, w = roots_jacobi(n, 4.0, 4.0)
    w = w / w.sum()
    pts = np.meshgrid(*[c + h * x for c, h in zip(CENTRES, HALF_WIDTHS)], indexing="ij")
    p = np.einsum("i,j,k->ijk", w, w, w).ravel()
    return pts[0].ravel(), pts[1].ravel()[:, None], pts[2].ravel(), p


@pytest.fixture(scope="module")
def model():
    """ReLU, φ = He1 + 0.5 He2, Gaussian latent with 24 nodes, noiseless, λ = 0."""
    target = HermiteTarget({(1,): 1.0, (2,): 0.5})
    return MultiIndexModel(get_activation("relu"), target, GaussianLatent(1, 24))


@pytest.fixture(scope="module")
def coarse(model):
    grids = _grids(1)
    return grids, solve_multiindex_fv(model, *grids, _bump_masses(grids), TIMES)


@pytest.fixture(scope="module")
def lagrangian(model):
    a, s, r, p = _bump_atoms(6)
    return solve_multiindex_particles(model, a, s, r, p, TIMES, rtol=1e-11, atol=1e-13)


def test_mass_is_conserved(coarse):
    grids, res = coarse
    assert res.status == "ok"
    assert abs(res.masses.sum() - 1.0) < 1e-12
    for dens, g in zip((res.density_a, res.density_s, res.density_r), grids):
        np.testing.assert_allclose(dens @ g.widths, 1.0, rtol=0, atol=1e-12)


def test_masses_stay_non_negative(coarse):
    _, res = coarse
    assert res.min_mass.size == TIMES.size
    assert np.all(res.min_mass >= -1e-15)
    assert res.masses.min() >= -1e-15


def test_initial_risk_is_the_model_risk_of_the_cell_centre_atoms(model):
    grids = _grids(1)
    masses = _bump_masses(grids)
    masses /= masses.sum()
    res = solve_multiindex_fv(model, *grids, masses, TIMES[:2])
    a, s, r = np.meshgrid(*(g.centres for g in grids), indexing="ij")
    expected = model.risk(a.ravel(), s.reshape(-1, 1), r.ravel(), masses.ravel())
    assert res.risk[0] == pytest.approx(expected, rel=1e-13)
    assert res.mean_a[0] == pytest.approx(masses.ravel() @ a.ravel(), rel=1e-13)
    assert res.mean_norm[0] == pytest.approx(masses.ravel() @ np.hypot(s, r).ravel(), rel=1e-13)


def test_risk_agrees_with_the_lagrangian_solver_and_converges(model, coarse, lagrangian):
    # The Lagrangian reference uses 6³ Gauss–Jacobi atoms (its risk changes by 4e-10 with
    # 8³ atoms). Measured max_t |R_FV − R_Lag| over t ∈ [0, 1] (R falls from 1.36 to 0.75):
    #   32×32×16: 4.70e-3,  64×64×32: 1.86e-3 (ratio 2.53, observed order 1.34),
    #   96×96×48: 8.4e-4,  128×128×64: 4.1e-4 (order 1.76 from 32 to 128 cells per axis).
    # The order is below 2 on coarse grids: the limiter clips the slopes at the peak of
    # the bump and the law is sheared (ṡ ∝ a), so the coarsest grid has few cells across it.
    assert lagrangian.risk[-1] < 0.6 * lagrangian.risk[0]
    _, res = coarse
    fine_grids = _grids(2)
    fine = solve_multiindex_fv(model, *fine_grids, _bump_masses(fine_grids), TIMES)
    err_coarse = np.max(np.abs(res.risk - lagrangian.risk))
    err_fine = np.max(np.abs(fine.risk - lagrangian.risk))
    assert err_coarse < 6e-3
    assert err_fine < 2.5e-3
    assert err_coarse / err_fine > 2.0  # order > 1
    # the means follow the atoms too (measured on 64×64×32: |Δ mean a| 2.5e-3, mean s
    # 2.8e-3, mean r 6.5e-4, mean ‖w‖ 1.4e-3)
    np.testing.assert_allclose(fine.mean_a, lagrangian.mean_a, atol=5e-3)
    np.testing.assert_allclose(fine.mean_s, lagrangian.mean_s, atol=5e-3)
    np.testing.assert_allclose(fine.mean_r, lagrangian.mean_r, atol=5e-3)
    np.testing.assert_allclose(fine.mean_norm, lagrangian.mean_norm, atol=5e-3)


def test_s_marginal_stays_symmetric_for_an_even_target():
    model = MultiIndexModel(get_activation("relu"), HermiteTarget({(2,): 1.0}),
                            GaussianLatent(1, 24))
    grids = (Grid1D.uniform(-1.0, 3.0, 24), Grid1D.uniform(-3.0, 3.0, 32),
             Grid1D.uniform(0.0, 2.0, 16))
    masses = _bump_masses(grids, centres=(0.8, 0.0, 0.8), half_widths=(0.5, 0.6, 0.4))
    masses = 0.5 * (masses + masses[:, ::-1, :])
    res = solve_multiindex_fv(model, *grids, masses, np.linspace(0.0, 1.0, 6))
    dens = res.density_s
    asym = np.max(np.abs(dens - dens[:, ::-1]), axis=1) / np.max(dens, axis=1)
    assert np.all(asym < 1e-13)
    assert np.all(np.abs(res.mean_s) < 1e-14)
    # not a trivial check: the law has spread in s
    spread = np.abs(grids[1].centres) @ (dens * grids[1].widths).T
    assert spread[-1] > 1.5 * spread[0]


def test_mass_reaching_the_grid_edge_raises_with_the_partial_run(model):
    grids = (Grid1D.uniform(-1.0, 3.0, 16), Grid1D.uniform(-1.0, 1.2, 12),
             Grid1D.uniform(0.0, 2.0, 8))
    with pytest.raises(SolverError, match=r"s axis \(upper end") as info:
        solve_multiindex_fv(model, *grids, _bump_masses(grids), TIMES)
    partial = info.value.partial
    assert 1 <= partial.t.size < TIMES.size
    assert np.all(np.isfinite(partial.risk))


def test_interrupt_returns_the_completed_outputs(model, monkeypatch):
    from reducedpde.solvers.fv import multiindex

    real = multiindex._integrate
    calls = {"n": 0}

    def interrupt_on_third_call(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(multiindex, "_integrate", interrupt_on_third_call)
    grids = _grids(1)
    res = solve_multiindex_fv(model, *grids, _bump_masses(grids), TIMES)
    assert res.status == "interrupted" and res.attrs["interrupted"] is True
    np.testing.assert_array_equal(res.t, TIMES[:3])
    assert np.all(np.isfinite(res.risk)) and res.density_s.shape == (3, grids[1].n_cells)


def _model_kwargs():
    return dict(activation=get_activation("relu"), target=HermiteTarget({(1,): 1.0}),
                latent=GaussianLatent(1, 8))


@pytest.mark.parametrize(
    ("bad_model", "message"),
    [
        (lambda: MultiIndexModel(get_activation("relu"), HermiteTarget({(1, 0): 1.0}),
                                 GaussianLatent(2, 4)), "k = 1"),
        (lambda: MultiIndexModel(**_model_kwargs(), spherical=True), "spherical"),
    ],
    ids=["k2", "spherical"],
)
def test_unsupported_models_are_rejected(bad_model, message):
    grids = _grids(1)
    with pytest.raises(ValueError, match=f"model: .*{message}"):
        solve_multiindex_fv(bad_model(), *grids, _bump_masses(grids), TIMES)


def test_bad_grids_and_masses_are_rejected(model):
    ga, gs, gr = _grids(1)
    masses = _bump_masses((ga, gs, gr))
    shifted_r = Grid1D.uniform(0.1, 2.0, gr.n_cells)
    with pytest.raises(ValueError, match="grid_r"):
        solve_multiindex_fv(model, ga, gs, shifted_r, masses, TIMES)
    with pytest.raises(ValueError, match="masses0"):
        solve_multiindex_fv(model, ga, gs, gr, masses[:, :, :-1], TIMES)
    negative = masses.copy()
    negative[0, 0, 0] = -1e-3
    with pytest.raises(ValueError, match="masses0"):
        solve_multiindex_fv(model, ga, gs, gr, negative, TIMES)
    with pytest.raises(ValueError, match="masses0"):
        solve_multiindex_fv(model, ga, gs, gr, np.full_like(masses, math.nan), TIMES)
