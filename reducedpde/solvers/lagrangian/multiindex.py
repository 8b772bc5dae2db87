r"""Lagrangian (characteristics) solver for the ``(a, s, r)`` multi-index dynamics.

Without diffusion the law ``ρ̄_t`` of ``(a, s, r)`` is transported by its own mean-field
velocity, ``ρ̄_t = (X_t)_# ρ̄_0``. Writing ``ρ̄_0 ≈ Σ_i p_i δ_{θ_i}`` (a quadrature of the
initial law, or samples) gives the ODE system

    θ̇_i = v(θ_i; Σ_j p_j δ_{θ_j(t)}),   θ = (a, s, r)  (or (a, s) in the spherical variant),

with ``v = −2(ξ_a ∂_a, ξ_w ∇_s, ξ_w ∂_r) Ψ_λ``
(:class:`~reducedpde.models.multiindex.MultiIndexModel`). It is solved with an adaptive
embedded Runge–Kutta method (SciPy's DOP853 by default; pass ``method="LSODA"`` or
``"Radau"`` when a fast second layer, ``ξ_a ≫ ξ_w``, makes the system stiff).
One velocity evaluation costs ``O(M Q)`` for ``M`` atoms and ``Q`` latent nodes.

Degenerate initial laws are handled exactly: ABM22's ``ρ̄_0 = μ_a ⊗ δ_{s=0} ⊗ δ_{r=1}``
stays the image of ``μ_a`` under the flow map ``a_0 ↦ (a_t, s_t, r_t)(a_0)``, so a Gauss
quadrature on ``μ_a`` (:func:`quadrature_atoms`) makes every moment of ``ρ̄_t`` spectrally
accurate in the number of atoms as long as that map is smooth.

Noise: the solver is deterministic. With ``β < ∞`` it can follow the ``d, β → ∞`` limit
with ``(d − k − 1)/β`` fixed (``noise="drift-only"``), where the diffusion coefficients
``2ξ/β`` vanish but the Bessel drift ``(2ξ_w/β)(d−k−1)/r`` stays; full diffusion needs an
Eulerian solver or stochastic particles.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss
from scipy.integrate import solve_ivp

__all__ = [
    "MultiIndexLagrangianResult",
    "degenerate_atoms",
    "gaussian_init_atoms",
    "quadrature_atoms",
    "solve_multiindex_particles",
]


def quadrature_atoms(law, n_atoms: int):
    r"""Gauss quadrature ``(nodes, weights)`` of a one-dimensional law ``μ_a``.

    Parameters
    ----------
    law : tuple
        ``("uniform", lo, hi)``: Gauss–Legendre on ``[lo, hi]`` (exact for polynomials of
        degree ``≤ 2n − 1``); ``("normal", mean, std)``: Gauss–Hermite;
        ``("point", value)``: a single atom.
    n_atoms : int
    """
    kind = law[0]
    if kind == "point":
        return np.array([float(law[1])]), np.ones(1)
    n = int(n_atoms)
    if n < 1:
        raise ValueError(f"n_atoms must be >= 1, got {n_atoms}")
    if kind == "uniform":
        lo, hi = float(law[1]), float(law[2])
        if not hi > lo:
            raise ValueError(f"uniform law needs lo < hi, got {lo}, {hi}")
        x, w = leggauss(n)
        return 0.5 * (lo + hi) + 0.5 * (hi - lo) * x, 0.5 * w
    if kind == "normal":
        mean, std = float(law[1]), float(law[2])
        if not std > 0:
            raise ValueError(f"normal law needs std > 0, got {std}")
        x, w = hermegauss(n)
        return mean + std * x, w / w.sum()
    raise ValueError(f"law must be ('uniform', lo, hi), ('normal', mean, std) or ('point', v); "
                     f"got {law!r}")


def degenerate_atoms(law, n_atoms: int, k: int, s0=None, r0: float = 1.0):
    r"""Atoms of ``μ_a ⊗ δ_{s = s0} ⊗ δ_{r = r0}`` (ABM22's start: ``s0 = 0``, ``r0 = 1``).

    Returns ``(a, s, r, p)`` with shapes (M,), (M, k), (M,), (M,).
    """
    a, p = quadrature_atoms(law, n_atoms)
    s0 = np.zeros(k) if s0 is None else np.asarray(s0, dtype=float).reshape(k)
    s = np.tile(s0, (a.size, 1))
    r = np.full(a.size, float(r0))
    return a, s, r, p


def gaussian_init_atoms(n_atoms: int, k: int, d: float, kappa: float = 1.0, law=("normal", 0, 1),
                        seed: int = 0, symmetric: bool = True, spherical: bool = False):
    r"""Samples of the finite-``d`` start ``w ~ N(0, (κ²/d) I_d)``, ``a ~ μ_a``.

    ``s = Uᵀ w ~ N(0, (κ²/d) I_k)`` and ``r = ‖w_⊥‖ = κ χ_{d−k}/√d`` (independent);
    spherical: ``u = w/‖w‖``, i.e. ``s ← s/√(|s|² + r²)``. With ``symmetric`` the atoms
    come in mirror pairs ``(a, ±s, r)`` (an exactly ``s ↦ −s`` symmetric empirical law).

    Returns ``(a, s, r, p)``; ``p_i = 1/M``.
    """
    if not d > k + 1:
        raise ValueError(f"d must exceed k + 1, got d={d}, k={k}")
    rng = np.random.default_rng(seed)
    m = int(n_atoms)
    half = (m + 1) // 2 if symmetric else m
    kind = law[0]
    if kind == "normal":
        a = law[1] + law[2] * rng.standard_normal(half)
    elif kind == "uniform":
        a = rng.uniform(law[1], law[2], half)
    elif kind == "point":
        a = np.full(half, float(law[1]))
    else:
        raise ValueError(f"unknown law {law!r}")
    s = kappa / math.sqrt(d) * rng.standard_normal((half, k))
    r = kappa / math.sqrt(d) * np.sqrt(rng.chisquare(d - k, half))
    if symmetric:
        a = np.concatenate([a, a])[:m]
        s = np.concatenate([s, -s])[:m]
        r = np.concatenate([r, r])[:m]
    if spherical:
        norm = np.sqrt(np.sum(s * s, axis=1) + r * r)
        s = s / norm[:, None]
        r = r / norm
    return a, s, r, np.full(m, 1.0 / m)


#: integrators that use a Jacobian (passed when the model provides ``velocity_jacobian``)
_IMPLICIT_METHODS = ("LSODA", "Radau", "BDF")


class _BudgetExceeded(Exception):
    pass


@dataclass
class MultiIndexLagrangianResult:
    r"""Output of :func:`solve_multiindex_particles`.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
    risk : ndarray, shape (n_t,)
        Population risk ``E_z[(φ − f̄)²]`` of the mean-field network (no ½).
    mean_a : ndarray, shape (n_t,)
        ``∫ a dρ̄_t``.
    mean_s : ndarray, shape (n_t, k)
        ``∫ s dρ̄_t``.
    mean_r : ndarray, shape (n_t,)
        ``∫ r dρ̄_t``.
    mean_norm : ndarray, shape (n_t,)
        ``∫ ‖w‖ dρ̄_t = ∫ √(|s|² + r²) dρ̄_t``.
    a, r : ndarray, shape (n_t, M)
    s : ndarray, shape (n_t, M, k)
        Atom trajectories at the output times.
    weights : ndarray, shape (M,)
        Atom masses ``p_i``.
    fourier : ndarray, shape (n_t, n_sets) or None
        Hypercube latent: ``E[f̄(z) Π_{j∈S} z_j]`` for ``S`` in ``fourier_sets``.
    fourier_sets : list of tuple
    hermite : ndarray, shape (n_t, n_indices) or None
        Gaussian latent: orthonormal Hermite coefficients ``E[f̄ He_α]/√α!``.
    hermite_indices : list of tuple
    attrs : dict
        Solver, tolerances, number of velocity evaluations, wall time, quadrature error
        estimate, model config.
    extra : dict of str to ndarray
    """

    t: np.ndarray
    risk: np.ndarray
    mean_a: np.ndarray
    mean_s: np.ndarray
    mean_r: np.ndarray
    mean_norm: np.ndarray
    a: np.ndarray
    s: np.ndarray
    r: np.ndarray
    weights: np.ndarray
    fourier: np.ndarray | None = None
    fourier_sets: list = field(default_factory=list)
    hermite: np.ndarray | None = None
    hermite_indices: list = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def coefficient(self, label) -> np.ndarray:
        """Time series of one Fourier–Walsh set ``S`` or Hermite multi-index ``α``."""
        label = tuple(label)
        if self.fourier is not None and label in self.fourier_sets:
            return self.fourier[:, self.fourier_sets.index(label)]
        if self.hermite is not None and label in self.hermite_indices:
            return self.hermite[:, self.hermite_indices.index(label)]
        raise KeyError(f"no recorded coefficient for {label!r}")


def solve_multiindex_particles(
    model,
    a,
    s,
    r=None,
    weights=None,
    times=None,
    *,
    method: str = "DOP853",
    rtol: float = 1e-9,
    atol: float = 1e-11,
    max_step: float = math.inf,
    noise: str = "error",
    max_rhs: int = 2_000_000,
    hermite_degree: int | None = None,
    quadrature_check: bool = True,
) -> MultiIndexLagrangianResult:
    r"""Move the atoms ``(a_i, s_i, r_i)`` with the mean-field velocity of their own measure.

    Parameters
    ----------
    model : MultiIndexModel or SphericalHermiteModel
    a : array_like, shape (M,)
    s : array_like, shape (M, k)
    r : array_like, shape (M,), optional
        Required for the free model; ignored (``r = √(1 − |s|²)``) when spherical.
    weights : array_like, shape (M,), optional
        Atom masses ``p_i`` (default ``1/M``); they are normalised to sum to one.
    times : array_like
        Increasing output times, starting at the initial time.
    method : str
        ``scipy.integrate.solve_ivp`` method (``"DOP853"``, ``"RK45"``, ``"LSODA"``,
        ``"Radau"``, ``"BDF"``).
    rtol, atol, max_step : float
        Step-size control of the adaptive integrator.
    noise : {"error", "drift-only"}
        For ``β < ∞``: refuse (default) or keep only the Bessel drift (the ``d, β → ∞``,
        ``(d−k−1)/β`` fixed limit).
    max_rhs : int
        Give up (``RuntimeError``) after this many velocity evaluations. A kinked
        activation on the hypercube can make the flow non-smooth: once ``r → 0`` a neuron
        can slide along a kink ``⟨s, z_q⟩ = t_j`` and explicit steps collapse; use a
        smooth activation there.
    hermite_degree : int, optional
        Gaussian latent: record the Hermite coefficients of ``f̄`` up to this total degree
        (default: the target's degree, or 2).
    quadrature_check : bool
        Record ``|R_Q − R_Q'|`` (finer latent rule) at the first and last output time.

    Returns
    -------
    MultiIndexLagrangianResult
    """
    if times is None:
        raise ValueError("times are required")
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size < 2 or np.any(np.diff(times) <= 0):
        raise ValueError("times must be a strictly increasing 1-D array with at least 2 entries")
    if getattr(model, "noisy", False) and noise != "drift-only":
        raise ValueError(
            "the Lagrangian solver is deterministic: for beta < inf pass noise='drift-only' "
            "(d, beta -> inf with (d-k-1)/beta fixed) or use an Eulerian solver"
        )
    if noise not in ("error", "drift-only"):
        raise ValueError(f"noise must be 'error' or 'drift-only', got {noise!r}")
    k = model.k
    spherical = bool(model.spherical)
    a = np.atleast_1d(np.asarray(a, dtype=float)).copy()
    m = a.size
    s = np.asarray(s, dtype=float).reshape(m, k).copy()
    if spherical:
        if np.any(np.sum(s * s, axis=1) > 1.0 + 1e-12):
            raise ValueError("spherical model: need |s| <= 1")
        r = model.radius(s)
    else:
        if r is None:
            raise ValueError("r is required for the free (a, s, r) model")
        r = np.atleast_1d(np.asarray(r, dtype=float)).reshape(m).copy()
        if np.any(r < 0):
            raise ValueError("r must be >= 0")
    p = np.full(m, 1.0 / m) if weights is None else np.asarray(weights, dtype=float).reshape(m)
    if np.any(p < 0) or not p.sum() > 0:
        raise ValueError("weights must be non-negative with a positive sum")
    p = p / p.sum()

    def unpack(y):
        aa = y[:m]
        ss = y[m : m + m * k].reshape(m, k)
        rr = model.radius(ss) if spherical else y[m + m * k :]
        return aa, ss, rr

    n_rhs = [0]

    def rhs(t, y):
        n_rhs[0] += 1
        if n_rhs[0] > max_rhs:
            raise _BudgetExceeded(t)
        aa, ss, rr = unpack(y)
        da, ds, dr = model.velocity(aa, ss, rr, p)
        parts = [da, np.asarray(ds).reshape(-1)]
        if not spherical:
            parts.append(dr)
        return np.concatenate(parts)

    y0 = np.concatenate([a, s.reshape(-1)] + ([] if spherical else [r]))
    options = {}
    if method in _IMPLICIT_METHODS and hasattr(model, "velocity_jacobian"):
        # the exact Jacobian instead of 2M velocity evaluations by finite differences
        def jacobian(t, y):
            aa, ss, _ = unpack(y)
            return model.velocity_jacobian(aa, ss, p)

        options["jac"] = jacobian
    start = time.perf_counter()
    try:
        sol = solve_ivp(rhs, (times[0], times[-1]), y0, method=method, t_eval=times,
                        rtol=rtol, atol=atol, max_step=max_step, **options)
    except _BudgetExceeded as exc:
        raise RuntimeError(
            f"Lagrangian solver stopped at t={exc.args[0]:.6g} after max_rhs={max_rhs} velocity "
            "evaluations: the flow is stiff (large xi_a/xi_w: try method='LSODA') or "
            "non-smooth (kinked activation with r -> 0 on the hypercube)"
        ) from None
    wall = time.perf_counter() - start
    if not sol.success:
        raise RuntimeError(f"Lagrangian solver failed: {sol.message}")
    n_t = times.size
    A = np.empty((n_t, m))
    S = np.empty((n_t, m, k))
    Rr = np.empty((n_t, m))
    risk = np.empty(n_t)
    for j in range(n_t):
        A[j], S[j], Rr[j] = unpack(sol.y[:, j])
        risk[j] = model.risk(A[j], S[j], Rr[j], p)
    mean_norm = np.sqrt(np.sum(S * S, axis=2) + Rr * Rr) @ p

    fourier = hermite = None
    fourier_sets: list = []
    hermite_indices: list = []
    latent = getattr(model, "latent", None)
    if latent is not None and latent.kind == "hypercube":
        rows = [model.fourier_walsh(A[j], S[j], Rr[j], p) for j in range(n_t)]
        fourier_sets = rows[0][0]
        fourier = np.stack([row[1] for row in rows])
    elif hasattr(model, "hermite_coefficients"):
        deg = hermite_degree
        if deg is None:
            deg = getattr(model.target, "degree", 2)
        rows = [model.hermite_coefficients(A[j], S[j], Rr[j], p, deg) for j in range(n_t)]
        hermite_indices = rows[0][0]
        hermite = np.stack([row[1] for row in rows])

    attrs = {
        "solver": f"lagrangian-{method}",
        "rtol": rtol,
        "atol": atol,
        "n_atoms": m,
        "n_rhs": int(sol.nfev),
        "n_jacobians": int(sol.njev),
        "exact_jacobian": "jac" in options,
        "wall_time": wall,
        "noise": noise if getattr(model, "noisy", False) else "none",
        "config": model.to_config(),
    }
    if latent is not None:
        attrs["latent_nodes"] = int(latent.nodes.shape[0])
        if quadrature_check and hasattr(model, "quadrature_error"):
            attrs["quadrature_error"] = max(
                model.quadrature_error(A[j], S[j], Rr[j], p) for j in (0, n_t - 1)
            )
    return MultiIndexLagrangianResult(
        t=times,
        risk=risk,
        mean_a=A @ p,
        mean_s=np.einsum("tmk,m->tk", S, p),
        mean_r=Rr @ p,
        mean_norm=mean_norm,
        a=A,
        s=S,
        r=Rr,
        weights=p,
        fourier=fourier,
        fourier_sets=fourier_sets,
        hermite=hermite,
        hermite_indices=hermite_indices,
        attrs=attrs,
    )
