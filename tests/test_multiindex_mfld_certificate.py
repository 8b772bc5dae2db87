"""Free energy and Gibbs-gap certificate of the noisy k = 1 (a, s, r) finite-volume solver.

Problem: ReLU, φ = He1 + He2/2 on 8 Gauss–Hermite nodes, β = 10, λ = 1, d = 5 (Jacobian
r^{d−k−1} = r³), different layer rates ξ_a = 2, ξ_w = 1 (same temperature 1/β in both
layers), 16³ cells of [−2.5, 2.5]² × [0, 2.5], from a Gaussian bump, run to t = 24.
The objective is 𝓛(m) = ½R + (λ/2) Σ m‖θ‖² + β⁻¹ Σ m log(m / (h_a h_s h_r r^{d−k−1})),
the certificate β⁻¹ KL(m ‖ p(m)) with p ∝ h_a h_s h_r r^{d−k−1} e^{−βψ_λ(·; m)}.
"""

import numpy as np
import pytest

from reducedpde import api
from reducedpde.activations import get_activation
from reducedpde.cli import main
from reducedpde.mfld import fit_gap_rate
from reducedpde.models.multiindex.latents import GaussianLatent
from reducedpde.models.multiindex.reduced import MultiIndexModel
from reducedpde.models.multiindex.targets import HermiteTarget
from reducedpde.solvers.fv.grid import Grid1D
from reducedpde.solvers.fv.multiindex import MultiIndexGridFeatures, solve_multiindex_fv

TARGET = {(1,): 1.0, (2,): 0.5}
BETA, LAM, DIM, XI_A = 10.0, 1.0, 5.0, 2.0


@pytest.fixture(scope="module")
def model():
    return MultiIndexModel(get_activation("relu"), HermiteTarget(TARGET), GaussianLatent(1, 8),
                           lam=LAM, beta=BETA, d=DIM, xi_a=XI_A)


@pytest.fixture(scope="module")
def grids():
    return (Grid1D.uniform(-2.5, 2.5, 16), Grid1D.uniform(-2.5, 2.5, 16),
            Grid1D.uniform(0.0, 2.5, 16))


@pytest.fixture(scope="module")
def start(grids):
    a, s, r = np.meshgrid(*(g.centres for g in grids), indexing="ij")
    m = np.exp(-((a - 0.5) ** 2 + (s - 0.3) ** 2 + (r - 0.8) ** 2) / (2.0 * 0.2**2))
    return m / m.sum()


@pytest.fixture(scope="module")
def run(model, grids, start):
    # the Gibbs tails put up to ~5e-8 of the mass in the outer slabs
    return solve_multiindex_fv(model, *grids, start, np.linspace(0.0, 24.0, 49),
                               boundary_tol=1e-6)


def _centres(grids):
    return np.meshgrid(*(g.centres for g in grids), indexing="ij")


def log_reference(model, grids):
    """``log(h_a h_s h_r r^{d−k−1})`` at the cell centres (plain NumPy)."""
    _, _, r = _centres(grids)
    volume = np.einsum("i,j,k->ijk", *(g.widths for g in grids))
    return np.log(volume) + (model.d - model.k - 1.0) * np.log(r)


def objective(model, grids, masses):
    """``𝓛`` through ``MultiIndexModel.risk`` of the cell-centre atoms (no solver code)."""
    a, s, r = _centres(grids)
    risk = model.risk(a.ravel(), s.reshape(-1, 1), r.ravel(), masses.ravel())
    energy = 0.5 * risk + 0.5 * model.lam * np.sum(masses * (a**2 + s**2 + r**2))
    pos = masses > 0
    entropy = np.sum(masses[pos] * (np.log(masses[pos]) - log_reference(model, grids)[pos]))
    return energy + entropy / model.beta


def proximal_gibbs(model, grids, masses):
    """``p ∝ h_a h_s h_r r^{d−k−1} exp(−β ψ_λ(·; m))`` through ``MultiIndexModel.psi``."""
    a, s, r = _centres(grids)
    psi = model.psi(a.ravel(), s.reshape(-1, 1), r.ravel(), masses.ravel()).reshape(a.shape)
    psi += 0.5 * model.lam * (a**2 + s**2 + r**2)
    logw = log_reference(model, grids) - model.beta * psi
    p = np.exp(logw - logw.max())
    return p / p.sum()


def relative_entropy(m, p):
    pos = m > 0
    return float(np.sum(m[pos] * np.log(m[pos] / p[pos])))


def gibbs_fixed_point(model, grids, start, tol=1e-15, damping=0.3, max_iter=20_000):
    """Damped fixed-point iteration ``m ← (1 − θ) m + θ p(m)`` on the grid (no time stepper)."""
    masses = start.copy()
    for _ in range(max_iter):
        new = (1.0 - damping) * masses + damping * proximal_gibbs(model, grids, masses)
        if np.abs(new - masses).max() < tol:
            return new
        masses = new
    raise AssertionError("fixed-point iteration did not converge")


def test_the_recorded_free_energy_is_the_objective_with_the_jacobian(model, grids, start, run):
    assert run.free_energy[0] == pytest.approx(objective(model, grids, start), rel=1e-12)
    assert run.free_energy[-1] == pytest.approx(objective(model, grids, run.masses),
                                                rel=1e-12)
    # the entropy with the Jacobian matters: without r^{d−k−1} the value differs by
    # β⁻¹ (d−k−1) Σ m log r
    _, _, r = _centres(grids)
    shift = (model.d - 2.0) * np.sum(start * np.log(r)) / model.beta
    assert abs(shift) > 1e-2


