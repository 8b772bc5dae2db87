"""Sparse-parity mean-field Langevin dynamics (seed 000): kernels, objective, runs."""

import signal

import numpy as np
import pytest

from reducedpde import io
from reducedpde.checkpointing import Checkpointing
from reducedpde.models.parity import (
    PARITY_PARAMETERS,
    ParityDivergenceError,
    code_work_arrays,
    drift_numpy,
    evaluate,
    evaluate_codes,
    fast_tanh,
    hypercube_points,
    make_parity_data,
    mfld_step_numpy,
    mfld_steps,
    mfld_steps_hypercube,
    network_output,
    objective_numpy,
    parity_labels,
    prior_coefficient,
    round_end_summary,
    sign_codes,
    simulate_parity_mfld,
    validate_parity,
    work_arrays,
)
from reducedpde.models.parity.kernels import block_bits_for
from reducedpde.results import RunResult

# d = 10 (test set: the whole hypercube), 4 rounds of 500 steps: under a second
SMALL = {"d": 10, "n": 200, "M": 200, "rounds": 4, "round_steps": 500, "record_every": 250}


def _problem(d=6, k=2, n=40, M=7, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    data = make_parity_data(d, k, n, rng)
    X = scale * rng.standard_normal((M, d + 2))
    return data, X, rng


def _kernel_steps(X, data, noise, lams, eta=0.05, Rbar=15.0, lam_prime=0.1, prior="scaled"):
    X = X.copy()
    work = work_arrays(X.shape[0], data.y_train.size, data.d)
    bad = mfld_steps(X, data.z_train, data.y_train, noise, lams, eta, Rbar, lam_prime,
                     prior == "scaled", *work)
    assert bad == -1
    return X


# -- data ------------------------------------------------------------------------------


def test_labels_are_the_parity_of_the_first_k_coordinates():
    z = hypercube_points(4)
    y = parity_labels(z, 2)
    np.testing.assert_array_equal(y, np.sign(z[:, 0] * z[:, 1]))
    assert np.all(np.abs(z) == 0.5)  # entries ±1/√d


def test_test_set_is_the_whole_hypercube_when_small():
    data = make_parity_data(10, 2, 50, np.random.default_rng(0), n_test=10_000)
    assert data.test_exact and data.z_test.shape == (1024, 10)
    big = make_parity_data(20, 2, 50, np.random.default_rng(0), n_test=10_000)
    assert not big.test_exact and big.z_test.shape == (10_000, 20)


# -- kernels against the NumPy reference -----------------------------------------------


def test_fast_tanh_is_within_a_few_ulp_of_numpy():
    x = np.concatenate([np.linspace(-30, 30, 200_001), np.logspace(-300, 1.3, 2000),
                        -np.logspace(-300, 1.3, 2000), [0.0]])
    out = np.array([fast_tanh(v) for v in x[::50]] + [fast_tanh(v) for v in x[-4001:]])
    ref = np.tanh(np.concatenate([x[::50], x[-4001:]]))
    rel = np.abs(out - ref) / np.maximum(np.abs(ref), np.finfo(float).tiny)
    assert rel.max() < 2e-15  # measured 8.9e-16 (4 ulp)


@pytest.mark.parametrize("prior", ["scaled", "fixed"])
def test_kernel_steps_equal_the_numpy_reference_with_the_same_noise(prior):
    data, X, rng = _problem()
    lams = np.array([0.1, 0.1, 0.05, 0.05, 0.025])  # a temperature change inside the call
    noise = rng.standard_normal((lams.size, *X.shape))
    ref = X.copy()
    for s, lam in enumerate(lams):
        ref = mfld_step_numpy(ref, data.z_train, data.y_train, noise[s], lam, 0.05, 15.0,
                              0.1, prior)
    out = _kernel_steps(X, data, noise, lams, prior=prior)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_sign_codes_recover_the_inputs_block_by_block():
    data, _, _ = _problem(d=13, n=60)
    codes, starts, scale = sign_codes(data.z_train, block_bits=5)
    assert list(starts) == [0, 5, 10, 13] and scale == 1 / np.sqrt(13)
    rebuilt = np.empty_like(data.z_train)
    for block in range(codes.shape[1]):
        for k, q in enumerate(range(starts[block], starts[block + 1])):
            rebuilt[:, q] = scale * (2 * ((codes[:, block] >> k) & 1) - 1)
    assert np.array_equal(rebuilt, data.z_train)


@pytest.mark.parametrize("Z, message", [
    (np.array([[0.5, -0.5], [0.5, 0.25]]), "'Z' must have every entry equal to"),
    (np.zeros((2, 3)), "'Z' must have every entry equal to"),
    (np.ones(3), "'Z' must be a 2-d array"),
])
def test_sign_codes_refuse_inputs_off_the_hypercube(Z, message):
    with pytest.raises(ValueError, match=message):
        sign_codes(Z)


def test_block_bits_are_checked_and_chosen_within_range():
    data, _, _ = _problem(d=6)
    with pytest.raises(ValueError, match="'block_bits' must be an int in \\[1, 12\\]"):
        sign_codes(data.z_train, block_bits=13)
    assert block_bits_for(500, 20) == 5 and block_bits_for(40, 2) == 2
    assert block_bits_for(1, 20) == 1


@pytest.mark.parametrize("d, bits", [(2, None), (6, None), (13, 5), (13, 3), (20, None)])
@pytest.mark.parametrize("prior", ["scaled", "fixed"])
def test_sign_code_kernel_steps_equal_the_product_kernel(d, bits, prior):
    data, X, rng = _problem(d=d, n=70, M=11)
    lams = np.array([0.1, 0.05, 0.05, 0.025])
    noise = rng.standard_normal((lams.size, *X.shape))
    codes, starts, scale = sign_codes(data.z_train, block_bits=bits)
    out = X.copy()
    work = (*work_arrays(X.shape[0], data.y_train.size, d),
            *code_work_arrays(X.shape[0], starts))
    bad = mfld_steps_hypercube(out, codes, starts, scale, data.y_train, noise, lams, 0.05,
                               15.0, 0.1, prior == "scaled", *work)
    assert bad == -1
    ref = _kernel_steps(X, data, noise, lams, prior=prior)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-13 * np.abs(ref).max())


