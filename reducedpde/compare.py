r"""Discrepancy between a reduced-PDE run and the particle SGD of the same scenario.

Metrics (all computed at the times both runs recorded):

* ``sup_risk``      — ``sup_t |R_SGD(t) − R_PDE(t)|`` with ``R_SGD`` averaged over seeds;
* ``sup_mean_norm`` — ``sup_t |E_N‖w‖ − ∫ r dρ̄_t|``;
* ``w1``            — at each snapshot time, the Wasserstein-1 distance between the law of
  the reduced variable under SGD and the PDE density, ``W1 = ∫ |F_SGD(r) − F_PDE(r)| dr``:
  with the per-neuron values (``sgd.extra['snapshot_norm']``, all seeds pooled) when
  recorded, else with the SGD histogram (both distribution functions piecewise linear on
  their own cells); ``max_w1`` is the largest value.

Tolerance. MMN18 (Thm. 3) bound the distance between SGD with ``N`` neurons and step ``ε``
and the distributional dynamics, uniformly on bounded time intervals, by

    err ≤ K √(max(1/N, ε)) · [√(D + log(N/ε)) + z]          (with probability 1 − e^{−z²}),

with ``D`` the neuron dimension and a constant ``K`` that the theorem does not make
explicit. We use the scale ``τ = C · √(max(1/N, ε)) · √(D + log(N/ε))`` with ``C = 1``
(:data:`TOLERANCE_CONSTANT`) for every scenario: the bound read at face value, without a
fitted constant. The check passes when ``sup_risk`` and ``sup_mean_norm`` are both below
``τ``; ``max_w1`` is reported alongside.
"""

from __future__ import annotations

import math

import numpy as np

from .results import ComparisonResult, PDEResult, SGDResult

__all__ = [
    "TOLERANCE_CONSTANT",
    "compare",
    "mmn18_error_scale",
    "wasserstein1_histograms",
    "wasserstein1_samples",
]

#: constant C in the tolerance C·√(max(1/N, ε))·√(D + log(N/ε)); fixed once for all runs
TOLERANCE_CONSTANT = 1.0


def mmn18_error_scale(n_neurons: int, eps: float, dim: float) -> float:
    """``√(max(1/N, ε)) · √(D + log(N/ε))`` (the MMN18 error scale without its constant)."""
    if n_neurons < 1 or eps <= 0 or dim < 1:
        raise ValueError("need N >= 1, eps > 0 and D >= 1")
    return math.sqrt(max(1.0 / n_neurons, eps)) * math.sqrt(dim + math.log(n_neurons / eps))


def _cdf_on(points, edges, density):
    """Piecewise-linear distribution function of a histogram density, at ``points``."""
    masses = np.asarray(density, float) * np.diff(edges)
    total = masses.sum()
    cumulative = np.concatenate([[0.0], np.cumsum(masses)])
    if total > 0:
        cumulative /= total
    return np.interp(points, edges, cumulative, left=0.0, right=1.0)


def wasserstein1_histograms(edges_a, density_a, edges_b, density_b) -> float:
    """``W1 = ∫ |F_a − F_b| dr`` for two histogram densities on their own edges.

    Both distribution functions are piecewise linear between their edges; on the union of
    the edges their difference is piecewise linear too, and the integral of its absolute
    value is computed exactly (a sign change inside a piece is located by linear
    interpolation).
    """
    points = np.union1d(np.asarray(edges_a, float), np.asarray(edges_b, float))
    diff = _cdf_on(points, edges_a, density_a) - _cdf_on(points, edges_b, density_b)
    return _integral_of_abs_linear(diff[:-1], diff[1:], np.diff(points))


