r"""Scenario runs of the multi-index ``(a, s, r)`` model: reduced PDE, particle SGD, both.

Used by :class:`~reducedpde.models.multiindex.reduction.MultiIndexReduction` (parameter
table :data:`~reducedpde.models.multiindex.parameters.MULTIINDEX_PARAMETERS`).

PDE. The Lagrangian solver
(:func:`~reducedpde.solvers.lagrangian.multiindex.solve_multiindex_particles`) moves the
atoms of a tensor Gauss quadrature of the initial law

* ``a``: ``a_init`` (``a_law="point"``), Gauss–Hermite for ``N(a_init, a_spread²)`` or
  Gauss–Legendre for ``U[a_init − a_spread, a_init + a_spread]`` (``atoms_a`` nodes);
* ``init="gaussian"``: ``w ~ N(0, κ²/d I_d)``, i.e. ``s ~ N(0, κ²/d I_k)`` (``atoms_s``
  nodes per coordinate: Gauss–Hermite, or ``s_rule="panels"``, see :func:`normal_rule`)
  independent of ``r = κ χ_{d−k}/√d`` (``atoms_r``
  generalised Gauss–Laguerre nodes in ``r²d/(2κ²)``), the finite-``d`` spread of SGD's
  initial law; in the spherical variant ``s ← s/√(|s|² + r²)``;
* ``init="degenerate"``: ``s = 0``, ``r = r_init`` (ABM22's ``μ_a ⊗ δ_{s=0} ⊗ δ_{r=1}``).

The PDE result holds ``mean_norm = ∫ √(|s|² + r²) dρ̄_t`` (``= E‖w‖``), snapshot densities
= the atom-weighted histogram of ``‖w‖`` on ``cells`` equal cells of ``[0, r_max]``, and in
``extra``: ``mean_a`` ``(n_t,)``, ``mean_s`` ``(n_t, k)``, ``mean_r`` ``(n_t,)`` and the
Fourier–Walsh (hypercube: ``fourier`` ``(n_t, 2^k)``, sets in ``attrs['fourier_sets']``) or
orthonormal Hermite (Gaussian: ``hermite``, indices in ``attrs['hermite_indices']``)
coefficients of the mean-field output ``f̄``.

With ``solver="fv"`` (``k = 1``, free noiseless model) the PDE is solved instead by
:func:`~reducedpde.solvers.fv.multiindex.solve_multiindex_fv` on ``fv_cells_a × fv_cells_s ×
fv_cells_r`` equal cells of ``[fv_a_min, fv_a_max] × [fv_s_min, fv_s_max] × [0, fv_r_max]``
from the exact cell masses of the same initial law (:func:`fv_initial_masses`; point
masses are split between the two nearest cell centres, keeping mass and mean). The result
has the same fields: the ‖w‖ histogram puts each cell's mass in the histogram cell of its
centre's ``√(s² + r²)``; the Hermite / Fourier–Walsh coefficients are those of the
cell-centre atoms; ``extra`` adds the marginal densities ``fv_density_a|s|r``,
``fv_min_mass`` and the objective ``free_energy``
``𝓛 = ½R + (λ/2)∫‖θ‖² + β⁻¹∫ρ̄ log(ρ̄/r^{d−k−1})`` (noiseless: without the entropy), and
noisy runs (``beta < inf``) the certificate ``gibbs_gap = β⁻¹ KL(ρ̄ ‖ p_ρ̄)`` of the
proximal Gibbs law ``p_ρ̄ ∝ r^{d−k−1} e^{−βψ_λ}`` on the same grid (docs/mfld.md).

With ``correction="finite-n"`` (Lagrangian solver) the same atoms are also moved by the
self-interacting dynamics of ``N`` neurons (:mod:`.corrections`), and ``extra`` adds its
i.i.d. risk ``risk_corrected`` and ``mean_norm_corrected`` (``attrs``: ``correction``,
``correction_n_neurons``).

SGD. :func:`~reducedpde.models.multiindex.particles.simulate_multiindex` with the same initial law
(``a_law="uniform"`` uses the ``N`` stratified values ``a_init + a_spread(2(i + ½)/N − 1)``,
the same for every seed), recording at the PDE's output times and histogramming ``‖w‖`` on
the PDE's cells at its snapshot times. ``extra`` additionally holds
``snapshot_fourier`` / ``snapshot_hermite`` ``(n_seeds, n_s, n_coef)``: the coefficients of
the reduced (``d → ∞``) output of the SGD neurons ``(a_i, s_i, r_i)`` at the snapshots.
SGD simulates the free model only; the spherical variant is PDE-only.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from ...activations import ShiftedSigmoid, get_activation
from ...results import PDEResult, SGDResult
from ...solvers.lagrangian.multiindex import quadrature_atoms, solve_multiindex_particles
from .adaptive_rule import adapt_label_rule
from .latents import GaussianLatent, HypercubeLatent
from .parameters import MAX_ATOMS
from .reduced import MultiIndexModel
from .spherical import SphericalHermiteModel
from .targets import HermiteTarget, bmz23_target, staircase_target

__all__ = [
    "build_activation",
    "build_model",
    "build_target",
    "fv_grids",
    "fv_initial_masses",
    "histogram_edges",
    "initial_atoms",
    "normal_rule",
    "point_cell_masses",
    "run_multiindex_pde",
    "run_multiindex_sgd",
    "sgd_target",
]


def build_activation(cfg: dict):
    """The activation of a validated multi-index config (``sigmoid_shift`` applies to
    ``shifted-sigmoid``)."""
    if cfg["activation"] == "shifted-sigmoid":
        return ShiftedSigmoid(shift=cfg["sigmoid_shift"])
    return get_activation(cfg["activation"])


def build_target(cfg: dict):
    """The PDE target: a :class:`HermiteTarget` (Gaussian inputs) or :class:`MonomialTarget`."""
    name, k = cfg["target"], cfg["k"]
    if name == "bmz23":
        return bmz23_target()
    if name == "single-index":
        return HermiteTarget({1: 1.0, 2: 0.5})
    if name == "staircase":
        if cfg["inputs"] == "hypercube":
            return staircase_target(k)
        return HermiteTarget(
            {tuple([1] * m + [0] * (k - m)): 1.0 for m in range(1, k + 1)}
        )
    raise ValueError(f"parameter 'target' has no definition for {name!r}")


def sgd_target(cfg: dict) -> dict:
    """The same target as SGD coefficients ``{α: c_α}`` of probabilists' Hermite products
    (on the hypercube ``He_1(z) = z``, so monomials are products of ``He_1``)."""
    target = build_target(cfg)
    k = cfg["k"]
    if isinstance(target, HermiteTarget):
        return {
            alpha: c / math.sqrt(math.prod(math.factorial(x) for x in alpha))
            if target.normalized else c
            for alpha, c in target.coeffs.items()
        }
    return {tuple(1 if j in S else 0 for j in range(k)): c for S, c in target.coeffs.items()}


def build_model(cfg: dict):
    """The reduced model of a validated config: BMZ23's closed-form spherical model for a
    spherical ``k = 1`` Hermite target, else :class:`MultiIndexModel`."""
    act = build_activation(cfg)
    target = build_target(cfg)
    xi_w = cfg["xi_w"]
    xi_a = cfg["lr_ratio"] * xi_w
    if cfg["spherical"] and cfg["k"] == 1 and isinstance(target, HermiteTarget):
        return SphericalHermiteModel(act, target, xi_a=xi_a, xi_w=xi_w, lam=cfg["lam"])
    if cfg["inputs"] == "gaussian":
        latent = GaussianLatent(cfg["k"], cfg["latent_nodes"] or None,
                                rule=cfg.get("latent_rule", "gauss-hermite"))
    else:
        latent = HypercubeLatent(cfg["k"])
    model = MultiIndexModel(act, target, latent, xi_a=xi_a, xi_w=xi_w, lam=cfg["lam"],
                            beta=cfg["beta"], d=float(cfg["d"]), spherical=cfg["spherical"])
    if cfg.get("smoothing_nodes", 0):
        model = model.with_smoothing_nodes(cfg["smoothing_nodes"])
    return model


def smoothing_error(model, sol, n_check: int = 12) -> float:
    """Largest relative change of the risk at ``n_check`` output times when the run's
    smoothing rule (``smoothing_nodes``) is replaced by the default composite rule."""
    reference = model.with_smoothing_nodes(0)
    worst = 0.0
    for j in np.unique(np.linspace(0, sol.t.size - 1, n_check).round().astype(int)):
        exact = reference.risk(sol.a[j], sol.s[j], sol.r[j], sol.weights)
        worst = max(worst, abs(sol.risk[j] - exact) / abs(exact))
    return float(worst)


def label_law(cfg: dict):
    """``(lo, hi, density)`` of the one-dimensional initial law of ``a`` for the adaptive
    rule: the uniform law's interval, or a normal law on ±8 standard deviations."""
    if cfg["a_law"] == "uniform":
        return cfg["a_init"] - cfg["a_spread"], cfg["a_init"] + cfg["a_spread"], None
    mean, std = cfg["a_init"], cfg["a_spread"]
    return (mean - S_PANEL_TAILS * std, mean + S_PANEL_TAILS * std,
            lambda x: np.exp(-0.5 * ((x - mean) / std) ** 2))


