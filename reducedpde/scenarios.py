"""Named, documented scenarios: every parameter of every run is declared here, once.

A *model* (``"gaussians"``) owns a parameter table (:data:`GAUSSIANS_PARAMETERS`); a
*scenario* is a model plus documented overrides of its defaults. :func:`resolve` turns a
scenario name, user overrides (``-p key=value`` or a TOML file) into a complete, validated
config dict; the API and the CLI both go through it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .activations import list_activations
from .params import Param, validate

__all__ = ["GAUSSIANS_PARAMETERS", "SCENARIOS", "Scenario", "list_scenarios", "resolve"]


def _p(name, kind, default, doc, **kw):
    return name, Param(name, kind, default, doc, **kw)


GAUSSIANS_PARAMETERS = dict(
    [
        # physics
        _p("delta", "float", 0.5, "class separation Δ: scales 1±Δ", low=0, high=1,
           low_open=True, high_open=True),
        _p("d", "int", 320, "input dimension (inf: d → ∞ limit of the PDE)", low=2,
           high=1e9, allow_inf=True),
        _p("kappa", "float", 0.1, "initial scale: w ~ N(0, κ²/d I)", low=0, high=1e3,
           low_open=True),
        _p("activation", "str", "mmn18", "activation σ", choices=tuple(list_activations())),
        _p("lam", "float", 0.0, "weight decay λ", low=0, high=1e6),
        _p("beta", "float", math.inf, "inverse temperature β (inf: noiseless)", low=0,
           high=1e12, low_open=True, allow_inf=True),
        _p("t_max", "float", 100.0, "final time t = kε", low=0, high=1e12, low_open=True),
        _p("t_min", "float", 1e-2, "first non-zero output time (log-spaced outputs)", low=0,
           high=1e12, low_open=True),
        _p("n_times", "int", 120, "number of output times (incl. t=0)", low=2, high=1e6),
        _p("n_snapshots", "int", 9, "number of density snapshots", low=2, high=1e4),
        # PDE numerics
        _p("cells", "int", 2000, "finite-volume cells on [0, r_max]", low=20, high=1e7),
        _p("r_max", "float", 4.0, "outer radius of the grid", low=0, high=1e4, low_open=True),
        _p("cfl", "float", 0.4, "Courant number (noiseless)", low=0, high=0.5, low_open=True),
        _p("limiter_theta", "float", 1.5, "MUSCL limiter θ (1 minmod … 2 MC)", low=1, high=2),
        _p("step_tol", "float", 2e-3, "L1 change per implicit step (noisy)", low=0, high=0.5,
           low_open=True),
        _p("kernel_tol", "float", 1e-10, "truncation tolerance of the interaction kernel",
           low=0, high=1e-2, low_open=True),
        # SGD
        _p("N", "int", 800, "number of neurons (SGD)", low=1, high=1e7),
        _p("eps", "float", 1e-4, "SGD step size ε (s_k = ε ξ)", low=0, high=10, low_open=True),
        _p("batch", "int", 1, "SGD mini-batch size", low=1, high=1e6),
        _p("seeds", "int", 1, "number of independent SGD runs", low=1, high=1e4),
        _p("seed", "int", 0, "first random seed", low=0, high=2**31 - 1),
    ]
)


def _gaussians_checks(cfg: dict) -> str | None:
    if cfg["t_min"] >= cfg["t_max"]:
        return f"parameter 't_min' must be < t_max={cfg['t_max']:g}, got {cfg['t_min']:g}"
    if not math.isinf(cfg["beta"]) and math.isinf(cfg["d"]):
        return "parameter 'beta' must be inf when d=inf (noise needs β ∝ d with d finite)"
    d = cfg["d"]
    spread = 1.0 + (8.0 / math.sqrt(2.0 * d) if not math.isinf(d) else 0.0)
    if cfg["kappa"] * spread >= cfg["r_max"]:
        return (
            f"parameter 'r_max' must exceed the initial support κ(1 + 8/√(2d)) = "
            f"{cfg['kappa'] * spread:.4g}, got {cfg['r_max']:g}"
        )
    return None


MODELS = {"gaussians": (GAUSSIANS_PARAMETERS, (_gaussians_checks,))}


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
        return MODELS[self.model][0]

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
            "Same physics as Fig. 4 in d=40 with N=200 neurons (κ=0.4, ε=1e-5, t ≤ 5): PDE "
            "and SGD in well under a minute on one core.",
            "reduced version of MMN18 Fig. 4",
            {"N": 200, "d": 40, "kappa": 0.4, "eps": 1e-5, "t_max": 5.0, "cells": 800,
             "n_times": 60, "seeds": 2},
        ),
        Scenario(
            "gaussians-noisy",
            "gaussians",
            "Noisy SGD with weight decay: β = 2d = 80, λ = 0.1, d = 40, N = 200; the PDE "
            "relaxes to its Gibbs steady state ρ̄ ∝ r^{d−1} exp(−βψ_λ) by t ≈ 5.",
            "MMN18 noisy distributional dynamics (Langevin), Eq. (13) with β < ∞",
            {"N": 200, "d": 40, "kappa": 0.4, "beta": 80.0, "lam": 0.1, "eps": 1e-5,
             "t_max": 10.0, "cells": 800, "n_times": 60, "seeds": 2},
        ),
    ]
}


def list_scenarios() -> list[str]:
    return sorted(SCENARIOS)


def get_scenario(name: str) -> Scenario:
    if name not in SCENARIOS:
        import difflib

        hint = difflib.get_close_matches(name, list(SCENARIOS), n=1)
        text = f"unknown scenario {name!r}"
        text += f" (did you mean {hint[0]!r}?)" if hint else ""
        raise ValueError(text + f"; available: {', '.join(list_scenarios())}")
    return SCENARIOS[name]


def resolve(name: str, overrides: dict | None = None) -> dict:
    """Complete, validated config for scenario ``name`` with user ``overrides``."""
    scenario = get_scenario(name)
    table, checks = MODELS[scenario.model]
    merged = dict(scenario.overrides)
    merged.update(overrides or {})
    return validate(table, merged, context=f"scenario {name!r}", checks=checks)
