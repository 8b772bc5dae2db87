r"""Full-dimensional particle SGD of two-layer networks, with exact population risks.

Conventions (shared with the reduced PDEs): ``ŷ(x) = (1/N) Σ_i σ*(x; θ_i)``, risk
``R = E[(y − ŷ)²]`` (no factor ½), online SGD with one fresh sample (or batch) per step,
``s_k = ε ξ(kε)``, time ``t = kε``:

.. math::

    θ_i ← (1 − 2λ s_k) θ_i + 2 s_k (y_k − ŷ(x_k)) ∇_θ σ*(x_k; θ_i) + \sqrt{4 s_k/β}\, g_i .

The noise amplitude ``√(4 s_k/β)`` makes the invariant law ``∝ exp(−β Ψ_λ)``, consistent
with ``∂_t ρ = 2ξ ∇·(ρ ∇Ψ_λ) + (2ξ/β) Δρ``. With a second layer,
``σ*(x; (a, w)) = a σ(⟨w, x⟩)`` and ``a``, ``w`` use ``ξ_a s_k`` and ``ξ_w s_k``.

Entry points
------------
:func:`simulate_gaussians`
    Isotropic Gaussian classes (MMN18), exact risk, ``‖w‖`` histograms.
:func:`simulate_multiindex`
    Multi-index targets with Gaussian (exact risk) or hypercube (test-set risk) inputs.
:func:`gaussian_classes_risk`, :func:`multiindex_gaussian_risk`, :func:`empirical_risk`
    Population risk of a given network.
:func:`simulate_gaussians_numpy`, :func:`sgd_step_numpy`
    Plain NumPy twin of the compiled kernel.
"""

from .gaussians import simulate_gaussians
from .multiindex import simulate_multiindex
from .pair_expectation import bivariate_normal_upper, interaction_sum, pair_expectation
from .params import PARAMETER_CONSTRAINTS, validate_parameters
from .population_risk import (
    empirical_risk,
    gaussian_classes_risk,
    multiindex_gaussian_risk,
    multiindex_potential,
    network_output,
)
from .reference import sgd_step_numpy, simulate_gaussians_numpy
from .summaries import SGDDivergenceError
from .targets import Target, hermite_expansion, make_target, staircase

__all__ = [
    "PARAMETER_CONSTRAINTS",
    "SGDDivergenceError",
    "Target",
    "bivariate_normal_upper",
    "empirical_risk",
    "gaussian_classes_risk",
    "hermite_expansion",
    "interaction_sum",
    "make_target",
    "multiindex_gaussian_risk",
    "multiindex_potential",
    "network_output",
    "pair_expectation",
    "sgd_step_numpy",
    "simulate_gaussians",
    "simulate_gaussians_numpy",
    "simulate_multiindex",
    "staircase",
    "validate_parameters",
]
