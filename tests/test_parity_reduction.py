"""The parity MFLD model in the registry: scenarios, validate, the CLI, bad input, and the
reduced Langevin particles (u, r, x2, x3)."""

import numpy as np
import pytest

from reducedpde import api
from reducedpde.cli import main
from reducedpde.models import build_model, get_model
from reducedpde.models.parity import ParityDivergenceError, validate_parity
from reducedpde.models.parity.reduced import (
    initial_reduced_state,
    reduced_drift,
    reduced_mean_field,
    simulate_reduced_parity,
)
from reducedpde.models.parity.reduction import ParityReduction
from reducedpde.scenarios import get_scenario, resolve
from reducedpde.solvers.particles.summaries import SGDDivergenceError

QUICK = "parity-mfld-quick"


def test_the_parity_scenarios_resolve_to_the_registered_model():
    cfg = resolve("parity-mfld")
    assert get_model(cfg.model) is ParityReduction
    assert (cfg["d"], cfg["n"], cfg["M"], cfg["eta"], cfg["Rbar"], cfg["lam_prime"],
            cfg["lam0"], cfg["rounds"], cfg["round_steps"]) == (20, 500, 1000, 0.05, 15.0,
                                                                 0.1, 0.1, 6, 1000)
    assert "seed 000" in get_scenario("parity-mfld").source
    assert resolve(QUICK)["d"] == 10


def test_output_times_are_whole_steps_and_round_ends():
    model = build_model(resolve(QUICK))
    times, snaps = model.output_times()
    eps = 0.05 / 2
    np.testing.assert_allclose(times, np.arange(0, 2001, 250) * eps)
    np.testing.assert_allclose(snaps, np.arange(0, 2001, 500) * eps)


def test_validate_runs_on_the_quick_scenario_and_passes():
    """Measured: sup_t |R_sgd − R_reduced| = 0.054 (test loss, finite n = 200 against the
    population dynamics), tolerance 0.72."""
    result = api.validate(QUICK, progress=False)
    assert result.pde.attrs["model"] == "parity-mfld reduced"
    assert result.comparison.metrics["sup_risk"] < 0.1
    assert result.comparison.metrics["mmn18_passed"]


@pytest.mark.parametrize(("name", "value", "text"), [
    ("lam0", 0.0, "'lam0'"), ("rounds", 0, "'rounds'"), ("n", 0, "'n'"), ("k", 11, "'k'"),
    ("Rbar", 0.0, "'Rbar'"), ("eta", -0.1, "'eta'"),
])
def test_bad_input_gives_one_error_naming_the_parameter(name, value, text):
    with pytest.raises(ValueError, match=text):
        resolve(QUICK, {name: value})


def test_cli_sgd_info_plot_on_the_quick_scenario(tmp_path, capsys):
    out = tmp_path / "x.h5"
    assert main(["list", QUICK]) == 0
    assert main(["sgd", QUICK, "-q", "-o", str(out)]) == 0
    assert main(["info", str(out)]) == 0
    assert main(["plot", str(out), "-o", str(tmp_path / "x.png")]) == 0
    text = capsys.readouterr().out
    assert "scenario: parity-mfld-quick" in text and (tmp_path / "x.png").exists()


def test_cli_validate_prints_the_parity_parameters_and_the_mmn18_scale(capsys):
    """One seed gives no standard error: the verdict is inconclusive (exit status 1), the
    gap is within the MMN18 scale (0.054 against 0.72)."""
    assert main(["validate", QUICK, "-q"]) == 1
    text = capsys.readouterr().out
    assert "parity-mfld-quick: d=10, k=2, n=200" in text and "INCONCLUSIVE" in text
    assert "MMN18 bound (information): within" in text


