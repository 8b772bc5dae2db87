"""Sparse k-parity learned by mean-field Langevin dynamics (seed 000), particle simulator.

Network ``f_μ(z) = ∫ h_x(z) μ(dx)``, ``h_x(z) = R̄ (tanh(z·x_1 + x_2) + 2 tanh(x_3))/3``,
inputs uniform on ``{±1/√d}^d``, labels ``y = sign(z_1 ⋯ z_k)``, logistic loss on ``n``
training samples, objective ``L(μ) + λ KL(μ‖ν)`` with ``ν ∝ exp(−λ'‖x‖²)`` (the *scaled*
prior) or ``L(μ) + λ'∫‖x‖² dμ + λ∫μ log μ`` (the *fixed* prior), temperature annealed as
``λ_r = 2^{−r} λ_0``. The notation map to the package's conventions is in ``docs/mfld.md``.

Modules
-------
data        hypercube inputs, parity labels, training and test sets
network     the neuron, the loss, a NumPy reference of the particle update
kernels     the compiled update and evaluation kernels (BLAS products, or sign codes
            on the hypercube)
parameters  :data:`PARITY_PARAMETERS` and its validator
simulate    :func:`simulate_parity_mfld` (annealing, recording, checkpoints)
"""

from .data import ParityData, hypercube_inputs, hypercube_points, make_parity_data, parity_labels
from .kernels import (
    code_work_arrays,
    evaluate,
    evaluate_codes,
    fast_tanh,
    mfld_steps,
    mfld_steps_hypercube,
    network_output_codes_into,
    network_output_into,
    sign_codes,
    work_arrays,
)
from .network import (
    PRIORS,
    drift_numpy,
    logistic_loss,
    logistic_loss_derivative,
    mfld_step_numpy,
    network_output,
    objective_numpy,
    prior_coefficient,
)
from .parameters import PARITY_CHECKS, PARITY_PARAMETERS, validate_parity
from .simulate import (
    SERIES,
    ParityDivergenceError,
    round_end_summary,
    simulate_parity_mfld,
    temperature_at,
)

__all__ = [
    "PARITY_CHECKS",
    "PARITY_PARAMETERS",
    "PRIORS",
    "SERIES",
    "ParityData",
    "ParityDivergenceError",
    "code_work_arrays",
    "drift_numpy",
    "evaluate",
    "evaluate_codes",
    "fast_tanh",
    "hypercube_inputs",
    "hypercube_points",
    "logistic_loss",
    "logistic_loss_derivative",
    "make_parity_data",
    "mfld_step_numpy",
    "mfld_steps",
    "mfld_steps_hypercube",
    "network_output",
    "network_output_codes_into",
    "network_output_into",
    "objective_numpy",
    "parity_labels",
    "prior_coefficient",
    "round_end_summary",
    "sign_codes",
    "simulate_parity_mfld",
    "temperature_at",
    "validate_parity",
    "work_arrays",
]
