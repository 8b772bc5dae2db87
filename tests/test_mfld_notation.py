"""One MFLD problem written in the three notations of docs/mfld.md gives one trajectory.

Seed 000:  x ← x − η ∇(δL/δμ + c‖x‖²) + √(2λη) ξ,    c = λλ' (scaled) or λ' (fixed),
seed 001:  X ← X − τ (D_m F + (σ²/2) ∇U) + σ √τ ξ,   F = L, σ² = 2λ, τ = η,
           U = λ'‖x‖² (scaled: g = ν) or (λ'/λ)‖x‖² (fixed),
package:   θ ← (1 − 2 λ_p s) θ − 2s ∇Ψ + √(4s/β) g, Ψ = δL/δμ, s = η/2, β = 1/λ,
           λ_p = 2λ' / β (scaled) or 2λ' (fixed); time t = k s = kη/2.
"""

import numpy as np
import pytest

from reducedpde.models.parity import (
    drift_numpy,
    make_parity_data,
    mfld_steps,
    simulate_parity_mfld,
    work_arrays,
)

ETA, RBAR, LAM_PRIME, LAM0, ROUND_STEPS = 0.05, 15.0, 0.1, 0.1, 10


def _setup(seed=3, d=6, n=50, M=9, n_steps=30):
    rng = np.random.default_rng(seed)
    data = make_parity_data(d, 2, n, rng)
    X0 = rng.standard_normal((M, d + 2))
    noise = rng.standard_normal((n_steps, M, d + 2))
    # geometric annealing across rounds of ROUND_STEPS steps: λ_r = 2^−r λ0
    lams = LAM0 * 0.5 ** (np.arange(n_steps) // ROUND_STEPS)
    return data, X0, noise, lams


def _grad_first_variation(X, data):
    """∇_x δL/δμ (the data term alone), the same in every notation."""
    return drift_numpy(X, data.z_train, data.y_train, RBAR, 0.0)


def _seed000_kernel(X0, data, noise, lams, prior):
    X = X0.copy()
    work = work_arrays(X.shape[0], data.y_train.size, data.d)
    mfld_steps(X, data.z_train, data.y_train, noise, lams, ETA, RBAR, LAM_PRIME,
               prior == "scaled", *work)
    return X


def _seed001(X0, data, noise, lams, prior):
    X = X0.copy()
    tau = ETA
    for xi, lam in zip(noise, lams):
        sigma = np.sqrt(2.0 * lam)
        u_coef = LAM_PRIME if prior == "scaled" else LAM_PRIME / lam  # U = u_coef ‖x‖²
        grad_U = 2.0 * u_coef * X
        X = X - tau * (_grad_first_variation(X, data) + sigma**2 / 2 * grad_U) \
            + sigma * np.sqrt(tau) * xi
    return X


def _package(X0, data, noise, lams, prior):
    theta = X0.copy()
    s = ETA / 2.0
    for g, lam in zip(noise, lams):
        beta = 1.0 / lam
        lam_p = 2.0 * LAM_PRIME / beta if prior == "scaled" else 2.0 * LAM_PRIME
        theta = ((1.0 - 2.0 * lam_p * s) * theta - 2.0 * s * _grad_first_variation(theta, data)
                 + np.sqrt(4.0 * s / beta) * g)
    return theta


@pytest.mark.parametrize("prior", ["scaled", "fixed"])
def test_seed001_form_gives_the_seed000_trajectory(prior):
    data, X0, noise, lams = _setup()
    ref = _seed000_kernel(X0, data, noise, lams, prior)
    np.testing.assert_allclose(_seed001(X0, data, noise, lams, prior), ref, rtol=0,
                               atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("prior", ["scaled", "fixed"])
def test_package_sgd_form_gives_the_seed000_trajectory(prior):
    data, X0, noise, lams = _setup()
    ref = _seed000_kernel(X0, data, noise, lams, prior)
    np.testing.assert_allclose(_package(X0, data, noise, lams, prior), ref, rtol=0,
                               atol=1e-12 * np.abs(ref).max())


def test_recorded_time_is_the_package_time_and_beta_the_inverse_temperature():
    result = simulate_parity_mfld({"d": 4, "n": 10, "M": 5, "rounds": 3, "round_steps": 20,
                                   "record_every": 10}, progress=False)
    steps = result.extra["steps"]
    np.testing.assert_array_equal(result.t, steps * 0.05 / 2)  # t = kε, ε = s = η/2
    np.testing.assert_array_equal(result.extra["tau"], steps * 0.05)  # seed-000 time kη
    np.testing.assert_array_equal(result.extra["beta"][0], 1.0 / result.extra["temperature"][0])
    np.testing.assert_array_equal(result.extra["temperature"][0],
                                  [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025])


@pytest.mark.parametrize(("prior", "variance"), [("scaled", 1 / (2 * 0.5)),
                                                  ("fixed", 2.0 / (2 * 0.5))])
def test_without_data_the_particles_sample_the_gibbs_reference(prior, variance):
    # R̄ → 0 leaves x ← (1 − 2ηc) x + √(2λη) ξ, whose stationary variance is
    # λ / (2c (1 − ηc)): the continuum Gibbs variance λ/(2c) (package: 1/(βλ_p)) is
    # 1/(2λ') = ν's for the scaled prior and λ/(2λ') for the fixed one
    lam, lam_prime, eta = 2.0, 0.5, 0.2
    c = lam * lam_prime if prior == "scaled" else lam_prime
    relax = int(np.ceil(40 / (2 * eta * c)))  # (1 − 2ηc)^relax < e^−40
    result = simulate_parity_mfld(
        {"d": 10, "n": 1, "M": 5000, "Rbar": 1e-12, "lam0": lam, "lam_prime": lam_prime,
         "eta": eta, "prior": prior, "rounds": 1, "round_steps": relax,
         "record_every": relax}, progress=False)
    x = result.extra["final_weights"][0]
    discrete = lam / (2 * c * (1 - eta * c))
    assert variance == pytest.approx(lam / (2 * c))
    # 60 000 coordinates: relative standard error of the variance 0.58 %
    assert x.var() == pytest.approx(discrete, rel=0.03)
    assert abs(x.var() / variance - 1) > 0.08  # the discretisation bias (≥ 11 %) is resolved
