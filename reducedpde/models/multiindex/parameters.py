"""Parameter table of the multi-index ``(a, s, r)`` model: one declaration per parameter."""

from __future__ import annotations

import math

from ...activations import list_activations
from ...params import Param, parameter_table

__all__ = [
    "CORRECTIONS",
    "FV_TAILS",
    "MAX_ATOMS",
    "MAX_FV_CELLS",
    "MULTIINDEX_PARAMETERS",
    "MULTIINDEX_TARGETS",
    "correction_message",
    "fv_checks",
    "multiindex_atom_count",
    "multiindex_checks",
    "multiindex_fv_initial_support",
]


#: Named targets of the multi-index model: name -> (description, required k or None).
MULTIINDEX_TARGETS = {
    "single-index": ("φ = He_1(z) + He_2(z)/2 (probabilists' He, E φ² = 3/2)", 1),
    "bmz23": ("φ = He_0 − He_1 + (2/3) He_2 (orthonormal He, BMZ23)", 1),
    "staircase": ("φ = z_1 + z_1 z_2 + … + z_1 ⋯ z_k (ABM22 for k = 4)", None),
}

_SOLVER_METHODS = ("DOP853", "RK45", "LSODA", "Radau", "BDF")

#: values of the ``correction`` parameter the multi-index model solves: ``none`` (the
#: mean-field PDE only), ``finite-n`` (self-interaction + i.i.d. risk of N neurons,
#: :mod:`.corrections`); ``full`` (the radial model's fluctuation expansion) is refused
CORRECTIONS = ("none", "finite-n")


def correction_message(correction: str, solver: str = "lagrangian") -> str | None:
    """Why ``correction`` cannot be solved here (``None`` when it can)."""
    if correction == "full":
        return (f"parameter 'correction' must be one of {', '.join(CORRECTIONS)} for the "
                "multi-index model, got 'full': correction=full (the fluctuation expansion) "
                "is implemented for the radial model only")
    if correction not in CORRECTIONS:
        return (f"parameter 'correction' must be one of {', '.join(CORRECTIONS)}, "
                f"got {correction!r}")
    if correction != "none" and solver == "fv":
        return (f"parameter 'correction' must be 'none' for solver='fv', got {correction!r}: "
                "the finite-N self-interaction is solved on Lagrangian atoms only (use "
                "solver=lagrangian)")
    return None