def wasserstein1_samples(samples, edges, density) -> float:
    """``W1 = ∫ |F_emp − F| dr`` between the empirical law of ``samples`` and a histogram
    density on ``edges`` (exact: ``F_emp`` is constant and ``F`` linear between the sorted
    union of samples and edges)."""
    samples = np.sort(np.asarray(samples, float).ravel())
    points = np.union1d(samples, np.asarray(edges, float))
    empirical = np.searchsorted(samples, points[:-1], side="right") / samples.size
    model = _cdf_on(points, edges, density)
    return _integral_of_abs_linear(model[:-1] - empirical, model[1:] - empirical,
                                   np.diff(points))


def _integral_of_abs_linear(left, right, width) -> float:
    """``Σ ∫ |g|`` over pieces where ``g`` is linear from ``left`` to ``right``."""
    same_sign = left * right >= 0
    area_same = 0.5 * width * (np.abs(left) + np.abs(right))
    denom = np.where(same_sign, 1.0, np.abs(left) + np.abs(right))
    area_cross = 0.5 * width * (left**2 + right**2) / denom
    return float(np.sum(np.where(same_sign, area_same, area_cross)))


def compare(pde: PDEResult, sgd: SGDResult, n_neurons: int, eps: float, dim: float,
            constant: float = TOLERANCE_CONSTANT) -> ComparisonResult:
    """Compare a PDE run with an SGD ensemble; see the module docstring for the metrics.

    The PDE curves are interpolated (linearly) at the SGD recording times that lie within
    the PDE time range.
    """
    t = np.asarray(sgd.t, float)
    inside = (t >= pde.t[0]) & (t <= pde.t[-1])
    if not np.any(inside):
        raise ValueError("the PDE and SGD runs share no recording time")
    t = t[inside]
    risk_sgd = np.asarray(sgd.risk, float).mean(axis=0)[inside]
    norm_sgd = np.asarray(sgd.mean_norm, float).mean(axis=0)[inside]
    risk_pde = np.interp(t, pde.t, pde.risk)
    norm_pde = np.interp(t, pde.t, pde.mean_norm)
    risk_gap = np.abs(risk_sgd - risk_pde)
    norm_gap = np.abs(norm_sgd - norm_pde)

    w1_times, w1 = [], []
    hist = np.asarray(sgd.histograms, float).mean(axis=0)
    # per-neuron values at the snapshots (all seeds pooled) give the exact empirical law
    samples = sgd.extra.get("snapshot_norm")
    for k, ts in enumerate(np.asarray(sgd.snapshot_times, float)):
        # SGD snapshots sit on whole steps kε: match PDE snapshots within one step
        j = int(np.argmin(np.abs(pde.snapshot_times - ts)))
        if abs(pde.snapshot_times[j] - ts) > eps * (1 + 1e-9) + 1e-12:
            continue
        w1_times.append(ts)
        if samples is not None:
            w1.append(wasserstein1_samples(samples[:, k], pde.grid_edges, pde.densities[j]))
        else:
            w1.append(wasserstein1_histograms(sgd.hist_edges, hist[k], pde.grid_edges,
                                              pde.densities[j]))
    tolerance = constant * mmn18_error_scale(n_neurons, eps, dim)
    sup_risk = float(risk_gap.max())
    sup_norm = float(norm_gap.max())
    metrics = {
        "sup_risk": sup_risk,
        "sup_mean_norm": sup_norm,
        "max_w1": float(max(w1)) if w1 else math.nan,
        "final_risk_pde": float(risk_pde[-1]),
        "final_risk_sgd": float(risk_sgd[-1]),
        "tolerance_constant": float(constant),
        "N": int(n_neurons),
        "eps": float(eps),
        "D": float(dim),
    }
    arrays = {
        "t": t,
        "risk_gap": risk_gap,
        "mean_norm_gap": norm_gap,
        "w1_times": np.asarray(w1_times, float),
        "w1": np.asarray(w1, float),
    }
    passed = bool(sup_risk <= tolerance and sup_norm <= tolerance)
    return ComparisonResult(metrics=metrics, tolerance=float(tolerance), passed=passed,
                            arrays=arrays)
