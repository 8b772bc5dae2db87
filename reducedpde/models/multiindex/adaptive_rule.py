r"""Adaptive quadrature of a one-dimensional initial law (``a_rule="adaptive"``).

For a degenerate start ``ρ̄_0 = μ_a ⊗ δ_{s_0} ⊗ δ_{r_0}`` (ABM22's staircase) the law at
time ``t`` is the image of ``μ_a`` under the flow map ``a_0 ↦ θ_t(a_0) = (a, s, r)_t``, and
the mean-field network is one integral over the label ``a_0``:

.. math::  f̄_t(z) = ∫ g_t(a_0, z)\, μ_a(da_0), \qquad
           g_t(a_0, z) = a_t(a_0)\, σ_{r_t(a_0)}(⟨s_t(a_0), z⟩).

Where neighbouring labels go to different fates the map develops near-jumps (the
staircase at ``|a_0| ≈ 0.571``: width below 1e-3 by ``t ≈ 30``) and any fixed rule
converges like ``1/n`` (Gauss–Legendre, 128 … 2048 atoms: 1.2e-2 … 1.5e-3 of the risk).
Here the label interval is cut into panels of ``order`` Gauss–Legendre nodes, and after a
solve each panel's integrand is expanded in Legendre polynomials from its node values:

.. math::  g_t(a_0, z) ≈ Σ_{k<q} c_k(z) P_k(x), \qquad
           e_P(z) = \frac{|P|}{L}\, τ_{q-1}\, ρ^{q+1},
           \quad τ_j = |c_j| + |c_{j-1}|, \quad ρ = \min(1, (τ_{q-1}/τ_{m})^{1/(q-1-m)}),

(``m = ⌊q/2⌋``, ``L`` the length of the label interval): the tail coefficient extrapolated
with its fitted decay to the degree ``2q`` that ``q``-point Gauss–Legendre first misses
(``ρ = 1``, no decay, gives the tail itself). With ``δR ≈ −2 E_z[(φ − f̄) δf̄]`` the
relative risk error of the rule is bounded by

.. math::  η(t) = \frac{2\sqrt{E_z (Σ_P e_P)^2}}{\sqrt{R(t)}},

and a panel's share is ``2\sqrt{E_z e_P^2}/\sqrt{R}``, maximised over the output times.
Panels whose share exceeds ``fraction`` of the largest one are split into ``split`` equal
parts and the atoms are solved again (the mean field changes with the rule, so every
round integrates from ``t = 0``), until ``max_t η < tol``; the last round's solution is
the result and its ``η R`` the recorded a-posteriori estimate of the risk error. The
estimate bounds the error of the rule for the final mean field (Cauchy–Schwarz over ``z``,
no cancellation between panels); it does not follow how the quadrature error of earlier
times feeds back through the mean field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.polynomial.legendre import leggauss, legvander

__all__ = ["AdaptiveRuleResult", "adapt_label_rule", "label_rule_error", "panel_rule"]


def panel_rule(edges, order: int, density: Callable | None = None):
    r"""Composite Gauss–Legendre nodes and normalised weights on the panels ``edges``.

    Parameters
    ----------
    edges : array_like, shape (P + 1,)
        Increasing panel edges.
    order : int
        Gauss–Legendre nodes per panel.
    density : callable, optional
        Unnormalised density of the label (default: uniform).

    Returns
    -------
    x, w : ndarray, shape (P · order,)
        Nodes (panel by panel) and weights summing to one.
    """
    edges = np.asarray(edges, dtype=float)
    lo, hi = edges[:-1, None], edges[1:, None]
    xg, wg = leggauss(int(order))
    x = (0.5 * (lo + hi) + 0.5 * (hi - lo) * xg).ravel()
    w = (0.5 * (hi - lo) * wg).ravel()
    if density is not None:
        w = w * density(x)
    return x, w / w.sum()


def _legendre_transform(order: int) -> np.ndarray:
    """Matrix ``C`` with ``c = C g``: Legendre coefficients of the interpolant of the values
    ``g`` at the ``order`` Gauss–Legendre nodes (exact for polynomials of degree < order)."""
    xg, wg = leggauss(order)
    V = legvander(xg, order - 1)
    return (V * wg[:, None]).T * (0.5 * (2 * np.arange(order) + 1))[:, None]


def _panel_errors(values: np.ndarray, order: int, fractions: np.ndarray) -> np.ndarray:
    """``e_P(z)`` (module docstring) from the node values ``values`` (P·order, Q)."""
    n_panels = fractions.size
    c = np.einsum("kq,pqz->pkz", _legendre_transform(order),
                  values.reshape(n_panels, order, -1))
    m = order // 2
    tail = np.abs(c[:, -1]) + np.abs(c[:, -2])
    mid = np.abs(c[:, m]) + np.abs(c[:, m - 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        decay = np.where(mid > 0, (tail / mid) ** (1.0 / (order - 1 - m)), 0.0)
    decay = np.minimum(np.nan_to_num(decay, nan=0.0), 1.0)
    return fractions[:, None] * tail * decay ** (order + 1)


def label_rule_error(model, edges, order: int, a, s, r, risk, density=None,
                     stride: int = 1):
    r"""A-posteriori quadrature error of a panel rule in the label (module docstring).

    Parameters
    ----------
    model : MultiIndexModel
    edges : array_like, shape (P + 1,)
    order : int
    a, r : ndarray, shape (n_t, M)
    s : ndarray, shape (n_t, M, k)
        Atom trajectories at the output times, atoms ordered panel by panel.
    risk : ndarray, shape (n_t,)
    density : callable, optional
    stride : int
        Use every ``stride``-th output time.

    Returns
    -------
    absolute : ndarray, shape (n_t,)
        ``η(t) R(t)``, the estimated absolute risk error (a time skipped by ``stride``
        carries the larger estimate of its two evaluated neighbours).
    shares : ndarray, shape (P,)
        Each panel's share of the relative error, maximised over time.
    """
    edges = np.asarray(edges, dtype=float)
    widths = np.diff(edges)
    if density is None:
        fractions = widths / widths.sum()
    else:
        _, w = panel_rule(edges, order, density)
        fractions = w.reshape(widths.size, order).sum(axis=1)
    weights = model.qweights
    n_t = risk.size
    absolute = np.full(n_t, np.nan)
    shares = np.zeros(widths.size)
    for j in range(0, n_t, stride):
        values = a[j][:, None] * model.features(s[j], r[j])[0]
        e = _panel_errors(values, order, fractions)  # (P, Q)
        root = np.sqrt(max(float(risk[j]), 1e-300))
        absolute[j] = 2.0 * root * np.sqrt(weights @ e.sum(axis=0) ** 2)
        shares = np.maximum(shares, 2.0 * np.sqrt(e**2 @ weights) / root)
    # times between evaluated ones take the larger neighbouring estimate
    done = np.flatnonzero(np.isfinite(absolute))
    idx = np.searchsorted(done, np.arange(n_t))
    right = absolute[done[np.minimum(idx, done.size - 1)]]
    left = absolute[done[np.maximum(idx - 1, 0)]]
    absolute = np.where(np.isfinite(absolute), absolute, np.maximum(left, right))
    return absolute, shares


@dataclass
class AdaptiveRuleResult:
    """The accepted panels of :func:`adapt_label_rule` and how they were reached."""

    edges: np.ndarray
    order: int
    rounds: int
    converged: bool
    nodes: np.ndarray
    weights: np.ndarray
    solution: object
    error_estimate: np.ndarray
    history: list = field(default_factory=list)


def adapt_label_rule(solve: Callable, model, lo: float, hi: float, *, order: int,
                     panels: int = 8, tol: float = 1e-4, split: int = 4,
                     fraction: float = 0.1, max_rounds: int = 8, max_atoms: int = 4096,
                     density: Callable | None = None, stride: int = 2,
                     progress: Callable | None = None) -> AdaptiveRuleResult:
    r"""Refine panels of the label interval ``[lo, hi]`` until ``max_t η < tol``.

    Parameters
    ----------
    solve : callable
        ``solve(x, w)`` → a solution with ``a, s, r`` (atom trajectories at the output
        times) and ``risk``, for labels ``x`` with weights ``w``.
    model : MultiIndexModel
    lo, hi : float
        The label interval.
    order : int
        Gauss–Legendre nodes per panel (≥ 4).
    panels : int
        Equal panels of the first round.
    tol : float
        Target of the estimated relative risk error ``max_t η(t)``.
    split : int
        Children of a refined panel.
    fraction : float
        Panels with a share ≥ ``fraction`` × the largest are refined.
    max_rounds, max_atoms : int
        Stop refining (``converged=False``) after this many rounds or before the rule would
        exceed this many atoms.
    density : callable, optional
        Unnormalised label density (default uniform).
    stride : int
        Output-time stride of the error estimate.
    progress : callable, optional
        Called with a one-line summary after every round.

    Returns
    -------
    AdaptiveRuleResult
        The last round's panels, atoms (``nodes``, ``weights``), ``solution`` and
        ``error_estimate`` (absolute, per output time); ``converged`` is False when a
        limit stopped the refinement first.
    """
    if order < 4:
        raise ValueError(f"parameter 'order' must be >= 4, got {order}")
    edges = np.linspace(lo, hi, int(panels) + 1)
    history = []
    converged = False
    for round_ in range(1, int(max_rounds) + 1):
        x, w = panel_rule(edges, order, density)
        sol = solve(x, w)
        absolute, shares = label_rule_error(model, edges, order, sol.a, sol.s, sol.r,
                                            sol.risk, density, stride)
        estimate = float(np.max(absolute / np.maximum(np.abs(sol.risk), 1e-300)))
        history.append({"round": round_, "panels": int(edges.size - 1),
                        "atoms": int(x.size), "estimate": estimate})
        if progress is not None:
            progress(f"a_rule round {round_}: {edges.size - 1} panels, {x.size} atoms, "
                     f"estimated relative risk error {estimate:.2e}")
        if estimate < tol:
            converged = True
            break
        refine = (shares >= fraction * shares.max()) & (shares > tol / shares.size)
        n_new = (edges.size - 1 + refine.sum() * (split - 1)) * order
        if round_ == max_rounds or n_new > max_atoms:
            break
        children = [np.linspace(a, b, split + 1)[:-1] if flag else np.array([a])
                    for a, b, flag in zip(edges[:-1], edges[1:], refine)]
        edges = np.concatenate([*children, edges[-1:]])
    return AdaptiveRuleResult(edges=edges, order=int(order), rounds=len(history),
                              converged=converged, nodes=x, weights=w, solution=sol,
                              error_estimate=absolute, history=history)