def test_sign_code_evaluation_equals_the_product_evaluation():
    data, X, _ = _problem(d=10, n=300, M=23)
    codes, starts, scale = sign_codes(data.z_test, block_bits=4)
    X1T, x2, U = work_arrays(X.shape[0], 100, data.d)[:3]  # 100-row blocks of 1024
    T = code_work_arrays(X.shape[0], starts)[0]
    f_codes = np.empty(data.z_test.shape[0])
    got = evaluate_codes(X, codes, starts, scale, data.y_test, 15.0, X1T, x2, T, U, f_codes)
    f_blas = np.empty_like(f_codes)
    expected = evaluate(X, data.z_test, data.y_test, 15.0, X1T, x2, U, f_blas)
    np.testing.assert_allclose(f_codes, network_output(X, data.z_test, 15.0), rtol=0,
                               atol=1e-13)
    assert got[1] == expected[1] and abs(got[0] - expected[0]) < 1e-14


def test_drift_is_the_particle_gradient_of_the_objective():
    # F_M(x_1 … x_M) = L(μ_M) + c ∫‖x‖² dμ_M has ∂F_M/∂x_j = (1/M) ∇(δF/δμ)(x_j)
    data, X, _ = _problem(M=5)
    c = prior_coefficient(0.07, 0.1, "scaled")
    drift = drift_numpy(X, data.z_train, data.y_train, 15.0, c)
    h = 1e-6
    fd = np.empty_like(X)
    for idx in np.ndindex(X.shape):
        up, down = X.copy(), X.copy()
        up[idx] += h
        down[idx] -= h
        fd[idx] = (objective_numpy(up, data.z_train, data.y_train, 15.0, c)
                   - objective_numpy(down, data.z_train, data.y_train, 15.0, c)) / (2 * h)
    np.testing.assert_allclose(X.shape[0] * fd, drift, rtol=1e-6, atol=1e-8)


def test_without_noise_the_objective_decreases_at_every_step():
    data, X, _ = _problem(d=8, n=60, M=20)
    lam, c = 0.05, prior_coefficient(0.05, 0.1, "scaled")
    values = [objective_numpy(X, data.z_train, data.y_train, 15.0, c)]
    zero = np.zeros((1, *X.shape))
    for _ in range(200):
        X = _kernel_steps(X, data, zero, np.array([lam]))
        values.append(objective_numpy(X, data.z_train, data.y_train, 15.0, c))
    assert np.all(np.diff(values) < 0)
    assert values[-1] < values[0] - 0.05