def _adaptive_solve(cfg: dict, model, times: np.ndarray, progress: bool):
    """Solve with ``a_rule="adaptive"`` (:mod:`.adaptive_rule`): returns the accepted
    rule's solution and the rule."""
    k = cfg["k"]
    lo, hi, density = label_law(cfg)

    def solve(x, w):
        s0 = np.zeros((x.size, k))
        r0 = np.full(x.size, float(cfg["r_init"]))
        return solve_multiindex_particles(model, x, s0, r0, w, times, method=cfg["method"],
                                          rtol=cfg["rtol"], atol=1e-3 * cfg["rtol"])

    rule = adapt_label_rule(solve, model, lo, hi, order=cfg["atoms_a"],
                            panels=cfg["a_panels"], tol=cfg["a_rule_tol"],
                            max_rounds=cfg["a_rule_rounds"], max_atoms=MAX_ATOMS,
                            density=density,
                            progress=(lambda line: print(line, file=sys.stderr)) if progress
                            else None)
    if not rule.converged:
        warnings.warn(
            f"a_rule='adaptive' stopped after {rule.rounds} rounds "
            f"({rule.history[-1]['atoms']} atoms) with an estimated relative risk error of "
            f"{rule.history[-1]['estimate']:.2g} > a_rule_tol={cfg['a_rule_tol']:g}; raise "
            "a_rule_rounds or atoms_a (attrs['a_rule_converged'] is False)",
            RuntimeWarning, stacklevel=2)
    return rule.solution, rule


