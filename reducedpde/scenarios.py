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

__all__ = [
    "GAUSSIANS_PARAMETERS",
    "MULTIINDEX_PARAMETERS",
    "MULTIINDEX_TARGETS",
    "SCENARIOS",
    "Scenario",
    "list_scenarios",
    "resolve",
]


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
        _p("step_tol", "float", 2e-3,
           "noisy: L1 change per step (implicit-euler) or local-error tolerance (trbdf2, "
           "esdirk4)", low=0, high=0.5, low_open=True),
        _p("stepper", "str", "implicit-euler",
           "noisy time integrator: implicit-euler (1st order, exact Gibbs steady state), "
           "trbdf2 (2nd), esdirk4 (4th order; with step_tol=1e-6 ~100x more accurate "
           "transients at a fraction of the cost)", choices=("implicit-euler", "trbdf2",
                                                            "esdirk4")),
        _p("kernel_tol", "float", 1e-10, "truncation tolerance of the interaction kernel",
           low=0, high=1e-2, low_open=True),
        _p("min_resolved_cells", "float", 5.0,
           "noisy: stop when the density occupies fewer cells (1/Σp²; 0: no check)", low=0,
           high=1e6),
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


#: Named targets of the multi-index model: name -> (description, required k or None).
MULTIINDEX_TARGETS = {
    "single-index": ("φ = He_1(z) + He_2(z)/2 (probabilists' He, E φ² = 3/2)", 1),
    "bmz23": ("φ = He_0 − He_1 + (2/3) He_2 (orthonormal He, BMZ23)", 1),
    "staircase": ("φ = z_1 + z_1 z_2 + … + z_1 ⋯ z_k (ABM22 for k = 4)", None),
}

_SOLVER_METHODS = ("DOP853", "RK45", "LSODA", "Radau", "BDF")

