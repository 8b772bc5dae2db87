"""Parameter table of the isotropic-Gaussian (radial) model: one declaration per parameter."""

from __future__ import annotations

import math

from ...activations import list_activations
from ...losses import LOSSES
from ...params import Param, parameter_table

__all__ = ["GAUSSIANS_PARAMETERS", "gaussians_checks"]


GAUSSIANS_PARAMETERS = parameter_table(
    # physics
    Param("delta", "float", 0.5, "class separation Δ: scales 1±Δ", low=0, high=1,
          low_open=True, high_open=True),
    Param("d", "int", 320, "input dimension (inf: d → ∞ limit of the PDE)", low=2,
          high=1e9, allow_inf=True),
    Param("kappa", "float", 0.1, "initial scale: w ~ N(0, κ²/d I)", low=0, high=1e3,
          low_open=True),
    Param("activation", "str", "mmn18", "activation σ", choices=tuple(list_activations())),
    Param("loss", "str", "square",
          "loss of the dynamics: square (y − f)² or logistic log(1 + e^{−yf}) (labels ±1; "
          "PDE: radial velocity or, for beta < inf, potential by 1-D integrals over |x|; "
          "docs/logistic.md)",
          choices=LOSSES),
    Param("lam", "float", 0.0, "weight decay λ", low=0, high=1e6),
    Param("beta", "float", math.inf, "inverse temperature β (inf: noiseless)", low=0,
          high=1e12, low_open=True, allow_inf=True),
    Param("t_max", "float", 100.0, "final time t = kε", low=0, high=1e12, low_open=True),
    Param("t_min", "float", 1e-2, "first non-zero output time (log-spaced outputs)", low=0,
          high=1e12, low_open=True),
    Param("n_times", "int", 120, "number of output times (incl. t=0)", low=2, high=1e6),
    Param("n_snapshots", "int", 9, "number of density snapshots", low=2, high=1e4),
    # PDE numerics
    Param("cells", "int", 2200, "finite-volume cells on [0, r_max]", low=20, high=1e7),
    Param("r_max", "float", 4.0, "outer radius of the grid", low=0, high=1e4, low_open=True),
    Param("grid", "str", "graded",
          "cell layout: graded (width ∝ max(r, grid_floor): the same relative resolution "
          "at every radius) or uniform", choices=("graded", "uniform")),
    Param("grid_floor", "float", 0.02,
          "graded grid: radius below which cells are equal (width ∝ grid_floor)", low=0,
          high=1e3, low_open=True),
    Param("error_estimate", "str", "companion",
          "a-posteriori error estimate of the PDE risk: companion (the same run on half the "
          "cells, +25% cost) or none", choices=("companion", "none")),
    Param("grid_knee", "float", 0.5,
          "graded grid: radius above which cells are equal (width ∝ grid_knee)", low=0,
          high=1e4, low_open=True),
    Param("cfl", "float", 0.4, "Courant number (noiseless)", low=0, high=0.5, low_open=True),
    Param("limiter_theta", "float", 1.5, "MUSCL limiter θ (1 minmod … 2 MC)", low=1, high=2),
    Param("step_tol", "float", 2e-3,
          "noisy: L1 change per step (implicit-euler) or local-error tolerance (trbdf2, "
          "esdirk4)", low=0, high=0.5, low_open=True),
    Param("stepper", "str", "implicit-euler",
          "noisy time integrator: implicit-euler (1st order, exact Gibbs steady state), "
          "trbdf2 (2nd), esdirk4 (4th order; with step_tol=1e-6 ~100x more accurate "
          "transients at a fraction of the cost)", choices=("implicit-euler", "trbdf2",
                                                        "esdirk4")),
    Param("kernel_tol", "float", 1e-10, "truncation tolerance of the interaction kernel",
          low=0, high=1e-2, low_open=True),
    Param("min_resolved_cells", "float", 5.0,
          "noisy: stop when the density occupies fewer cells (1/Σp²; 0: no check)", low=0,
          high=1e6),
    # SGD
    Param("N", "int", 800, "number of neurons (SGD)", low=1, high=1e7),
    Param("eps", "float", 1e-4, "SGD step size ε (s_k = ε ξ)", low=0, high=10, low_open=True),
    Param("batch", "int", 1, "SGD mini-batch size", low=1, high=1e6),
    Param("seeds", "int", 1, "number of independent SGD runs", low=1, high=1e4),
    Param("seed", "int", 0, "first random seed", low=0, high=2**31 - 1),
    Param("held_out", "int", 10_000,
          "SGD: points per class of the fixed Monte-Carlo sample for the logistic loss and "
          "classification error of the network (0: not recorded)", low=0, high=1e8),
    Param("classification", "str", "auto",
          "record the logistic loss and classification error (SGD: held-out sample; PDE: "
          "radial integrals) at every output time: auto (for loss=logistic only), on, off",
          choices=("auto", "on", "off")),
    Param("particle_dynamics", "str", "sgd",
          "particle runs (sgd, validate): sgd (online SGD, step eps) or flow (its ε → 0 "
          "limit at fixed N: gradient flow of the exact population risk from the same "
          "initial neurons; eps only rounds the output times; docs/gradient_flow.md)",
          choices=("sgd", "flow")),
    Param("flow_tol", "float", 1e-7,
          "flow: local error tolerance of the Dormand–Prince 5(4) steps, relative to ‖W‖",
          low=1e-13, high=1e-2),
    # mean-field Langevin annealing (noisy runs; docs/mfld.md)
    Param("anneal", "str", "none",
          "temperature schedule: none, geometric (β_k = 2^k β, rounds of round_time) or "
          "adaptive (a round ends when the Gibbs gap < round_gap_tol; PDE only)",
          choices=("none", "geometric", "adaptive")),
    Param("rounds", "int", 1, "annealing rounds K (β doubles each round)", low=1, high=60),
    Param("round_time", "float", 0.0, "time per annealing round (0: t_max / rounds)", low=0,
          high=1e12),
    Param("round_gap_tol", "float", 1e-8,
          "adaptive annealing: end a round when β⁻¹KL(ρ‖p_ρ) falls below this", low=0,
          high=1e6, low_open=True),
    Param("anneal_decay", "str", "scaled",
          "weight decay per round: scaled (λ_k = 2^-k λ, seed 000's prior λλ'‖w‖²) or fixed",
          choices=("scaled", "fixed")),
    # finite-N corrections of the prediction (docs/corrections.md)
    Param("correction", "str", "none",
          "PDE prediction for N neurons: none (mean field), finite-n (self-interaction and "
          "i.i.d. risk), full (the O(1/N) expansion with the fluctuations; noiseless); "
          "/pde/extra/risk_corrected",
          choices=("none", "finite-n", "full")),
    Param("correction_atoms", "int", 32,
          "correction=full: Gauss atoms of the initial law carrying the fluctuations", low=4,
          high=2000),
    Param("correction_modes", "int", 4,
          "correction=full: angular modes ℓ ≤ this are coupled (higher: transported only)",
          low=0, high=200),
    Param("correction_degree", "int", 21,
          "correction=full: highest Hermite degree in the mode kernels", low=1, high=80),
)


