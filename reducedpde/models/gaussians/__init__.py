r"""Isotropic Gaussian classes (MMN18) and their exact radial reduction.

``y = ±1`` with ``x ~ N(0, (1 ± Δ)² I_d)``; neurons ``σ(⟨w, x⟩)``, ``w ∈ R^d``. For a
rotation-invariant law the radial law ``ρ̄(r)`` of ``r = ‖w‖`` obeys

    ∂_t ρ̄ = 2ξ ∂_r(ρ̄ ∂_r ψ_λ) + (2ξ/β) ∂_r(∂_r ρ̄ − ((d−1)/r) ρ̄),

with a low-rank angle-averaged kernel. Modules, one concern each:

* :mod:`.parameters` — the parameter table and its cross checks;
* :mod:`.kernel` — ``v(r)`` and the low-rank kernel ``u(r, r')``;
* :mod:`.radial` — the radial model (``ψ``, its derivative, the risk of a radial law);
* :mod:`.population_risk` — the exact risk of a finite network;
* :mod:`.particles` (and its NumPy twin :mod:`.particles_reference`) — particle SGD;
* :mod:`.reduction` — :class:`GaussiansReduction`, the model behind the protocol.

Names are imported lazily, so ``import reducedpde.models.gaussians`` compiles nothing.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "GAUSSIANS_PARAMETERS": "parameters",
    "GaussianRadialModel": "radial",
    "GaussiansReduction": "reduction",
    "KernelTruncationWarning": "kernel",
    "LowRankKernel": "kernel",
    "gaussian_classes_risk": "population_risk",
    "radial_potential": "kernel",
    "radial_potential_derivative": "kernel",
    "scaled_chi_cdf": "radial",
    "simulate_gaussians": "particles",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
