"""Named, documented scenarios: a model and documented overrides of its defaults.

Every parameter is declared once, in its model's table (e.g.
:data:`reducedpde.models.gaussians.parameters.GAUSSIANS_PARAMETERS`); a *scenario* names a
registered model (:mod:`reducedpde.models`) and overrides some defaults. :func:`resolve`
turns a scenario name and user overrides (``-p key=value`` or a TOML file) into one
validated, immutable :class:`~reducedpde.config.RunConfig`; the API, the CLI and configs
all go through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import RunConfig
from .params import validate

__all__ = [
    "SCENARIOS",
    "Scenario",
    "get_scenario",
    "list_scenarios",
    "register_scenario",
    "resolve",
]


@dataclass(frozen=True)
class Scenario:
    """A model with documented parameter overrides."""

    name: str
    model: str
    summary: str
    source: str
    overrides: dict = field(default_factory=dict)

    @property
    def parameters(self) -> dict:
        """The parameter table of the scenario's model."""
        from .models import get_model

        return get_model(self.model).parameters

    def defaults(self) -> dict:
        out = {name: p.default for name, p in self.parameters.items()}
        out.update(self.overrides)
        return out


SCENARIOS = {
    s.name: s
    for s in [
        Scenario(
            "gaussians",
            "gaussians",
            "Isotropic Gaussian classes, radial PDE; defaults are the MMN18 Fig. 4 setting.",
            "Mei, Montanari, Nguyen (2018), PNAS 115(33), Fig. 4 and Eq. (13)",
        ),
        Scenario(
            "gaussians-fig4",
            "gaussians",
            "MMN18 Fig. 4: N=800, d=320, Δ=0.5, κ=0.1 (rerun with -p kappa=0.4 for the other "
            "curve), piecewise-linear activation t1=0.5, t2=1.5, s1=-2.5, s2=7.5 (the exact "
            "knots of the paper are not published; this is the package's default).",
            "Mei, Montanari, Nguyen (2018), Fig. 4",
            {"N": 800, "d": 320, "delta": 0.5, "kappa": 0.1, "t_max": 10.0, "eps": 1.25e-6},
        ),
        Scenario(
            "gaussians-quick",
            "gaussians",
            "Same physics as Fig. 4 in d=40 with N=200 neurons (κ=0.4, ε=5e-6, t ≤ 5, 8 "
            "seeds): the mean-field PDE and its O(1/N) prediction for N = 200 neurons "
            "(correction=full) against SGD, in about a minute on one core.",
            "reduced version of MMN18 Fig. 4",
            {"N": 200, "d": 40, "kappa": 0.4, "eps": 5e-6, "t_max": 5.0, "cells": 800,
             "n_times": 60, "seeds": 8, "correction": "full"},
        ),
        Scenario(
            "gaussians-noisy",
            "gaussians",
            "Noisy SGD with weight decay: β = 2d = 80, λ = 0.1, d = 40, N = 200; the PDE "
            "relaxes to its Gibbs steady state ρ̄ ∝ r^{d−1} exp(−βψ_λ) (L1 distance 6e-4 at "
            "t = 10, 7e-7 at t = 20, 2e-8 at t = 25); fourth-order ESDIRK4 steps at local "
            "error 1e-6.",
            "MMN18 noisy distributional dynamics (Langevin), Eq. (13) with β < ∞",
            {"N": 200, "d": 40, "kappa": 0.4, "beta": 80.0, "lam": 0.1, "eps": 1e-5,
             "t_max": 25.0, "cells": 1200, "n_times": 60, "seeds": 2, "stepper": "esdirk4",
             "step_tol": 1e-6},
        ),
        Scenario(
            "gaussians-mfld",
            "gaussians",
            "Annealed mean-field Langevin dynamics on the gaussians-noisy problem (d = 40, "
            "κ = 0.4, N = 200): 3 rounds of t = 100 at β = 80, 160, 320 with the weight decay "
            "λ = 0.1·2^-k (seed 000's scaled prior λλ'‖w‖², λ' = 4); each round ends on its "
            "Gibbs state; /pde/extra/gibbs_gap, beta and a density per round end; SGD with "
            "the same schedule at ε = 1e-4.",
            "Chainani and Zhang, 'Mean field Langevin dynamics: convergence analysis and "
            "sparse parity learning' (2025), annealing and the Gibbs-gap certificate, on "
            "MMN18's isotropic Gaussian classes (docs/mfld.md)",
            {"N": 200, "d": 40, "kappa": 0.4, "beta": 80.0, "lam": 0.1, "eps": 1e-4,
             "anneal": "geometric", "rounds": 3, "round_time": 100.0, "t_max": 300.0,
             "n_times": 120, "n_snapshots": 4, "seeds": 2, "stepper": "esdirk4",
             "step_tol": 1e-6},
        ),
        Scenario(
            "single-index-quick",
            "multiindex",
            "Single-index model, Gaussian inputs, k = 1, φ = He_1 + He_2/2, ReLU, d = 20, "
            "N = 200, ε = 5e-5 (ε·d = 1e-3), a_0 = 0, w ~ N(0, I/d), t ≤ 10: PDE and SGD "
            "in well under a minute on one core. PDE: 72 × 2 atoms (s on 24 Gauss–Legendre "
            "panels of ±8 sd, r Gauss–Laguerre), E_z on 84 nodes graded towards the ReLU "
            "kink, rtol 1e-7; twice the resolution moves the risk curve by < 1e-3.",
            "reduced (a, s, r) mean-field dynamics, docs/multiindex.md; small check case",
            {"inputs": "gaussian", "k": 1, "d": 20, "target": "single-index",
             "activation": "relu", "kappa": 1.0, "a_law": "point", "a_init": 0.0,
             "t_max": 10.0, "t_min": 1e-2, "n_times": 40, "n_snapshots": 5, "N": 200,
             "eps": 5e-5, "seeds": 2, "atoms_s": 72, "s_rule": "panels", "atoms_r": 2,
             "latent_rule": "graded", "rtol": 1e-7, "r_max": 8.0},
        ),
        Scenario(
            "bmz23",
            "multiindex",
            "BMZ23 staged learning: φ = He_0 − He_1 + (2/3)He_2 (orthonormal He), ReLU, "
            "spherical (a, s) model, lr_ratio = ξ_a/ξ_w = 1/ε_bmz with ξ_w = 1/2 "
            "(ε_bmz = 1e-6; -p lr_ratio=1e3 for ε_bmz = 1e-3), a_0 = 0, s from w ~ N(0, I/d) "
            "with d = 1e4 (s ≈ N(0, 1e-4)) on 10 Gauss–Hermite atoms, t ∈ [1e-6, 1e3]. "
            "PDE only (SGD simulates the free model: -p spherical=false).",
            "Berthier, Montanari, Zhou (2023), 'Learning time-scales in two-layers neural "
            "networks', single-index example",
            {"inputs": "gaussian", "k": 1, "d": 10000, "target": "bmz23",
             "activation": "relu", "spherical": True, "lr_ratio": 1e6, "xi_w": 0.5,
             "kappa": 1.0, "a_law": "point", "a_init": 0.0, "t_max": 1e3, "t_min": 1e-6,
             "n_times": 181, "n_snapshots": 7, "atoms_s": 10, "atoms_r": 1,
             "method": "LSODA", "rtol": 1e-9, "N": 200, "eps": 1e-7},
        ),
        Scenario(
            "staircase",
            "multiindex",
            "ABM22 Fig. 1 staircase h* = z1 + z1z2 + z1z2z3 + z1z2z3z4 on the hypercube, "
            "d = N = 100, σ(t) = 1/(1 + e^{−(t+2)}) − 1/2, ξ_a/ξ_w = 10, degenerate start "
            "a ~ U[−1, 1], s = 0, r = 1 (adaptive panels of 8 Gauss–Legendre atoms in a, refined "
            "where the flow map is steep until the estimated relative risk error is below "
            "1e-3), t ≤ 60; SGD: "
            "ε = 1e-3, mini-batches of 10 samples, 4 seeds.",
            "Abbe, Boix-Adsera, Misiakiewicz (2022), 'The merged-staircase property', Fig. 1 "
            "(the activation and batch size of the figure are not given there; ours)",
            {"inputs": "hypercube", "k": 4, "d": 100, "target": "staircase",
             "activation": "shifted-sigmoid", "sigmoid_shift": -2.0, "lr_ratio": 10.0,
             "xi_w": 1.0, "init": "degenerate", "r_init": 1.0, "a_law": "uniform",
             "a_init": 0.0, "a_spread": 1.0, "a_rule": "adaptive", "atoms_a": 8, "a_panels": 16,
             "smoothing_nodes": 20, "t_max": 60.0, "t_min": 0.1,
             "n_times": 100, "n_snapshots": 7, "N": 100, "eps": 1e-3, "batch": 10,
             "seeds": 4, "n_test": 10000, "r_max": 12.0},
        ),
        Scenario(
            "parity-mfld",
            "parity",
            "Sparse parity (XOR, k = 2) by annealed mean-field Langevin dynamics: d = 20, "
            "n = 500, M = 1000, η = 0.05, R̄ = 15, λ' = 0.1, λ0 = 0.1 halved over 6 rounds "
            "of 1000 steps, scaled prior; SGD: the full particles, PDE: reduced particles "
            "(u, r, x2, x3) of the population dynamics.",
            "Chainani and Zhang (2025), 'Mean field Langevin dynamics: convergence analysis "
            "and sparse parity learning' (seed 000), sparse-parity experiment; the public "
            "code accompanying the slides uses 250 steps per round",
        ),
        Scenario(
            "parity-mfld-quick",
            "parity",
            "Small parity-mfld: d = 10 (test set: the whole hypercube), n = 200, M = 200, 4 "
            "rounds of 500 steps; full and reduced particles in a few seconds.",
            "reduced version of the seed-000 sparse-parity experiment",
            {"d": 10, "n": 200, "M": 200, "rounds": 4, "round_steps": 500,
             "record_every": 250},
        ),
    ]
}


def list_scenarios() -> list[str]:
    """Names of the scenarios, sorted."""
    return sorted(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    """The scenario called ``name`` (``ValueError`` naming the closest match otherwise)."""
    if name not in SCENARIOS:
        import difflib

        hint = difflib.get_close_matches(name, list(SCENARIOS), n=1)
        text = f"unknown scenario {name!r}"
        text += f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ValueError(text + f"; available: {', '.join(list_scenarios())}")
    return SCENARIOS[name]


def register_scenario(scenario: Scenario) -> None:
    """Add (or replace) a named scenario; its model must be registered."""
    from .models import get_model

    get_model(scenario.model)
    SCENARIOS[scenario.name] = scenario


def resolve(name: str, overrides: dict | None = None) -> RunConfig:
    """Complete, validated, immutable config for scenario ``name`` with user ``overrides``."""
    from .models import get_model

    scenario = get_scenario(name)
    model = get_model(scenario.model)
    merged = dict(scenario.overrides)
    merged.update(overrides or {})
    params = validate(model.parameters, merged, context=f"scenario {name!r}",
                      checks=model.checks)
    return RunConfig(name, scenario.model, params)