MULTIINDEX_PARAMETERS = dict(
    [
        # physics
        _p("inputs", "str", "gaussian", "input law: N(0, I_d) or uniform on {±1}^d",
           choices=("gaussian", "hypercube")),
        _p("k", "int", 1, "number of relevant coordinates z = (x_1 … x_k)", low=1, high=4),
        _p("d", "int", 40, "input dimension (SGD; initial spread κ²/d of the PDE)", low=2,
           high=1e7),
        _p("target", "str", "single-index", "target φ(z) (see MULTIINDEX_TARGETS)",
           choices=tuple(MULTIINDEX_TARGETS)),
        _p("activation", "str", "relu", "activation σ", choices=tuple(list_activations())),
        _p("sigmoid_shift", "float", 0.0,
           "shift of 'shifted-sigmoid': σ(t) = 1/(1 + e^{−(t − shift)}) − 1/2", low=-1e3,
           high=1e3),
        _p("spherical", "bool", False,
           "BMZ23's spherical model |s|² + r² = 1 (PDE only; SGD is the free model)"),
        _p("lr_ratio", "float", 1.0, "learning-rate ratio ξ_a/ξ_w (second / first layer)",
           low=0, high=1e12, low_open=True),
        _p("xi_w", "float", 1.0, "first-layer rate ξ_w (ξ_a = lr_ratio · ξ_w)", low=0,
           high=1e6, low_open=True),
        _p("lam", "float", 0.0, "weight decay λ", low=0, high=1e6),
        _p("beta", "float", math.inf,
           "inverse temperature β (inf: noiseless; finite: Langevin noise, needs solver=fv "
           "for the PDE)", low=0, high=1e12, low_open=True, allow_inf=True),
        # initial law
        _p("init", "str", "gaussian",
           "first layer at t = 0: w ~ N(0, κ²/d I) or degenerate s = 0, r = r_init",
           choices=("gaussian", "degenerate")),
        _p("kappa", "float", 1.0, "initial scale (init=gaussian): w ~ N(0, κ²/d I)", low=0,
           high=1e3, low_open=True),
        _p("r_init", "float", 1.0, "initial r = ‖w_⊥‖ (init=degenerate)", low=0, high=1e3),
        _p("a_law", "str", "point",
           "second layer at t = 0: a_init, N(a_init, a_spread²) or U[a_init ± a_spread]",
           choices=("point", "normal", "uniform")),
        _p("a_init", "float", 0.0, "centre of the initial law of a", low=-1e3, high=1e3),
        _p("a_spread", "float", 0.0, "spread of the initial law of a", low=0, high=1e3),
        _p("t_max", "float", 10.0, "final time t = kε", low=0, high=1e12, low_open=True),
        _p("t_min", "float", 1e-2, "first non-zero output time (log-spaced outputs)", low=0,
           high=1e12, low_open=True),
        _p("n_times", "int", 60, "number of output times (incl. t=0)", low=2, high=1e6),
        _p("n_snapshots", "int", 6, "number of ‖w‖ snapshots", low=2, high=1e4),
        # PDE solver
        _p("solver", "str", "lagrangian",
           "PDE solver: Lagrangian particles, or finite volumes on an (a, s, r) grid (k = 1, "
           "noiseless, free model)", choices=("lagrangian", "fv")),
        # PDE numerics (Lagrangian solver)
        _p("atoms_a", "int", 8, "Gauss nodes of the initial law of a (1 if a_law=point)",
           low=1, high=1e4),
        _p("atoms_s", "int", 8, "Gauss–Hermite nodes per s coordinate (init=gaussian)",
           low=1, high=1e3),
        _p("atoms_r", "int", 4, "generalised Gauss–Laguerre nodes in r (init=gaussian)",
           low=1, high=1e3),
        _p("latent_nodes", "int", 0, "Gauss–Hermite nodes per latent dimension (0: default)",
           low=0, high=1e4),
        _p("method", "str", "DOP853", "ODE integrator of the Lagrangian solver",
           choices=_SOLVER_METHODS),
        _p("rtol", "float", 1e-8, "relative tolerance of the ODE integrator", low=0,
           high=1e-2, low_open=True),
        _p("cells", "int", 400, "histogram cells of ‖w‖ on [0, r_max]", low=10, high=1e7),
        _p("r_max", "float", 4.0, "outer edge of the ‖w‖ histograms", low=0, high=1e4,
           low_open=True),
        # PDE numerics (finite-volume solver, solver=fv): equal cells of the box
        # [fv_a_min, fv_a_max] × [fv_s_min, fv_s_max] × [0, fv_r_max]
        _p("fv_cells_a", "int", 48, "solver=fv: cells in a", low=8, high=1e4),
        _p("fv_cells_s", "int", 48, "solver=fv: cells in s", low=8, high=1e4),
        _p("fv_cells_r", "int", 32, "solver=fv: cells in r ∈ [0, fv_r_max]", low=8, high=1e4),
        _p("fv_a_min", "float", -2.0,
           "solver=fv: lower end of the a box (the law must stay inside; the initial law "
           "two cells inside)", low=-1e4, high=1e4),
        _p("fv_a_max", "float", 4.0, "solver=fv: upper end of the a box", low=-1e4, high=1e4),
        _p("fv_s_min", "float", -2.0, "solver=fv: lower end of the s box", low=-1e4,
           high=1e4),
        _p("fv_s_max", "float", 4.0, "solver=fv: upper end of the s box", low=-1e4, high=1e4),
        _p("fv_r_max", "float", 3.0, "solver=fv: upper end of the r box [0, fv_r_max]", low=0,
           high=1e4, low_open=True),
        _p("fv_cfl", "float", 0.4, "solver=fv: Courant number (≤ 1/2 keeps masses ≥ 0)",
           low=0, high=0.5, low_open=True),
        _p("fv_boundary_tol", "float", 1e-8,
           "solver=fv: stop when an outer slab of cells holds more than this mass fraction "
           "(noisy runs: Gibbs tails reach every cell; raise it or enlarge the box)", low=0,
           high=0.5, low_open=True),
        # SGD
        _p("N", "int", 200, "number of neurons (SGD)", low=1, high=1e7),
        _p("eps", "float", 1e-5, "SGD step size ε (s_k = ε ξ)", low=0, high=10,
           low_open=True),
        _p("batch", "int", 1, "SGD mini-batch size", low=1, high=1e6),
        _p("n_test", "int", 10000, "test-set size of the SGD risk (hypercube inputs)", low=2,
           high=1e8),
        _p("seeds", "int", 1, "number of independent SGD runs", low=1, high=1e4),
        _p("seed", "int", 0, "first random seed", low=0, high=2**31 - 1),
    ]
)

