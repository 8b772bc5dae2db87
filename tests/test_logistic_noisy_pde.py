"""The noisy (Langevin, β < ∞) radial PDE with the logistic loss: the Scharfetter–Gummel
steppers with the potential ψ_λ = Φ/2 + λr²/2 of the logistic first variation
(``LogisticPotential``), its free energy and Gibbs-gap certificate (docs/logistic.md).

Problem: d = 20, Δ = 0.5, κ = 0.5, λ = 0.1, β = 50, MMN18 activation, 200 graded cells,
t ≤ 40. Measured: the end states of implicit Euler, TR-BDF2 and ESDIRK4 lie 5.9e-8,
2.8e-10, 9.2e-10 (L1) from an independent damped fixed-point solve of m = p(m), with gaps
3.5e-16, −4.6e-17, −2.6e-17 there; the free energy falls from 0.7471 to 0.0984 with no rise
above 7.4e-17 (relative); gap − (L(q_t) − L(q_end)) ≥ −8.7e-16. With β = 1e5 on 800 cells
the logistic loss stays within 1.4e-3 of the noiseless run for t ≤ 2 (2.8e-3 on 400 cells,
6.7e-4 on 1600: the first-order upwinding of the Scharfetter–Gummel flux at large Péclet
numbers; β = 1e7 gives the same numbers to 1e-4).
"""

import numpy as np
import pytest

from reducedpde import api
from reducedpde.cli import main
from reducedpde.models import build_model
from reducedpde.scenarios import resolve

BETA, LAM, D = 50.0, 0.1, 20
PARAMS = {"loss": "logistic", "beta": BETA, "lam": LAM, "d": D, "kappa": 0.5, "cells": 200,
          "t_max": 40.0, "t_min": 0.01, "n_times": 40, "error_estimate": "none",
          "kernel_tol": 1e-8}
STEPPERS = ("implicit-euler", "trbdf2", "esdirk4")


@pytest.fixture(scope="module")
def setting():
    """The reduction, its grid and the plain-NumPy pieces of the logistic potential."""
    reduction = build_model(resolve("gaussians", PARAMS))
    grid = reduction.grid()
    classifier = reduction.classifier()
    r = grid.centres
    K = classifier.output_matrix(r)
    log_reference = np.log(grid.widths) + (D - 1) * np.log(r)
    return reduction, grid, classifier, K, log_reference


@pytest.fixture(scope="module")
def runs():
    return {stepper: api.run_pde("gaussians", {**PARAMS, "stepper": stepper},
                                 progress=False).pde for stepper in STEPPERS}


def _psi(classifier, K, r, masses):
    """``ψ_λ = Φ/2 + λr²/2`` with ``Φ(r_j) = Σ_q c_q K_qj``, ``c = loss_coefficients(K m)``."""
    return 0.5 * (classifier.loss_coefficients(K @ masses) @ K) + 0.5 * LAM * r**2


def _gibbs(classifier, K, r, log_reference, masses):
    logits = log_reference - BETA * _psi(classifier, K, r, masses)
    p = np.exp(logits - logits.max())
    return p / p.sum()


def _free_energy(classifier, K, grid, masses):
    """``½ L + (λ/2) Σ m r² + β⁻¹ Σ m log(m / (h r^{d−1}))``, ``L = ½ Σ_q ω_q ℓ(y_q f_q)``."""
    r = grid.centres
    margins = classifier.labels * (K @ masses)
    loss = 0.5 * np.sum(classifier.weights * np.logaddexp(0.0, -margins))
    pos = masses > 0
    m = masses[pos]
    entropy = np.sum(m * (np.log(m) - np.log(grid.widths[pos]) - (D - 1) * np.log(r[pos])))
    return 0.5 * loss + 0.5 * LAM * masses @ r**2 + entropy / BETA


@pytest.fixture(scope="module")
def fixed_point(setting):
    """The discrete Gibbs state by the damped iteration ``m ← ½ m + ½ p(m)`` from the
    initial law (no time stepper)."""
    reduction, grid, classifier, K, log_reference = setting
    m = reduction.initial_masses(grid)
    m = m / m.sum()
    for _ in range(2000):
        new = _gibbs(classifier, K, grid.centres, log_reference, m)
        change = np.abs(new - m).sum()
        m = 0.5 * m + 0.5 * new
        if change < 1e-15:
            break
    assert change < 1e-14
    return m