MULTIINDEX_PARAMETERS = parameter_table(
    # physics
    Param("inputs", "str", "gaussian", "input law: N(0, I_d) or uniform on {±1}^d",
          choices=("gaussian", "hypercube")),
    Param("k", "int", 1, "number of relevant coordinates z = (x_1 … x_k)", low=1, high=4),
    Param("d", "int", 40, "input dimension (SGD; initial spread κ²/d of the PDE)", low=2,
          high=1e7),
    Param("target", "str", "single-index", "target φ(z) (see MULTIINDEX_TARGETS)",
          choices=tuple(MULTIINDEX_TARGETS)),
    Param("activation", "str", "relu", "activation σ", choices=tuple(list_activations())),
    Param("sigmoid_shift", "float", 0.0,
          "shift of 'shifted-sigmoid': σ(t) = 1/(1 + e^{−(t − shift)}) − 1/2", low=-1e3,
          high=1e3),
    Param("spherical", "bool", False,
          "BMZ23's spherical model |s|² + r² = 1 (PDE only; SGD is the free model)"),
    Param("lr_ratio", "float", 1.0, "learning-rate ratio ξ_a/ξ_w (second / first layer)",
          low=0, high=1e12, low_open=True),
    Param("xi_w", "float", 1.0, "first-layer rate ξ_w (ξ_a = lr_ratio · ξ_w)", low=0,
          high=1e6, low_open=True),
    Param("lam", "float", 0.0, "weight decay λ", low=0, high=1e6),
    Param("beta", "float", math.inf,
          "inverse temperature β (inf: noiseless; finite: Langevin noise, needs solver=fv "
          "for the PDE)", low=0, high=1e12, low_open=True, allow_inf=True),
    # initial law
    Param("init", "str", "gaussian",
          "first layer at t = 0: w ~ N(0, κ²/d I) or degenerate s = 0, r = r_init",
          choices=("gaussian", "degenerate")),
    Param("kappa", "float", 1.0, "initial scale (init=gaussian): w ~ N(0, κ²/d I)", low=0,
          high=1e3, low_open=True),
    Param("r_init", "float", 1.0, "initial r = ‖w_⊥‖ (init=degenerate)", low=0, high=1e3),
    Param("a_law", "str", "point",
          "second layer at t = 0: a_init, N(a_init, a_spread²) or U[a_init ± a_spread]",
          choices=("point", "normal", "uniform")),
    Param("a_init", "float", 0.0, "centre of the initial law of a", low=-1e3, high=1e3),
    Param("a_spread", "float", 0.0, "spread of the initial law of a", low=0, high=1e3),
    Param("t_max", "float", 10.0, "final time t = kε", low=0, high=1e12, low_open=True),
    Param("t_min", "float", 1e-2, "first non-zero output time (log-spaced outputs)", low=0,
          high=1e12, low_open=True),
    Param("n_times", "int", 60, "number of output times (incl. t=0)", low=2, high=1e6),
    Param("n_snapshots", "int", 6, "number of ‖w‖ snapshots", low=2, high=1e4),
    # PDE solver
    Param("solver", "str", "lagrangian",
          "PDE solver: Lagrangian particles, or finite volumes on an (a, s, r) grid (k = 1, "
          "noiseless, free model)", choices=("lagrangian", "fv")),
    # PDE numerics (Lagrangian solver)
    Param("atoms_a", "int", 8, "Gauss nodes of the initial law of a (1 if a_law=point; "
          "a_rule=adaptive: Gauss–Legendre nodes per panel)", low=1, high=1e4),
    Param("a_rule", "str", "gauss-legendre",
          "rule for the initial law of a (init=degenerate): one Gauss rule of atoms_a nodes "
          "(Legendre for a uniform, Hermite for a normal law), or adaptive (panels of "
          "atoms_a Gauss–Legendre nodes refined where the flow map a_0 ↦ (a, s, r)_t is "
          "steep, until the estimated relative risk error is below a_rule_tol)",
          choices=("gauss-legendre", "adaptive")),
    Param("a_panels", "int", 8, "a_rule=adaptive: equal panels of the first round", low=1,
          high=1e3),
    Param("a_rule_tol", "float", 1e-3,
          "a_rule=adaptive: target of the estimated relative risk error (max over times)",
          low=0, high=1, low_open=True),
    Param("a_rule_rounds", "int", 8, "a_rule=adaptive: most refinement rounds (solves)",
          low=1, high=50),
    Param("smoothing_nodes", "int", 0,
          "Gauss–Hermite nodes of the Gaussian smoothing σ_r of a smooth activation (0: the "
          "400-node composite rule, exact to 1e-15 for r ≤ 2; n: faster, checked "
          "against it at the end, attrs['smoothing_error'])", low=0, high=1e3),
    Param("atoms_s", "int", 8, "nodes per s coordinate of the initial law (init=gaussian)",
          low=1, high=1e3),
    Param("s_rule", "str", "gauss-hermite",
          "rule for s ~ N(0, κ²/d) per coordinate: Gauss–Hermite, or panels (composite "
          "Gauss–Legendre, equal panels of s_order nodes on ±8 standard deviations)",
          choices=("gauss-hermite", "panels")),
    Param("s_order", "int", 3, "s_rule=panels: Gauss–Legendre nodes per panel", low=1,
          high=20),
    Param("atoms_r", "int", 4, "generalised Gauss–Laguerre nodes in r (init=gaussian)",
          low=1, high=1e3),
    Param("latent_nodes", "int", 0, "nodes per latent dimension (0: default, 64/32/16/10 "
          "for k = 1..4; graded: 84)", low=0, high=1e4),
    Param("latent_rule", "str", "gauss-hermite",
          "rule for E_z, z ~ N(0, I_k) (hypercube: exact, unused): tensor Gauss–Hermite, or "
          "graded (composite Gauss–Legendre per coordinate, panels graded towards z = 0, "
          "the ReLU kink of every feature when k = 1; an even number of nodes)",
          choices=("gauss-hermite", "graded")),
    Param("method", "str", "DOP853", "ODE integrator of the Lagrangian solver",
          choices=_SOLVER_METHODS),
    Param("rtol", "float", 1e-8, "relative tolerance of the ODE integrator", low=0,
          high=1e-2, low_open=True),
    Param("cells", "int", 400, "histogram cells of ‖w‖ on [0, r_max]", low=10, high=1e7),
    Param("r_max", "float", 4.0, "outer edge of the ‖w‖ histograms", low=0, high=1e4,
          low_open=True),
    # PDE numerics (finite-volume solver, solver=fv): equal cells of the box
    # [fv_a_min, fv_a_max] × [fv_s_min, fv_s_max] × [0, fv_r_max]
    Param("fv_cells_a", "int", 48, "solver=fv: cells in a", low=8, high=1e4),
    Param("fv_cells_s", "int", 48, "solver=fv: cells in s", low=8, high=1e4),
    Param("fv_cells_r", "int", 32, "solver=fv: cells in r ∈ [0, fv_r_max]", low=8, high=1e4),
    Param("fv_a_min", "float", -2.0,
          "solver=fv: lower end of the a box (the law must stay inside; the initial law "
          "two cells inside)", low=-1e4, high=1e4),
    Param("fv_a_max", "float", 4.0, "solver=fv: upper end of the a box", low=-1e4, high=1e4),
    Param("fv_s_min", "float", -2.0, "solver=fv: lower end of the s box", low=-1e4,
          high=1e4),
    Param("fv_s_max", "float", 4.0, "solver=fv: upper end of the s box", low=-1e4, high=1e4),
    Param("fv_r_max", "float", 3.0, "solver=fv: upper end of the r box [0, fv_r_max]", low=0,
          high=1e4, low_open=True),
    Param("fv_cfl", "float", 0.4, "solver=fv: Courant number (≤ 1/2 keeps masses ≥ 0)",
          low=0, high=0.5, low_open=True),
    Param("fv_boundary_tol", "float", 1e-8,
          "solver=fv: stop when an outer slab of cells holds more than this mass fraction "
          "(noisy runs: Gibbs tails reach every cell; raise it or enlarge the box)", low=0,
          high=0.5, low_open=True),
    # SGD
    Param("N", "int", 200, "number of neurons (SGD)", low=1, high=1e7),
    Param("eps", "float", 1e-5, "SGD step size ε (s_k = ε ξ)", low=0, high=10,
          low_open=True),
    Param("batch", "int", 1, "SGD mini-batch size", low=1, high=1e6),
    Param("n_test", "int", 10000, "test-set size of the SGD risk (hypercube inputs)", low=2,
          high=1e8),
    Param("seeds", "int", 1, "number of independent SGD runs", low=1, high=1e4),
    Param("seed", "int", 0, "first random seed", low=0, high=2**31 - 1),
    # finite-N corrections of the prediction (docs/multiindex.md, docs/corrections.md)
    Param("correction", "str", "none",
          "PDE prediction for N neurons: none (mean field) or finite-n (self-interaction "
          "D/(2N) and i.i.d. risk, Lagrangian solver; /pde/extra/risk_corrected); full is "
          "the radial model's only", choices=("none", "finite-n", "full")),
)

