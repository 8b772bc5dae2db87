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

    @classmethod
    def graded(cls, upper: float, n_cells: int, floor: float, knee: float | None = None
               ) -> Grid1D:
        r"""``n_cells`` cells on ``[0, upper]`` of width ``h(r) = α · clip(r, floor, knee)``.

        Equal cells of width ``α·floor`` on ``[0, floor]``, cells growing geometrically
        (width ``α r``: equal steps in ``log r``) on ``[floor, knee]``, and equal cells of
        width ``α·knee`` on ``[knee, upper]`` (``knee = upper`` when not given), with ``α``
        fixed by the number of cells,
        ``α n_cells = 1 + ln(knee/floor) + (upper − knee)/knee``. Below the knee the
        *relative* resolution ``h/r = α`` is the same at every radius, so a narrow law at
        small ``r`` (``w ~ N(0, κ²/d I)`` with small ``κ``: relative width ``1/√(2d)``) is
        resolved by as many cells as a wide one near the knee.
        """
        knee = upper if knee is None else knee
        if not 0.0 < floor < upper:
            raise ValueError(f"floor must lie in (0, upper={upper:g}), got {floor:g}")
        if not floor <= knee <= upper:
            raise ValueError(f"knee must lie in [floor={floor:g}, upper={upper:g}], got {knee:g}")
        n_cells = int(n_cells)
        log_end = 1.0 + np.log(knee / floor)
        span = log_end + (upper - knee) / knee
        s = np.linspace(0.0, span, n_cells + 1)
        edges = np.where(s <= 1.0, floor * s,
                         np.where(s <= log_end, floor * np.exp(s - 1.0),
                                  knee * (1.0 + s - log_end)))
        edges[-1] = upper
        return cls(edges)

    @property
    def n_cells(self) -> int:
        return self.centres.size

    def cell_masses(self, cdf) -> np.ndarray:
        """Exact cell masses ``F(e_{j+1}) − F(e_j)`` of a law with distribution function ``cdf``."""
        values = np.asarray(cdf(self.edges), dtype=float)
        return np.diff(values)

    def __repr__(self) -> str:
        return f"Grid1D([{self.edges[0]:g}, {self.edges[-1]:g}], n_cells={self.n_cells})"
