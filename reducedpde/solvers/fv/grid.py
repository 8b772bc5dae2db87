"""Cell-centred 1-D grids."""

from __future__ import annotations

import numpy as np

__all__ = ["Grid1D"]


class Grid1D:
    """A cell-centred grid on ``[edges[0], edges[-1]]`` with arbitrary (increasing) edges.

    Parameters
    ----------
    edges : array_like, shape (M + 1,)
        Strictly increasing cell edges, ``M ≥ 3``.
    """

    def __init__(self, edges):
        edges = np.ascontiguousarray(edges, dtype=float)
        if edges.ndim != 1 or edges.size < 4:
            raise ValueError(f"a grid needs at least 3 cells, got {max(edges.size - 1, 0)}")
        if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
            raise ValueError("grid edges must be finite and strictly increasing")
        self.edges = edges
        self.centres = 0.5 * (edges[1:] + edges[:-1])
        self.widths = np.diff(edges)

    @classmethod
    def uniform(cls, lower: float, upper: float, n_cells: int) -> Grid1D:
        """``n_cells`` equal cells on ``[lower, upper]``."""
        return cls(np.linspace(lower, upper, int(n_cells) + 1))

    @property
    def n_cells(self) -> int:
        return self.centres.size

    def cell_masses(self, cdf) -> np.ndarray:
        """Exact cell masses ``F(e_{j+1}) − F(e_j)`` of a law with distribution function ``cdf``."""
        values = np.asarray(cdf(self.edges), dtype=float)
        return np.diff(values)

    def __repr__(self) -> str:
        return f"Grid1D([{self.edges[0]:g}, {self.edges[-1]:g}], n_cells={self.n_cells})"