#: largest number of atoms of the PDE's initial law
MAX_ATOMS = 100_000


def multiindex_atom_count(cfg: dict) -> int:
    """Number of atoms of the PDE's initial law (tensor quadrature)."""
    n = 1 if cfg["a_law"] == "point" else cfg["atoms_a"]
    if cfg["init"] == "gaussian":
        n *= cfg["atoms_s"] ** cfg["k"] * cfg["atoms_r"]
    return n


def _multiindex_checks(cfg: dict) -> str | None:
    if cfg["t_min"] >= cfg["t_max"]:
        return f"parameter 't_min' must be < t_max={cfg['t_max']:g}, got {cfg['t_min']:g}"
    if cfg["k"] > cfg["d"]:
        return f"parameter 'k' must be <= d={cfg['d']}, got {cfg['k']}"
    need = MULTIINDEX_TARGETS[cfg["target"]][1]
    if need is not None and cfg["k"] != need:
        return f"parameter 'k' must be {need} for target {cfg['target']!r}, got {cfg['k']}"
    if cfg["init"] == "gaussian" and cfg["d"] < cfg["k"] + 2:
        return (f"parameter 'd' must be >= k + 2 = {cfg['k'] + 2} for init='gaussian', "
                f"got {cfg['d']}")
    if cfg["spherical"] and cfg["inputs"] != "gaussian":
        return "parameter 'spherical' must be false for inputs='hypercube'"
    if cfg["a_law"] != "point" and not cfg["a_spread"] > 0:
        return f"parameter 'a_spread' must be > 0 for a_law={cfg['a_law']!r}"
    if not math.isinf(cfg["beta"]) and cfg["solver"] != "fv":
        return (f"parameter 'beta' must be inf for solver={cfg['solver']!r} (Lagrangian atoms "
                f"are deterministic; noisy runs need solver='fv'), got {cfg['beta']:g}")
    count = multiindex_atom_count(cfg)
    if cfg["solver"] == "lagrangian" and count > MAX_ATOMS:
        return (f"parameters 'atoms_a', 'atoms_s', 'atoms_r' give {count} atoms "
                f"(atoms_a · atoms_s^k · atoms_r); at most {MAX_ATOMS}")
    d = cfg["d"]
    if cfg["spherical"]:
        support = 1.0
    elif cfg["init"] == "gaussian":
        support = cfg["kappa"] * (1.0 + 8.0 / math.sqrt(2.0 * d))
    else:
        support = cfg["r_init"]
    if support >= cfg["r_max"]:
        return (f"parameter 'r_max' must exceed the initial support of ‖w‖ ({support:.4g}), "
                f"got {cfg['r_max']:g}")
    return None


#: largest number of cells of the finite-volume grid (solver=fv)
MAX_FV_CELLS = 8_000_000
#: the initial normal laws (s, a) count as supported on mean ± FV_TAILS standard deviations
FV_TAILS = 6.0


def multiindex_fv_initial_support(cfg: dict) -> dict:
    """``{axis: (low, high)}``: where the initial law of ``a``, ``s``, ``r`` lives (normal
    laws: mean ± 6 sd, mass outside ≈ 2e-9; ``r = κχ_{d−1}/√d`` below ``κ(1 + 8/√(2d))``,
    the bound used for ``r_max``)."""
    a0, spread = cfg["a_init"], cfg["a_spread"]
    width = {"point": 0.0, "normal": FV_TAILS * spread, "uniform": spread}[cfg["a_law"]]
    if cfg["init"] == "gaussian":
        sd = cfg["kappa"] / math.sqrt(cfg["d"])
        s_range = (-FV_TAILS * sd, FV_TAILS * sd)
        r_range = (0.0, cfg["kappa"] * (1.0 + 8.0 / math.sqrt(2.0 * cfg["d"])))
    else:
        s_range = (0.0, 0.0)
        r_range = (cfg["r_init"], cfg["r_init"])
    return {"a": (a0 - width, a0 + width), "s": s_range, "r": r_range}