def test_network_output_is_zero_for_particles_at_the_origin():
    data, X, _ = _problem()
    assert np.all(network_output(np.zeros_like(X), data.z_test, 15.0) == 0)


# -- parameters ------------------------------------------------------------------------


def test_parameter_table_has_the_parity_mfld_defaults():
    defaults = {name: p.default for name, p in PARITY_PARAMETERS.items()}
    assert {k: defaults[k] for k in ("d", "k", "n", "M", "eta", "Rbar", "lam_prime", "lam0",
                                     "rounds", "round_steps", "prior")} == {
        "d": 20, "k": 2, "n": 500, "M": 1000, "eta": 0.05, "Rbar": 15.0, "lam_prime": 0.1,
        "lam0": 0.1, "rounds": 6, "round_steps": 1000, "prior": "scaled"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"lam0": 0}, r"parameter 'lam0' must be float in \(0, 1e\+06\]"),
        ({"lam0": -1}, r"parameter 'lam0' must be float in \(0, "),
        ({"rounds": 0}, r"parameter 'rounds' must be int in \[1, 200\]"),
        ({"n": 0}, r"parameter 'n' must be int in \[1, "),
        ({"d": 5, "k": 6}, r"parameter 'k' must be an int in \[1, d=5\], got 6"),
        ({"Rbar": 0}, r"parameter 'Rbar' must be float in \(0, "),
        ({"eta": 0}, r"parameter 'eta' must be float in \(0, 10\]"),
        ({"eta": -0.1}, r"parameter 'eta' must be float in \(0, 10\]"),
        ({"prior": "gaussian"}, r"parameter 'prior' must be one of scaled, fixed"),
        ({"lam": 0.1}, r"unknown parameter 'lam' .*did you mean 'lam0'"),
    ],
)
def test_bad_input_names_the_parameter_and_its_range(values, message):
    with pytest.raises(ValueError, match=message):
        validate_parity(values)


def test_bad_initial_particles_are_refused():
    with pytest.raises(ValueError, match=r"parameter 'initial' must be a finite array of "
                                         r"shape \(M, d \+ 2\) = \(200, 12\)"):
        simulate_parity_mfld(SMALL, initial=np.zeros((200, 10)), progress=False)


def test_divergence_reports_step_cause_and_advice_and_keeps_the_partial_result():
    # fixed prior, ηc = 0.1·30 = 3: each step multiplies the weights by 1 − 2ηc = −5
    cfg = {**SMALL, "prior": "fixed", "lam_prime": 30.0, "eta": 0.1, "rounds": 1,
           "round_steps": 1000, "record_every": 1000}
    with pytest.raises(ParityDivergenceError) as info:
        simulate_parity_mfld(cfg, progress=False)
    err = info.value
    assert 430 < err.step < 460  # 5^k |x| passes the float64 maximum 1.8e308 near k = 441
    text = str(err)
    assert f"diverged at step {err.step}" in text
    assert "a particle coordinate became non-finite" in text
    assert "cause: the prior term multiplies the weights by 1 − 2ηc = -5" in text
    assert "advice: reduce eta below 1/c = 0.03333" in text
    np.testing.assert_array_equal(err.partial.extra["steps"], [0])
    assert err.partial.attrs["diverged"] == text


def test_overflowing_observables_at_a_recording_are_reported_as_divergence():
    # same instability; at step 300 the weights (~5^300) are finite but ‖x‖² overflows
    cfg = {**SMALL, "prior": "fixed", "lam_prime": 30.0, "eta": 0.1, "record_every": 100}
    with pytest.raises(ParityDivergenceError, match=r"diverged at step 300 .*: the weights "
                                                    "overflowed") as info:
        simulate_parity_mfld(cfg, progress=False)
    np.testing.assert_array_equal(info.value.partial.extra["steps"], [0, 100, 200])


# -- runs ------------------------------------------------------------------------------