#: largest number of atoms of the PDE's initial law
MAX_ATOMS = 100_000


def multiindex_atom_count(cfg: dict) -> int:
    """Number of atoms of the PDE's initial law (tensor quadrature)."""
    n = 1 if cfg["a_law"] == "point" else cfg["atoms_a"]
    if cfg["init"] == "gaussian":
        n *= cfg["atoms_s"] ** cfg["k"] * cfg["atoms_r"]
    return n


def multiindex_checks(cfg: dict) -> str | None:
    if cfg["t_min"] >= cfg["t_max"]:
        return f"parameter 't_min' must be < t_max={cfg['t_max']:g}, got {cfg['t_min']:g}"
    message = correction_message(cfg.get("correction", "none"),
                                 cfg.get("solver", "lagrangian"))
    if message:
        return message
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
    if cfg.get("a_rule", "gauss-legendre") == "adaptive":
        if cfg["init"] != "degenerate" or cfg["a_law"] == "point":
            return ("parameter 'a_rule' must be 'gauss-legendre' unless init='degenerate' "
                    "and a_law is uniform or normal (the adaptive rule refines a "
                    "one-dimensional initial law)")
        if cfg["atoms_a"] < 4:
            return (f"parameter 'atoms_a' must be >= 4 for a_rule='adaptive' (nodes per "
                    f"panel), got {cfg['atoms_a']}")
        if cfg["solver"] != "lagrangian":
            return "parameter 'a_rule' must be 'gauss-legendre' for solver='fv'"
    if 0 < cfg.get("smoothing_nodes", 0) < 10:
        return (f"parameter 'smoothing_nodes' must be 0 or >= 10, "
                f"got {cfg['smoothing_nodes']}")
    if cfg["latent_rule"] == "graded" and cfg["latent_nodes"] % 2:
        return (f"parameter 'latent_nodes' must be even for latent_rule='graded', "
                f"got {cfg['latent_nodes']}")
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


def fv_checks(cfg: dict) -> str | None:
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