@pytest.mark.parametrize("stepper", STEPPERS)
def test_the_long_time_state_is_the_discrete_gibbs_state(setting, runs, fixed_point, stepper):
    run = runs[stepper]
    end = run.cell_masses[-1]
    assert np.abs(end / end.sum() - fixed_point).sum() <= 1e-6  # measured 5.9e-8 … 2.8e-10
    assert run.extra["gibbs_gap"][-1] <= 1e-10  # measured ≤ 3.5e-16
    # the mean-field dynamics has learned: the classes are separated
    assert run.extra["classification_error"][-1] < 1e-3


@pytest.mark.parametrize("stepper", STEPPERS)
def test_the_free_energy_never_rises(runs, stepper):
    energy = runs[stepper].extra["free_energy"]
    assert energy[-1] < energy[0] - 0.5  # 0.747 → 0.098
    assert np.diff(energy).max() <= 1e-12 * np.abs(energy).max()  # measured ≤ 7.4e-17


@pytest.mark.parametrize("stepper", STEPPERS)
def test_the_gap_bounds_the_suboptimality(runs, stepper):
    energy, gap = runs[stepper].extra["free_energy"], runs[stepper].extra["gibbs_gap"]
    assert np.all(gap >= energy - energy[-1] - 1e-14)  # measured ≥ −8.7e-16
    assert gap[0] > 0.5


def test_the_recorded_free_energy_and_gap_against_numpy(setting):
    """At every snapshot time: the recorded ``free_energy`` is the grid objective with the
    logistic loss and the radial Jacobian, and ``gibbs_gap`` is ``β⁻¹ KL(m ‖ p(m))``
    (measured: equal to 2e-16 and 9e-16 relative)."""
    _, grid, classifier, K, log_reference = setting
    run = api.run_pde("gaussians", {**PARAMS, "t_max": 2.0, "n_times": 12, "n_snapshots": 5},
                      progress=False).pde
    assert run.snapshot_times.size >= 4
    for k, ts in enumerate(run.snapshot_times):
        i = int(np.searchsorted(run.t, ts))
        masses = run.cell_masses[k]
        expected = _free_energy(classifier, K, grid, masses)
        assert run.extra["free_energy"][i] == pytest.approx(expected, rel=1e-11, abs=1e-13)
        p = _gibbs(classifier, K, grid.centres, log_reference, masses)
        pos = masses > 0
        kl = np.sum(masses[pos] * np.log(masses[pos] / p[pos]))
        assert run.extra["gibbs_gap"][i] == pytest.approx(kl / BETA, rel=1e-9, abs=1e-13)


def test_small_noise_follows_the_noiseless_logistic_run():
    """β = 1e5 against β = ∞ on 800 cells, t ≤ 2 (the loss falls from 0.88 to 0.35): the
    logistic loss within 2e-3 (measured 1.4e-3) and the square risk within 1e-2 (6.1e-3)
    at every output time; the difference is the scheme's, halving with the cell width."""
    common = {**PARAMS, "cells": 800, "t_max": 2.0, "t_min": 0.05, "n_times": 12}
    noiseless = api.run_pde("gaussians", {**common, "beta": float("inf")}, progress=False).pde
    noisy = api.run_pde("gaussians", {**common, "beta": 1e5, "stepper": "trbdf2",
                                      "step_tol": 1e-5}, progress=False).pde
    loss = noiseless.extra["logistic_loss"]
    assert loss[0] - loss[-1] > 0.5
    np.testing.assert_allclose(noisy.extra["logistic_loss"], loss, rtol=0, atol=2e-3)
    np.testing.assert_allclose(noisy.risk, noiseless.risk, rtol=0, atol=1e-2)


@pytest.mark.parametrize("beta", ["0", "-1"])
def test_a_non_positive_beta_is_refused_naming_the_parameter(beta, capsys):
    with pytest.raises(ValueError, match=r"parameter 'beta' must be float in \(0"):
        api.run_pde("gaussians", {"loss": "logistic", "beta": float(beta), "d": D},
                    progress=False)
    assert main(["pde", "gaussians", "-q", "-p", "loss=logistic", "-p", f"beta={beta}"]) != 0
    assert "parameter 'beta'" in capsys.readouterr().err