def gaussians_checks(cfg: dict) -> str | None:
    if cfg["t_min"] >= cfg["t_max"]:
        return f"parameter 't_min' must be < t_max={cfg['t_max']:g}, got {cfg['t_min']:g}"
    if not math.isinf(cfg["beta"]) and math.isinf(cfg["d"]):
        return ("parameter 'beta' must be inf when d=inf: at fixed β the Bessel drift "
                "(2/β)(d−1)/r of the noise grows without bound as d → ∞ and the law escapes "
                "to r = ∞; the limit with β = β₀d is deterministic (drift 2/(β₀r), no "
                "diffusion) and is not implemented; use a finite d for noisy runs")
    if cfg.get("correction", "none") == "full" and not math.isinf(cfg["beta"]):
        return ("parameter 'correction' must be 'none' or 'finite-n' when beta < inf: the "
                "fluctuation expansion (correction=full) follows noiseless characteristics")
    if cfg.get("correction", "none") == "full" and cfg.get("anneal", "none") != "none":
        return "parameter 'correction' must not be 'full' with annealing"
    if cfg.get("correction", "none") != "none" and math.isinf(cfg["d"]):
        return "parameter 'correction' must be 'none' when d=inf (corrections need a finite d)"
    if cfg.get("loss", "square") == "logistic":
        for name, allowed in (("particle_dynamics", "sgd"), ("correction", "none"),
                              ("anneal", "none")):
            if cfg.get(name, allowed) != allowed:
                return (f"parameter '{name}' must be '{allowed}' when loss='logistic' (the "
                        f"logistic loss is implemented for online SGD and the radial PDE, "
                        f"noiseless or noisy, without annealing), got {cfg[name]!r}")
    if cfg.get("particle_dynamics", "sgd") == "flow":
        from .gradient_flow import check_flow_options

        try:
            check_flow_options(beta=cfg["beta"], anneal=cfg.get("anneal", "none"),
                               activation=cfg["activation"])
        except ValueError as exc:
            return str(exc)
    if cfg.get("anneal", "none") != "none" and math.isinf(cfg["beta"]):
        return ("parameter 'beta' must be finite (β_0 > 0) when anneal="
                f"{cfg['anneal']}, got inf")
    d = cfg["d"]
    spread = 1.0 + (8.0 / math.sqrt(2.0 * d) if not math.isinf(d) else 0.0)
    if cfg["grid"] == "graded" and not cfg["grid_floor"] < cfg["r_max"]:
        return (f"parameter 'grid_floor' must be < r_max={cfg['r_max']:g} for grid='graded', "
                f"got {cfg['grid_floor']:g}")
    if cfg["grid"] == "graded" and not cfg["grid_floor"] <= cfg["grid_knee"] <= cfg["r_max"]:
        return (f"parameter 'grid_knee' must lie in [grid_floor={cfg['grid_floor']:g}, "
                f"r_max={cfg['r_max']:g}] for grid='graded', got {cfg['grid_knee']:g}")
    if cfg["kappa"] * spread >= cfg["r_max"]:
        return (
            f"parameter 'r_max' must exceed the initial support κ(1 + 8/√(2d)) = "
            f"{cfg['kappa'] * spread:.4g}, got {cfg['r_max']:g}"
        )
    return None
