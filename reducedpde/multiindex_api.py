r"""Scenario runs of the multi-index ``(a, s, r)`` model: reduced PDE, particle SGD, both.

Called by :mod:`reducedpde.api` for scenarios whose model is ``"multiindex"`` (parameter
table :data:`reducedpde.scenarios.MULTIINDEX_PARAMETERS`).

PDE. The Lagrangian solver (:func:`~reducedpde.multiindex_lagrangian.solve_multiindex_particles`)
moves the atoms of a tensor Gauss quadrature of the initial law

* ``a``: ``a_init`` (``a_law="point"``), Gauss–Hermite for ``N(a_init, a_spread²)`` or
  Gauss–Legendre for ``U[a_init − a_spread, a_init + a_spread]`` (``atoms_a`` nodes);
* ``init="gaussian"``: ``w ~ N(0, κ²/d I_d)``, i.e. ``s ~ N(0, κ²/d I_k)`` (``atoms_s``
  Gauss–Hermite nodes per coordinate) independent of ``r = κ χ_{d−k}/√d`` (``atoms_r``
  generalised Gauss–Laguerre nodes in ``r²d/(2κ²)``), the finite-``d`` spread of SGD's
  initial law; in the spherical variant ``s ← s/√(|s|² + r²)``;
* ``init="degenerate"``: ``s = 0``, ``r = r_init`` (ABM22's ``μ_a ⊗ δ_{s=0} ⊗ δ_{r=1}``).

The PDE result holds ``mean_norm = ∫ √(|s|² + r²) dρ̄_t`` (``= E‖w‖``), snapshot densities
= the atom-weighted histogram of ``‖w‖`` on ``cells`` equal cells of ``[0, r_max]``, and in
``extra``: ``mean_a`` ``(n_t,)``, ``mean_s`` ``(n_t, k)``, ``mean_r`` ``(n_t,)`` and the
Fourier–Walsh (hypercube: ``fourier`` ``(n_t, 2^k)``, sets in ``attrs['fourier_sets']``) or
orthonormal Hermite (Gaussian: ``hermite``, indices in ``attrs['hermite_indices']``)
coefficients of the mean-field output ``f̄``.

SGD. :func:`~reducedpde.sgd.multiindex.simulate_multiindex` with the same initial law
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
import time

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from .activations import ShiftedSigmoid, get_activation
from .models.multiindex import (
    GaussianLatent,
    HermiteTarget,
    HypercubeLatent,
    MultiIndexModel,
    SphericalHermiteModel,
    bmz23_target,
    staircase_target,
)
from .multiindex_lagrangian import quadrature_atoms, solve_multiindex_particles
from .results import PDEResult, SGDResult

__all__ = [
    "build_activation",
    "build_model",
    "build_target",
    "histogram_edges",
    "initial_atoms",
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
        latent = GaussianLatent(cfg["k"], cfg["latent_nodes"] or None)
    else:
        latent = HypercubeLatent(cfg["k"])
    return MultiIndexModel(act, target, latent, xi_a=xi_a, xi_w=xi_w, lam=cfg["lam"],
                           d=float(cfg["d"]), spherical=cfg["spherical"])


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
        x, w = hermegauss(cfg["atoms_s"])
        w = w / w.sum()
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


def run_multiindex_pde(cfg: dict, times: np.ndarray, snaps: np.ndarray) -> PDEResult:
    """Lagrangian solution of the reduced ``(a, s, r)`` dynamics of a validated config."""
    from .fv.radial import SolverError

    model = build_model(cfg)
    a, s, r, p = initial_atoms(cfg)
    start = time.perf_counter()
    try:
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
    if sol.fourier is not None:
        extra["fourier"] = sol.fourier
        attrs["fourier_sets"] = [list(S) for S in sol.fourier_sets]
    if sol.hermite is not None:
        extra["hermite"] = sol.hermite
        attrs["hermite_indices"] = [list(al) for al in sol.hermite_indices]
    return PDEResult(t=times, risk=sol.risk, mean_norm=sol.mean_norm, snapshot_times=snaps,
                     densities=densities, grid_edges=edges, attrs=attrs, extra=extra)


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
                       checkpointing=None) -> SGDResult:
    """Particle SGD of a validated config, recorded at the PDE's times and cells
    (``checkpointing``: see :class:`reducedpde.sgd.runner.Checkpointing`)."""
    from .sgd.multiindex import simulate_multiindex

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
        lam=cfg["lam"], batch=cfg["batch"], xi=xi, xi_a=cfg["lr_ratio"] * cfg["xi_w"],
        xi_w=cfg["xi_w"], a_init=a_init, a_std=a_std, w_init=w_init, kappa=kappa,
        seeds=tuple(range(cfg["seed"], cfg["seed"] + cfg["seeds"])), record_times=times,
        snapshot_times=snaps, hist_edges=histogram_edges(cfg), hist_variable="norm",
        n_test=cfg["n_test"], keep_weights=keep_weights, progress=progress,
        checkpointing=checkpointing,
    )
    snap_a, snap_s, snap_r = (sgd.extra.get(f"snapshot_{key}") for key in ("a", "s", "r"))
    if snap_a is not None and snap_s is not None and snap_r is not None:
        model = build_model(cfg)
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
