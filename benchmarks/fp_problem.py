"""The shared linear radial Fokker–Planck problem, its exact laws and the error measure.

    ∂_t ρ = ∂_r(ρ V') + D ∂_r(∂_r ρ − ((d−1)/r) ρ),   0 < r < 4,   no flux at both ends,
    V(r) = r²/2 + 0.5 cos(3r),   D = 0.05,   d = 10,

i.e. ``∂_t ρ = −∂_r J`` with ``J = −D(∂_r ρ + U' ρ)``, ``U = V/D − (d−1) ln r``. Steady state
``ρ_∞ ∝ r^{d−1} e^{−V/D}``; initial law ``ρ_0 ∝ r^{d−1} exp(−(r − 2.5)²/(2·0.3²))``; both
have mass 1 on ``[0, 4]``.

Every solver works on ``M`` equal cells and returns one value per cell; the value times the
cell width is read as the cell mass (all three tools are second order in space, so the
difference between a centre value and a cell average is within their own error). The error
of a solution is the L1 distance ``Σ_j |m_j − m_j^ref|`` between its cell masses and those
of the reference on the same cells.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator

R_MAX = 4.0
D = 0.05
DIM = 10
R0, SIGMA0 = 2.5, 0.3


def potential(r):
    """``V(r) = r²/2 + 0.5 cos(3r)``."""
    return 0.5 * r**2 + 0.5 * np.cos(3.0 * r)


def potential_derivative(r):
    """``V'(r) = r − 1.5 sin(3r)``."""
    return r - 1.5 * np.sin(3.0 * r)


def _log_initial(r):
    return (DIM - 1) * np.log(r) - (r - R0) ** 2 / (2.0 * SIGMA0**2)


def _log_steady(r):
    return (DIM - 1) * np.log(r) - potential(r) / D


def _cell_integrals(log_density, edges, nodes=12):
    """``∫ exp(log_density)`` over each cell by Gauss–Legendre (``nodes`` per cell),
    normalised to total mass 1 over ``[0, 4]`` (computed on 4000 sub-cells)."""
    x, w = np.polynomial.legendre.leggauss(nodes)

    def integrate(e):
        mid, half = 0.5 * (e[1:] + e[:-1]), 0.5 * np.diff(e)
        pts = mid[:, None] + half[:, None] * x[None, :]
        return half * (np.exp(log_density(pts) - shift) @ w)

    fine = np.linspace(0.0, R_MAX, 4001)
    mid = 0.5 * (fine[1:] + fine[:-1])
    shift = np.max(log_density(mid))
    total = integrate(fine).sum()
    return integrate(np.asarray(edges, dtype=float)) / total


def edges(n_cells):
    return np.linspace(0.0, R_MAX, int(n_cells) + 1)


def initial_masses(n_cells):
    """Exact cell masses of ``ρ_0``."""
    return _cell_integrals(_log_initial, edges(n_cells))


def steady_masses(n_cells):
    """Exact cell masses ``∫ ρ_∞`` of the steady state."""
    return _cell_integrals(_log_steady, edges(n_cells))


class Reference:
    """Cell masses of a fine-grid solution, re-binned onto any coarser grid of ``[0, 4]``.

    The cumulative mass at the fine edges is interpolated monotonically (PCHIP).
    """

    def __init__(self, masses):
        masses = np.asarray(masses, dtype=float)
        self.n_cells = masses.size
        self.masses = masses
        self._cdf = PchipInterpolator(edges(masses.size), np.concatenate([[0.0],
                                                                          np.cumsum(masses)]))

    def on(self, n_cells):
        return np.diff(self._cdf(edges(n_cells)))

    def error(self, masses):
        """L1 distance of ``masses`` (equal cells on [0, 4]) to the reference."""
        masses = np.asarray(masses, dtype=float)
        return float(np.abs(masses - self.on(masses.size)).sum())