def _chi_rule(n: int, nu: float):
    """Nodes and weights of ``χ_ν/√ν`` (generalised Gauss–Laguerre in ``y = χ²_ν/2`` by
    Golub–Welsch, stable for large ``ν``)."""
    alpha = 0.5 * nu - 1.0
    i = np.arange(n, dtype=float)
    off = np.sqrt(i[1:] * (i[1:] + alpha))
    jacobi = np.diag(2.0 * i + alpha + 1.0) + np.diag(off, 1) + np.diag(off, -1)
    y, vectors = np.linalg.eigh(jacobi)
    weights = vectors[0] ** 2
    return np.sqrt(2.0 * np.maximum(y, 0.0) / nu), weights / weights.sum()


#: s_rule="panels" integrates the standardised s over [-S_PANEL_TAILS, S_PANEL_TAILS]
S_PANEL_TAILS = 8.0


def normal_rule(n: int, rule: str = "gauss-hermite", order: int = 3):
    r"""Nodes and weights (summing to one) of ``E f(G)``, ``G ~ N(0, 1)``, with ``n`` nodes.

    ``rule="gauss-hermite"``: the Gauss–Hermite rule. ``rule="panels"``: ``⌊n/order⌋``
    equal panels of ``[−8, 8]`` (:data:`S_PANEL_TAILS`; normal mass outside 1.2e-15),
    ``order`` Gauss–Legendre nodes each (the remainder of ``n`` adds one node to as many
    middle panels; ``n < order``: one panel of ``n`` nodes), weights times the normal
    density. The Gauss–Hermite nodes of
    the initial overlaps spread as ``√n`` into tails that carry no mass, while the flow map
    ``s_0 ↦ (a, s, r)_t`` of a saddle escape is steep near the separatrix at ``s_0 ≈ 0``
    and grows with ``|s_0|`` in the tails: equal panels resolve both at a cost linear in
    the resolution (``single-index-quick``: 96 panel nodes move the risk curve by 8e-5 of a
    converged one, 128 Gauss–Hermite nodes by 1.6e-3).
    """
    if rule == "gauss-hermite":
        x, w = hermegauss(int(n))
        return x, w / w.sum()
    if rule != "panels":
        raise ValueError(f"rule must be 'gauss-hermite' or 'panels', got {rule!r}")
    from numpy.polynomial.legendre import leggauss

    n, order = int(n), int(order)
    if n < 1 or order < 1:
        raise ValueError(f"rule 'panels' needs n >= 1 and order >= 1, got {n}, {order}")
    panels = max(1, n // order)
    # n = panels · order + extra: the `extra` panels in the middle get one node more
    counts = np.full(panels, n // panels)
    extra = n - counts.sum()
    first = (panels - extra) // 2
    counts[first:first + extra] += 1
    edges = np.linspace(-S_PANEL_TAILS, S_PANEL_TAILS, panels + 1)
    xs, ws = [], []
    for lo, hi, q in zip(edges[:-1], edges[1:], counts):
        xg, wg = leggauss(int(q))
        xs.append(0.5 * (lo + hi) + 0.5 * (hi - lo) * xg)
        ws.append(0.5 * (hi - lo) * wg)
    x, w = np.concatenate(xs), np.concatenate(ws)
    w = w * np.exp(-0.5 * x * x)
    return x, w / w.sum()


def initial_atoms(cfg: dict):
    """``(a, s, r, p)``: tensor Gauss quadrature of the initial law (module docstring)."""
    k, d = cfg["k"], cfg["d"]
    law = cfg["a_law"]
    if law == "point":
        a_nodes, a_w = quadrature_atoms(("point", cfg["a_init"]), 1)
    elif law == "normal":
        a_nodes, a_w = quadrature_atoms(("normal", cfg["a_init"], cfg["a_spread"]),
                                        cfg["atoms_a"])
    else:
        lo, hi = cfg["a_init"] - cfg["a_spread"], cfg["a_init"] + cfg["a_spread"]
        a_nodes, a_w = quadrature_atoms(("uniform", lo, hi), cfg["atoms_a"])
    if cfg["init"] == "degenerate":
        s_nodes, s_w = np.zeros((1, k)), np.ones(1)
        r_nodes, r_w = np.array([cfg["r_init"]]), np.ones(1)
    else:
        scale = cfg["kappa"] / math.sqrt(d)
        x, w = normal_rule(cfg["atoms_s"], cfg.get("s_rule", "gauss-hermite"),
                           cfg.get("s_order", 3))
        grids = np.meshgrid(*([x] * k), indexing="ij")
        wgrids = np.meshgrid(*([w] * k), indexing="ij")
        s_nodes = scale * np.stack([g.ravel() for g in grids], axis=1)
        s_w = np.prod(np.stack([g.ravel() for g in wgrids], axis=1), axis=1)
        chi, r_w = _chi_rule(cfg["atoms_r"], d - k)
        r_nodes = cfg["kappa"] * math.sqrt((d - k) / d) * chi
    ia, i_s, ir = np.meshgrid(np.arange(a_nodes.size), np.arange(s_nodes.shape[0]),
                              np.arange(r_nodes.size), indexing="ij")
    ia, i_s, ir = ia.ravel(), i_s.ravel(), ir.ravel()
    a = a_nodes[ia].astype(float)
    s = s_nodes[i_s].astype(float)
    r = r_nodes[ir].astype(float)
    p = a_w[ia] * s_w[i_s] * r_w[ir]
    if cfg["spherical"]:
        norm = np.sqrt(np.sum(s * s, axis=1) + r * r)
        norm = np.where(norm > 0, norm, 1.0)
        s, r = s / norm[:, None], r / norm
        r = np.where(np.sum(s * s, axis=1) + r * r > 0, r, 1.0)
    return a, s, r, p / p.sum()


def histogram_edges(cfg: dict) -> np.ndarray:
    """Cells of the ‖w‖ histograms (PDE and SGD): ``cells`` equal cells of ``[0, r_max]``."""
    return np.linspace(0.0, cfg["r_max"], cfg["cells"] + 1)


def _coefficients(model, a, s, r, p, cfg):
    """``(name, labels, values)`` of the Fourier–Walsh or Hermite coefficients of f̄."""
    latent = getattr(model, "latent", None)
    if latent is not None and latent.kind == "hypercube":
        labels, values = model.fourier_walsh(a, s, r, p)
        return "fourier", labels, values
    degree = max(2, build_target(cfg).degree)
    labels, values = model.hermite_coefficients(a, s, r, p, degree)
    return "hermite", labels, values


# -- finite-volume solver (solver="fv", k = 1) -------------------------------------------

#: MUSCL limiter parameter of the finite-volume solver (1 minmod … 2 MC)
FV_LIMITER_THETA = 1.5


def fv_grids(cfg: dict):
    """``(grid_a, grid_s, grid_r)``: ``fv_cells_a × fv_cells_s × fv_cells_r`` equal cells of
    the box ``[fv_a_min, fv_a_max] × [fv_s_min, fv_s_max] × [0, fv_r_max]``."""
    from ...solvers.fv.grid import Grid1D

    return (Grid1D.uniform(cfg["fv_a_min"], cfg["fv_a_max"], cfg["fv_cells_a"]),
            Grid1D.uniform(cfg["fv_s_min"], cfg["fv_s_max"], cfg["fv_cells_s"]),
            Grid1D.uniform(0.0, cfg["fv_r_max"], cfg["fv_cells_r"]))


def point_cell_masses(grid, x: float) -> np.ndarray:
    """Cell masses of a unit point mass at ``x``: split between the two nearest cell centres
    ``c_j ≤ x < c_{j+1}`` with weights ``(c_{j+1} − x, x − c_j)/(c_{j+1} − c_j)``.

    This cloud-in-cell projection keeps the mass and the mean ``x`` exactly (the cell-average
    projection, all the mass in the cell holding ``x``, moves the mean of the cell-centre
    atoms by up to half a cell). A point below the first or above the last centre goes to
    that end cell.
    """
    c = grid.centres
    m = np.zeros(c.size)
    if x <= c[0]:
        m[0] = 1.0
    elif x >= c[-1]:
        m[-1] = 1.0
    else:
        j = int(np.searchsorted(c, x, side="right")) - 1
        w = (x - c[j]) / (c[j + 1] - c[j])
        m[j], m[j + 1] = 1.0 - w, w
    return m


def fv_initial_masses(cfg: dict, grid_a, grid_s, grid_r) -> np.ndarray:
    r"""Cell masses ``(Ma, Ms, Mr)`` of the initial law (the law of :func:`initial_atoms`).

    Product law. ``a``: exact cell masses of ``N(a_init, a_spread²)`` or
    ``U[a_init ± a_spread]``, or the point ``a_init`` (:func:`point_cell_masses`).
    ``init="gaussian"``: ``s ~ N(0, κ²/d)`` and ``r = κ χ_{d−1}/√d`` (the law of ``‖w_⊥‖``
    for ``w ~ N(0, κ²/d I_d)``), exact cell masses from their distribution functions;
    ``init="degenerate"``: the points ``s = 0``, ``r = r_init``. Mass of the smooth laws
    outside the box is dropped (the solver renormalises; the config checks keep it
    below ~1e-9).
    """
    from scipy.stats import chi, norm, uniform

    law = cfg["a_law"]
    if law == "point":
        ma = point_cell_masses(grid_a, cfg["a_init"])
    elif law == "normal":
        ma = grid_a.cell_masses(norm(cfg["a_init"], cfg["a_spread"]).cdf)
    else:
        ma = grid_a.cell_masses(uniform(cfg["a_init"] - cfg["a_spread"],
                                        2.0 * cfg["a_spread"]).cdf)
    if cfg["init"] == "degenerate":
        ms = point_cell_masses(grid_s, 0.0)
        mr = point_cell_masses(grid_r, cfg["r_init"])
    else:
        scale = cfg["kappa"] / math.sqrt(cfg["d"])
        ms = grid_s.cell_masses(norm(0.0, scale).cdf)
        mr = grid_r.cell_masses(chi(cfg["d"] - cfg["k"], scale=scale).cdf)
    return np.einsum("i,j,l->ijl", ma, ms, mr)


def _fv_hint(message: str) -> str:
    """A finite-volume failure message that names the scenario parameter to change."""
    import re

    found = re.search(r"on the ([asr]) axis \((upper|lower) end", message)
    if found:
        axis, side = found.groups()
        change = f"raise fv_{axis}_max" if side == "upper" else f"lower fv_{axis}_min"
        return (message.replace(f"; enlarge grid_{axis}", "")
                + f"; the law left the finite-volume box: {change} (or shorten t_max, or "
                "use solver=lagrangian)")
    if "negative" in message:
        return message.replace("; reduce cfl", "") + "; lower fv_cfl"
    if "maximum number" in message:
        return message + "; use fewer cells (fv_cells_a/s/r) or a shorter t_max"
    return message


def _run_multiindex_fv(cfg: dict, model, times: np.ndarray, snaps: np.ndarray,
                       progress: bool) -> PDEResult:
    """Finite-volume solution (:func:`~reducedpde.solvers.fv.multiindex.solve_multiindex_fv`)."""
    from ...solvers.fv.multiindex import solve_multiindex_fv
    from ...solvers.fv.radial import SolverError

    grid_a, grid_s, grid_r = fv_grids(cfg)
    masses0 = fv_initial_masses(cfg, grid_a, grid_s, grid_r)
    outside_box = float(max(0.0, 1.0 - masses0.sum()))
    n_t = times.size
    edges = histogram_edges(cfg)
    widths = np.diff(edges)
    # ‖w‖ of the cell centres (s_j, r_l); the ‖w‖ histogram puts each cell's mass in the
    # histogram cell of its centre's norm
    ss, rr = np.meshgrid(grid_s.centres, grid_r.centres, indexing="ij")
    norms = np.hypot(ss, rr).ravel()
    snap_idx = [int(np.argmin(np.abs(times - ts))) for ts in snaps]
    densities = np.full((len(snap_idx), widths.size), np.nan)
    outside = np.zeros(len(snap_idx))
    latent = getattr(model, "latent", None)
    hypercube = latent is not None and latent.kind == "hypercube"
    degree = getattr(model.target, "degree", 2)
    coef_rows: list = []
    labels: list = []
    quad_err: list = []
    atoms_s, atoms_r = ss.reshape(-1, 1), rr.ravel()
    unit = np.ones(atoms_r.size)

    def on_record(k, masses):
        # f̄ depends on the law only through A[j, l] = Σ_i m[i,j,l] a_i: the coefficients of
        # f̄ are those of the atoms (a = A[j,l], s_j, r_l) with unit weights
        weighted_a = np.tensordot(grid_a.centres, masses, axes=(0, 0)).ravel()
        if hypercube:
            lab, values = model.fourier_walsh(weighted_a, atoms_s, atoms_r, unit)
        else:
            lab, values = model.hermite_coefficients(weighted_a, atoms_s, atoms_r, unit, degree)
        labels[:] = lab
        coef_rows.append(values)
        if hasattr(model, "quadrature_error") and k in (0, n_t - 1):
            quad_err.append(model.quadrature_error(weighted_a, atoms_s, atoms_r, unit))
        for i, j in enumerate(snap_idx):
            if j == k:
                mass_sr = masses.sum(axis=0).ravel()
                densities[i] = np.histogram(norms, bins=edges, weights=mass_sr)[0] / widths
                outside[i] = mass_sr[norms >= edges[-1]].sum()

    start = time.perf_counter()
    try:
        sol = solve_multiindex_fv(model, grid_a, grid_s, grid_r, masses0, times,
                                  cfl=cfg["fv_cfl"], limiter_theta=FV_LIMITER_THETA,
                                  boundary_tol=cfg["fv_boundary_tol"], progress=progress,
                                  on_record=on_record)
        failure = None
    except SolverError as exc:
        sol, failure = exc.partial, _fv_hint(str(exc))
        if sol is None:
            raise SolverError(failure) from None
    wall = time.perf_counter() - start
    n_rec = sol.t.size
    keep = [i for i, j in enumerate(snap_idx) if j < n_rec]
    extra = {"mean_a": sol.mean_a, "mean_s": sol.mean_s, "mean_r": sol.mean_r,
             "fv_density_a": sol.density_a, "fv_density_s": sol.density_s,
             "fv_density_r": sol.density_r, "fv_min_mass": sol.min_mass,
             "free_energy": sol.free_energy}
    if sol.gibbs_gap is not None:
        extra["gibbs_gap"] = sol.gibbs_gap
    shape = (grid_a.n_cells, grid_s.n_cells, grid_r.n_cells)
    attrs = {
        "solver": "finite-volume",
        "scheme": sol.attrs["solver"],
        "model": "multiindex",
        "n_cells": int(np.prod(shape)),
        "fv_cells": [int(n) for n in shape],
        "fv_box": [[float(g.edges[0]), float(g.edges[-1])] for g in (grid_a, grid_s, grid_r)],
        "histogram_cells": int(cfg["cells"]),
        "n_steps": int(sol.n_steps),
        "cfl": float(cfg["fv_cfl"]),
        "cfl_retries": int(sol.attrs.get("cfl_retries", 0)),
        "limiter_theta": FV_LIMITER_THETA,
        "boundary_tol": cfg["fv_boundary_tol"],
        "latent_nodes": int(model.nodes.shape[0]),
        "wall_time_s": wall,
        "interrupted": sol.status == "interrupted",
        "mass_outside_r_max": float(outside[keep].max()),
        "initial_mass_outside_box": outside_box,
        "min_cell_mass": float(np.min(sol.min_mass)),
        "density_convention": "each finite-volume cell's mass is put in the histogram cell "
                              "of its centre's norm sqrt(s^2 + r^2)",
        "initial_projection": "exact cell masses of the smooth initial laws; point masses "
                              "split between the two nearest cell centres (mass and mean "
                              "exact)",
        "model_config": json.dumps(model.to_config()),
    }
    if quad_err:
        attrs["quadrature_error"] = float(max(quad_err))
    if coef_rows:
        values = np.asarray(coef_rows[:n_rec], dtype=float)
        if hypercube:
            extra["fourier"] = values
            attrs["fourier_sets"] = [list(S) for S in labels]
        else:
            extra["hermite"] = values
            attrs["hermite_indices"] = [list(al) for al in labels]
    pde = PDEResult(t=times[:n_rec].copy(), risk=sol.risk, mean_norm=sol.mean_norm,
                    snapshot_times=snaps[keep], densities=densities[keep], grid_edges=edges,
                    attrs=attrs, extra=extra)
    if failure is not None:
        raise SolverError(failure, pde)
    return pde


def run_multiindex_pde(cfg: dict, times: np.ndarray, snaps: np.ndarray, *,
                       progress: bool = False, model=None) -> PDEResult:
    """Solution of the reduced ``(a, s, r)`` dynamics of a validated config: Lagrangian
    atoms (``solver="lagrangian"``) or finite volumes (``solver="fv"``; ``progress`` shows
    its progress bar)."""
    from ...solvers.fv.radial import SolverError

    model = build_model(cfg) if model is None else model
    correction = cfg.get("correction", "none")
    if correction != "none":
        from .corrections import check_correction

        check_correction(correction, cfg.get("solver", "lagrangian"))
    if cfg.get("solver", "lagrangian") == "fv":
        return _run_multiindex_fv(cfg, model, times, snaps, progress)
    adaptive = cfg.get("a_rule", "gauss-legendre") == "adaptive"
    start = time.perf_counter()
    try:
        if adaptive:
            sol, rule = _adaptive_solve(cfg, model, times, progress)
            a, s, r, p = sol.a[0], sol.s[0], sol.r[0], sol.weights
        else:
            a, s, r, p = initial_atoms(cfg)
            sol = solve_multiindex_particles(model, a, s, r, p, times, method=cfg["method"],
                                             rtol=cfg["rtol"], atol=1e-3 * cfg["rtol"])
    except RuntimeError as exc:
        raise SolverError(str(exc)) from None
    wall = time.perf_counter() - start
    edges = histogram_edges(cfg)
    widths = np.diff(edges)
    norms = np.sqrt(np.sum(sol.s * sol.s, axis=2) + sol.r * sol.r)  # (n_t, M)
    snap_idx = [int(np.argmin(np.abs(times - ts))) for ts in snaps]
    densities = np.stack(
        [np.histogram(norms[j], bins=edges, weights=sol.weights)[0] / widths for j in snap_idx]
    )
    outside = float(max(sol.weights[norms[j] >= edges[-1]].sum() for j in snap_idx))
    extra = {"mean_a": sol.mean_a, "mean_s": sol.mean_s, "mean_r": sol.mean_r}
    attrs = {
        "solver": sol.attrs["solver"],
        "model": "spherical-hermite" if isinstance(model, SphericalHermiteModel)
        else "multiindex",
        "n_atoms": int(sol.weights.size),
        "n_rhs": int(sol.attrs["n_rhs"]),
        "n_steps": int(sol.attrs["n_rhs"]),
        "n_cells": int(cfg["cells"]),
        "rtol": float(cfg["rtol"]),
        "wall_time_s": wall,
        "mass_outside_r_max": outside,
        "model_config": json.dumps(model.to_config()),
    }
    if "quadrature_error" in sol.attrs:
        attrs["quadrature_error"] = float(sol.attrs["quadrature_error"])
    if adaptive:
        attrs.update({"a_rule": "adaptive", "a_rule_rounds": rule.rounds,
                      "a_rule_converged": bool(rule.converged),
                      "a_rule_panels": int(rule.edges.size - 1),
                      "a_rule_history": json.dumps(rule.history)})
        extra["a_rule_edges"] = rule.edges
        extra["risk_error_estimate"] = rule.error_estimate
        attrs["risk_error_estimate"] = float(rule.error_estimate.max())
        attrs["risk_rel_error_estimate"] = rule.history[-1]["estimate"]
    if cfg.get("smoothing_nodes", 0) and isinstance(model, MultiIndexModel):
        attrs["smoothing_nodes"] = int(cfg["smoothing_nodes"])
        attrs["smoothing_error"] = smoothing_error(model, sol)
    if sol.fourier is not None:
        extra["fourier"] = sol.fourier
        attrs["fourier_sets"] = [list(S) for S in sol.fourier_sets]
    if sol.hermite is not None:
        extra["hermite"] = sol.hermite
        attrs["hermite_indices"] = [list(al) for al in sol.hermite_indices]
    pde = PDEResult(t=times, risk=sol.risk, mean_norm=sol.mean_norm, snapshot_times=snaps,
                    densities=densities, grid_edges=edges, attrs=attrs, extra=extra)
    if correction == "finite-n":
        from .corrections import add_finite_n_prediction

        add_finite_n_prediction(cfg, pde, model, (a, s, r, p), times)
    return pde


def _initial_a(cfg: dict):
    """``(a_init, a_std)`` of :func:`simulate_multiindex` for the config's law of ``a``."""
    law = cfg["a_law"]
    if law == "point":
        return cfg["a_init"], 0.0
    if law == "normal":
        return cfg["a_init"], cfg["a_spread"]
    n = cfg["N"]
    u = (np.arange(n) + 0.5) / n
    return cfg["a_init"] + cfg["a_spread"] * (2.0 * u - 1.0), 0.0


def run_multiindex_sgd(cfg: dict, times: np.ndarray, snaps: np.ndarray, *, xi=None,
                       progress: bool = True, keep_weights: bool = False,
                       checkpointing=None, model=None) -> SGDResult:
    """Particle SGD of a validated config, recorded at the PDE's times and cells
    (``checkpointing``: see :class:`reducedpde.solvers.particles.runner.Checkpointing`)."""
    from .particles import simulate_multiindex

    if cfg["spherical"]:
        raise ValueError(
            "parameter 'spherical' must be false for SGD (SGD simulates the free (a, s, r) "
            "model; rerun with -p spherical=false)"
        )
    a_init, a_std = _initial_a(cfg)
    if cfg["init"] == "gaussian":
        w_init, kappa = "gaussian", cfg["kappa"]
    else:
        w_init, kappa = {"s": 0.0, "r": cfg["r_init"]}, 1.0
    sgd = simulate_multiindex(
        N=cfg["N"], d=cfg["d"], k=cfg["k"], target=sgd_target(cfg), eps=cfg["eps"],
        t_max=cfg["t_max"], inputs=cfg["inputs"], activation=build_activation(cfg),
        lam=cfg["lam"], beta=cfg["beta"], batch=cfg["batch"], xi=xi,
        xi_a=cfg["lr_ratio"] * cfg["xi_w"],
        xi_w=cfg["xi_w"], a_init=a_init, a_std=a_std, w_init=w_init, kappa=kappa,
        seeds=tuple(range(cfg["seed"], cfg["seed"] + cfg["seeds"])), record_times=times,
        snapshot_times=snaps, hist_edges=histogram_edges(cfg), hist_variable="norm",
        n_test=cfg["n_test"], keep_weights=keep_weights, progress=progress,
        checkpointing=checkpointing,
    )
    snap_a, snap_s, snap_r = (sgd.extra.get(f"snapshot_{key}") for key in ("a", "s", "r"))
    if snap_a is not None and snap_s is not None and snap_r is not None:
        model = build_model(cfg) if model is None else model
        n_seeds, n_snap, n = snap_a.shape
        p = np.full(n, 1.0 / n)
        rows, name, labels = [], None, None
        for i in range(n_seeds):
            row = []
            for j in range(n_snap):
                name, labels, values = _coefficients(model, snap_a[i, j], snap_s[i, j],
                                                     snap_r[i, j], p, cfg)
                row.append(values)
            rows.append(row)
        if name is not None:
            sgd.extra[f"snapshot_{name}"] = np.asarray(rows, dtype=float)
            sgd.attrs["fourier_sets" if name == "fourier" else "hermite_indices"] = [
                list(x) for x in labels
            ]
            sgd.attrs["snapshot_coefficients"] = (
                "coefficients of the reduced (d -> inf) output of the SGD neurons (a, s, r)"
            )
    return sgd