def _fv_checks(cfg: dict) -> str | None:
    """Relations of ``solver="fv"``: ``k = 1``, free noiseless model, a box holding the
    initial law two cells inside its outer faces."""
    if cfg["solver"] != "fv":
        return None
    if cfg["k"] != 1:
        return (f"parameter 'k' must be 1 for solver='fv' (finite volumes on an (a, s, r) "
                f"grid; use solver='lagrangian' for k > 1), got {cfg['k']}")
    if cfg["spherical"]:
        return ("parameter 'spherical' must be false for solver='fv' (finite volumes solve "
                "the free (a, s, r) model; use solver='lagrangian'), got true")
    if not math.isinf(cfg["beta"]) and cfg["d"] <= cfg["k"] + 1:
        return (f"parameter 'd' must be > k + 1 = {cfg['k'] + 1} for a noisy run (the Bessel "
                f"drift (d−k−1)/r), got {cfg['d']}")
    cells = cfg["fv_cells_a"] * cfg["fv_cells_s"] * cfg["fv_cells_r"]
    if cells > MAX_FV_CELLS:
        return (f"parameters 'fv_cells_a', 'fv_cells_s', 'fv_cells_r' give {cells} cells; "
                f"at most {MAX_FV_CELLS}")
    support = multiindex_fv_initial_support(cfg)
    for axis in ("a", "s"):
        lo, hi = cfg[f"fv_{axis}_min"], cfg[f"fv_{axis}_max"]
        if not hi > lo:
            return (f"parameter 'fv_{axis}_max' must be > fv_{axis}_min={lo:g}, "
                    f"got {hi:g}")
    for axis in ("a", "s", "r"):
        lo = 0.0 if axis == "r" else cfg[f"fv_{axis}_min"]
        hi = cfg[f"fv_{axis}_max"]
        margin = 2.0 * (hi - lo) / cfg[f"fv_cells_{axis}"]
        first, last = support[axis]
        if axis != "r" and first - margin <= lo:
            return (f"parameter 'fv_{axis}_min' must be < {first - margin:.4g} (the initial "
                    f"law of {axis} reaches {first:.4g}; two cells of margin), got {lo:g}")
        if last + margin >= hi:
            return (f"parameter 'fv_{axis}_max' must be > {last + margin:.4g} (the initial "
                    f"law of {axis} reaches {last:.4g}; two cells of margin), got {hi:g}")
    return None


MODELS = {
    "gaussians": (GAUSSIANS_PARAMETERS, (_gaussians_checks,)),
    "multiindex": (MULTIINDEX_PARAMETERS, (_multiindex_checks, _fv_checks)),
}


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
        Scenario(
            "single-index-quick",
            "multiindex",
            "Single-index model, Gaussian inputs, k = 1, φ = He_1 + He_2/2, ReLU, d = 20, "
            "N = 200, ε = 5e-5 (ε·d = 1e-3), a_0 = 0, w ~ N(0, I/d), t ≤ 10: PDE and SGD "
            "in well under a minute on one core.",
            "reduced (a, s, r) mean-field dynamics, docs/multiindex.md; small check case",
            {"inputs": "gaussian", "k": 1, "d": 20, "target": "single-index",
             "activation": "relu", "kappa": 1.0, "a_law": "point", "a_init": 0.0,
             "t_max": 10.0, "t_min": 1e-2, "n_times": 40, "n_snapshots": 5, "N": 200,
             "eps": 5e-5, "seeds": 2, "atoms_s": 16, "atoms_r": 4, "r_max": 8.0},
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
            "a ~ U[−1, 1], s = 0, r = 1 (32 Gauss–Legendre atoms in a), t ≤ 60; SGD: "
            "ε = 1e-3, mini-batches of 10 samples, 4 seeds.",
            "Abbe, Boix-Adsera, Misiakiewicz (2022), 'The merged-staircase property', Fig. 1 "
            "(the activation and batch size of the figure are not given there; ours)",
            {"inputs": "hypercube", "k": 4, "d": 100, "target": "staircase",
             "activation": "shifted-sigmoid", "sigmoid_shift": -2.0, "lr_ratio": 10.0,
             "xi_w": 1.0, "init": "degenerate", "r_init": 1.0, "a_law": "uniform",
             "a_init": 0.0, "a_spread": 1.0, "atoms_a": 32, "t_max": 60.0, "t_min": 0.1,
             "n_times": 100, "n_snapshots": 7, "N": 100, "eps": 1e-3, "batch": 10,
             "seeds": 4, "n_test": 10000, "r_max": 12.0},
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