def test_small_run_learns_xor():
    result = simulate_parity_mfld(SMALL, progress=False)
    rounds = round_end_summary(result)
    assert [r["temperature"] for r in rounds] == [0.1, 0.05, 0.025, 0.0125]
    assert result.attrs["test_exact"]
    # measured final test errors over seeds 0–5: 0.0195, 0, 0.0078, 0.0146, 0.001, 0.0088
    assert rounds[-1]["test_error"] < 0.05
    assert rounds[0]["test_error"] > 0.2  # not yet learned in the hot first round
    # the relevant weights grow, the irrelevant ones stay
    assert rounds[-1]["relevant_norm"] > 1.5 * result.extra["relevant_norm"][0, 0]


def test_fixed_prior_learns_nothing_even_from_a_solution():
    # d = 10: δ_0 (f ≡ 0) minimises L + λ'∫‖x‖² for λ' ≥ 0.0697 (docs/mfld.md); λ' = 0.1
    solved = simulate_parity_mfld(SMALL, progress=False)
    assert solved.extra["test_error"][0, -1] < 0.05
    start = solved.extra["final_weights"][0]
    fixed = simulate_parity_mfld({**SMALL, "prior": "fixed"}, initial=start, progress=False)
    errors = [r["test_error"] for r in round_end_summary(fixed)]
    # measured from random starts, seeds 0–5: final test errors 0.486–0.505
    assert min(errors[1:]) > 0.4
    assert fixed.extra["test_output_rms"][0, -1] < 0.5 * solved.extra["test_output_rms"][0, -1]


def _assert_same_run(a, b):
    for name in ("t", "risk", "mean_norm", "snapshot_times", "histograms", "hist_edges"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert set(a.extra) == set(b.extra)
    for name in a.extra:
        np.testing.assert_array_equal(a.extra[name], b.extra[name])


def test_resume_from_a_signal_stop_is_bit_identical(tmp_path):
    cfg = {**SMALL, "rounds": 2, "round_steps": 300, "record_every": 70}
    whole = simulate_parity_mfld(cfg, progress=False)
    saves = []

    def save(state, partial):
        saves.append(state)
        if len(saves) == 3:
            signal.raise_signal(signal.SIGINT)  # deferred: the run stops at the next pause

    stopped = simulate_parity_mfld(cfg, progress=False,
                                   checkpointing=Checkpointing(every_s=0.0, save=save))
    assert stopped.attrs["interrupted"] and stopped.checkpoint is not None
    assert 0 < stopped.checkpoint["step"] < 600
    # through an HDF5 file, as the command line stores it
    path = tmp_path / "stopped.h5"
    io.save(RunResult("parity-mfld", cfg, sgd=stopped), path)
    state = io.load(path).sgd.checkpoint
    resumed = simulate_parity_mfld(cfg, progress=False,
                                   checkpointing=Checkpointing(resume=state))
    assert not resumed.attrs["interrupted"]
    _assert_same_run(whole, resumed)


def test_resume_with_other_parameters_is_refused():
    cfg = {**SMALL, "rounds": 1, "round_steps": 100}
    saves = []
    keep = Checkpointing(every_s=0.0, save=lambda state, partial: saves.append(state))
    simulate_parity_mfld(cfg, progress=False, checkpointing=keep)
    with pytest.raises(ValueError, match=r"other parameters: eta=0.05 \(now 0.04\)"):
        simulate_parity_mfld({**cfg, "eta": 0.04}, progress=False,
                             checkpointing=Checkpointing(resume=saves[0]))


def test_result_round_trips_through_hdf5(tmp_path):
    cfg = {**SMALL, "rounds": 2, "round_steps": 100, "record_every": 50}
    result = simulate_parity_mfld(cfg, progress=False)
    path = tmp_path / "parity.h5"
    io.save(RunResult("parity-mfld", cfg, sgd=result), path)
    loaded = io.load(path).sgd
    _assert_same_run(result, loaded)
    assert loaded.attrs["prior"] == "scaled" and loaded.attrs["beta0"] == 10.0
    assert loaded.extra["final_weights"].shape == (1, 200, 12)


def test_trajectory_does_not_depend_on_the_steps_per_compiled_call(monkeypatch):
    from reducedpde.models.parity import simulate as simulate_module

    cfg = {**SMALL, "rounds": 2, "round_steps": 100, "record_every": 50}
    reference = simulate_parity_mfld(cfg, progress=False)
    # 7 steps per call instead of a whole 50-step recording interval: other split points
    monkeypatch.setattr(simulate_module, "_NOISE_BUFFER", 7 * 200 * 12)
    _assert_same_run(reference, simulate_parity_mfld(cfg, progress=False))