def test_the_recorded_gap_is_the_relative_entropy_to_the_proximal_gibbs_law(model, grids,
                                                                           start, run):
    expected = relative_entropy(start, proximal_gibbs(model, grids, start)) / model.beta
    assert run.gibbs_gap[0] == pytest.approx(expected, rel=1e-10)
    assert run.gibbs_gap[0] > 0.1  # measured 0.207


def test_the_gap_of_the_discrete_gibbs_fixed_point_is_zero_to_round_off(model, grids, start,
                                                                        run):
    star = gibbs_fixed_point(model, grids, start)
    disc = MultiIndexGridFeatures(model, *grids)
    # measured: gap −3e-17; the run's end lies 9e-14 (max norm) from it
    assert abs(disc.gibbs_gap(star)) < 1e-15
    # with ξ_a ≠ ξ_w the run still ends there: both layers diffuse at temperature 1/β
    np.testing.assert_allclose(run.masses, star, atol=1e-12, rtol=0)
    # and the fixed point is not trivial: the Gibbs law of the initial potential is far off
    assert np.abs(proximal_gibbs(model, grids, start) - star).max() > 1e-3


def test_the_objective_never_rises(run):
    # the discrete free energy β𝓛 is a Lyapunov functional of the SG scheme; measured
    # largest rise between output times: 4.4e-16 (𝓛 falls from 1.364 to 1.171)
    assert np.diff(run.free_energy).max() <= 1e-14
    assert run.free_energy[0] - run.free_energy[-1] > 0.1


def test_the_gap_bounds_the_suboptimality_against_a_converged_long_run(run):
    objective_t, gap = run.free_energy, run.gibbs_gap
    assert abs(gap[-1]) < 1e-15  # the run has converged (gap 1.6e-17): q* = its end state
    suboptimality = objective_t - objective_t[-1]
    assert np.all(gap >= suboptimality - 1e-14)
    # measured: gap − suboptimality ≥ −2.6e-16; certificate / suboptimality between 1.07
    # and 1.10 at the 19 output times where the latter exceeds 1e-10
    above = suboptimality > 1e-10
    assert above.sum() >= 10
    ratio = gap[above] / suboptimality[above]
    assert ratio.min() >= 1.0 and ratio.max() < 1.5


def test_the_proposition_holds_on_the_grid_against_any_law(model, grids, start):
    # 𝓛(m) − 𝓛(m') ≤ β⁻¹KL(m‖p(m)) − β⁻¹KL(m'‖p(m)) for every m' (F convex in m): here for
    # m = the start and random m', and F's convexity along the segments
    rng = np.random.default_rng(0)
    p = proximal_gibbs(model, grids, start)
    gap = relative_entropy(start, p) / model.beta
    disc = MultiIndexGridFeatures(model, *grids)
    for _ in range(5):
        other = rng.random(start.shape) * p + 0.1 * p.max() * rng.random(start.shape) ** 8
        other /= other.sum()
        bound = gap - relative_entropy(other, p) / model.beta
        assert objective(model, grids, start) - objective(model, grids, other) <= bound + 1e-13
        middle = disc.energy(0.5 * (start + other))
        assert middle <= 0.5 * (disc.energy(start) + disc.energy(other)) + 1e-14


def test_the_gap_decays_exponentially(run):
    gap = run.gibbs_gap
    above = gap > 1e-12
    assert np.all(np.diff(gap[above]) < 0)
    rate, t_first, t_last = fit_gap_rate(run.t, gap)
    # measured 2.18 on t ∈ [0.5, 11] (1.76 with ξ_a = ξ_w = 1: the rate depends on the
    # layer rates, the limit does not)
    assert 1.5 < rate < 3.0
    assert t_last - t_first > 5.0


def test_noiseless_runs_record_the_entropy_free_part_and_no_gap(grids, start):
    cold = MultiIndexModel(get_activation("relu"), HermiteTarget(TARGET), GaussianLatent(1, 8),
                           lam=LAM)
    res = solve_multiindex_fv(cold, *grids, start, [0.0, 0.05], boundary_tol=1e-6)
    assert res.gibbs_gap is None
    a, s, r = _centres(grids)
    risk = cold.risk(a.ravel(), s.reshape(-1, 1), r.ravel(), start.ravel())
    energy = 0.5 * risk + 0.5 * LAM * np.sum(start * (a**2 + s**2 + r**2))
    assert res.free_energy[0] == pytest.approx(energy, rel=1e-12)
    with pytest.raises(ValueError, match="noiseless"):
        MultiIndexGridFeatures(cold, *grids).log_reference()


FV_NOISY = {"solver": "fv", "beta": 20.0, "lam": 1.0, "t_max": 3.0, "n_times": 20,
            "fv_cells_a": 24, "fv_cells_s": 24, "fv_cells_r": 16}


def test_the_scenario_records_both_series_and_the_command_prints_the_rate(capsys):
    short = dict(FV_NOISY, t_max=0.3, n_times=4)
    pde = api.run_pde("single-index-quick", short, progress=False).pde
    assert pde.extra["free_energy"].shape == pde.extra["gibbs_gap"].shape == pde.t.shape
    assert np.all(pde.extra["gibbs_gap"] > 0)
    args = ["pde", "single-index-quick", "-q"]
    for key, value in FV_NOISY.items():
        args += ["-p", f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"]
    assert main(args) == 0
    # measured: end gap 4.9e-6, fitted rate 2.30 on t ∈ [0.6, 3]
    assert "fitted rate" in capsys.readouterr().out