def test_cli_bad_parameter_exits_2_with_one_line(capsys):
    assert main(["sgd", QUICK, "-q", "-p", "rounds=0"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'rounds'" in err


def test_the_divergence_error_is_an_sgd_divergence_error():
    """A step η far above 1/c drives the weights geometrically to overflow."""
    with pytest.raises(SGDDivergenceError) as info:
        api.run_sgd(QUICK, {"eta": 10.0, "lam0": 100.0, "rounds": 1, "round_steps": 2000},
                    progress=False)
    assert isinstance(info.value, ParityDivergenceError)
    assert "advice" in str(info.value) and info.value.partial is not None


def test_cli_reports_divergence_with_exit_1_and_saves_the_partial_run(tmp_path, capsys):
    out = tmp_path / "div.h5"
    code = main(["sgd", QUICK, "-q", "-p", "eta=10", "-p", "lam0=100", "-p", "rounds=1",
                 "-p", "round_steps=2000", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "diverged at step" in err and "advice" in err and out.exists()


def test_reduced_drift_is_the_gradient_of_the_population_loss():
    """Central differences (h = 1e-6) of M·L in one particle's coordinates; measured
    relative error ≤ 7e-7."""
    cfg = validate_parity({"d": 12, "M": 7, "Rbar": 3.0})
    state = initial_reduced_state(cfg, np.random.default_rng(3))

    def loss():
        f, _, _ = reduced_mean_field(state, cfg["Rbar"])
        return np.mean(np.logaddexp(0.0, -state.labels * f))

    gU, gr, g2, g3, _ = reduced_drift(state, cfg["Rbar"])
    j, h = 3, 1e-6
    for attr, idx, grad in [("U", (j, 0), gU[j, 0]), ("U", (j, 1), gU[j, 1]),
                            ("r", j, gr[j]), ("x2", j, g2[j]), ("x3", j, g3[j])]:
        a = getattr(state, attr)
        a0 = a[idx]
        a[idx] = a0 + h
        up = loss()
        a[idx] = a0 - h
        down = loss()
        a[idx] = a0
        assert abs(state.M * (up - down) / (2 * h) - grad) <= 1e-5 * abs(grad)


def test_reduced_radius_samples_the_gibbs_law_of_the_prior():
    """Data term off (R̄ = 1e-12): the discrete chain's stationary law of x_⊥ is
    N(0, v I_{d−k}), v = λ/(2c(1 − ηc)), c = λλ' (λ = 1, λ' = 0.1, η = 0.05), so r is
    √v·χ_{d−k} (mean 15.45 at d = 50). Standard error of the mean of r over M = 2000:
    0.23%; measured +0.55% (seed 0), within 0.4% for seeds 1–4; asserted 1.5%."""
    from scipy.special import gammaln

    d, k = 50, 2
    res = simulate_reduced_parity({"d": d, "k": k, "M": 2000, "Rbar": 1e-12, "lam0": 1.0,
                                   "rounds": 1, "round_steps": 1500, "record_every": 1500},
                                  progress=False, quad_nodes=2)
    m, v = d - k, 1.0 / (2 * 0.1 * (1 - 0.05 * 0.1))
    chi_mean = np.sqrt(2 * v) * np.exp(gammaln((m + 1) / 2) - gammaln(m / 2))
    assert abs(res.extra["irrelevant_norm"][-1] - chi_mean) < 0.015 * chi_mean


def test_reduced_particles_cost_does_not_depend_on_d():
    """d = 10^4 runs with the same arrays as d = 10 (nothing of size d is allocated)."""
    res = simulate_reduced_parity({"d": 10_000, "M": 50, "rounds": 2, "round_steps": 20,
                                   "record_every": 20}, progress=False)
    assert np.isfinite(res.risk).all() and res.extra["irrelevant_norm"][0] > 90


def test_reduced_population_loss_matches_the_hypercube_average():
    """M = 4000 particles with Gaussian (rotation-invariant) irrelevant weights: the exact
    population loss over the 2^12 hypercube points against the reduced mean-field loss
    (Gaussian approximation of z_⊥·x_⊥). Measured differences 8.2e-4, 3.7e-4, 4.3e-4 at
    d = 8, 12, 16 (approximation plus the finite-M roughness of the full network)."""
    from reducedpde.models.parity import hypercube_points, network_output, parity_labels
    from reducedpde.models.parity.reduced import ReducedParityState

    d, k, M = 12, 2, 4000
    rng = np.random.default_rng(1)
    X = rng.standard_normal((M, d + 2))
    X[:, :k] *= 3.0
    X[:, d] += 0.5
    z = hypercube_points(d)
    y = parity_labels(z, k)
    full = np.mean(np.logaddexp(0.0, -y * network_output(X, z, 15.0)))
    state = ReducedParityState(X[:, :k], np.linalg.norm(X[:, k:d], axis=1), X[:, d],
                               X[:, d + 1], d)
    f, _, _ = reduced_mean_field(state, 15.0)
    reduced = np.mean(np.logaddexp(0.0, -state.labels * f))
    assert abs(reduced - full) < 1e-3


def test_population_risk_is_the_exact_test_loss_of_the_final_particles():
    """parity-mfld-quick has d = 10: its test set is the whole hypercube."""
    result = api.run_sgd(QUICK, progress=False)
    model = build_model(resolve(QUICK))
    risk = model.population_risk(result.sgd.extra["final_weights"][0])
    assert risk == pytest.approx(result.sgd.risk[0, -1], rel=1e-12)
