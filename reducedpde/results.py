"""Plain result containers passed from the solvers to I/O and plotting.

Solvers fill these; :mod:`reducedpde.io` writes and reads them; :mod:`reducedpde.plot`
draws them. They hold NumPy arrays and JSON-serialisable attributes only, no physics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ComparisonResult", "PDEResult", "RunResult", "SGDResult"]


@dataclass
class PDEResult:
    """Output of a reduced-PDE solver.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Output times (SGD time ``t = kε``).
    risk : ndarray, shape (n_t,)
        Population risk ``R(ρ_t)`` (no factor ½).
    mean_norm : ndarray, shape (n_t,)
        Mean neuron norm ``∫ r dρ̄_t`` (radial models) or ``E ‖w‖`` (multi-index).
    snapshot_times : ndarray, shape (n_s,)
        Times of the density snapshots.
    densities : ndarray, shape (n_s, n_cells)
        Density (mass per unit length, w.r.t. ``dr``) in each cell at each snapshot.
    grid_edges : ndarray, shape (n_cells + 1,)
        Cell edges; centres are ``(edges[1:] + edges[:-1]) / 2``.
    attrs : dict
        Scalars describing the run (solver name, number of cells and steps, wall time …).
    extra : dict of str to ndarray
        Further time series (e.g. ``free_energy``), all with a leading ``n_t`` axis.
    checkpoint : dict or None
        Set when the solver stopped before the last output time with checkpointing on:
        the state to resume from. Stored in the group ``checkpoint`` of ``/pde``.
    """

    t: np.ndarray
    risk: np.ndarray
    mean_norm: np.ndarray
    snapshot_times: np.ndarray
    densities: np.ndarray
    grid_edges: np.ndarray
    attrs: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    checkpoint: dict | None = field(default=None, repr=False, compare=False)

    @property
    def grid_centres(self) -> np.ndarray:
        return 0.5 * (self.grid_edges[1:] + self.grid_edges[:-1])

    @property
    def cell_masses(self) -> np.ndarray:
        return self.densities * np.diff(self.grid_edges)


@dataclass
class SGDResult:
    """Output of an ensemble of particle-SGD runs (one row per seed).

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Recording times ``t = kε``.
    risk : ndarray, shape (n_seeds, n_t)
        Exact population risk of the finite network (diagonal terms included).
    mean_norm : ndarray, shape (n_seeds, n_t)
        Mean ``‖w_i‖`` over the N neurons.
    snapshot_times : ndarray, shape (n_s,)
        Times of the histograms.
    histograms : ndarray, shape (n_seeds, n_s, n_bins)
        Normalised histograms (density w.r.t. ``dr``) of the reduced variable on
        ``hist_edges``.
    hist_edges : ndarray, shape (n_bins + 1,)
    seeds : ndarray, shape (n_seeds,)
    attrs : dict
        ``N``, ``d``, ``eps``, wall time, …
    extra : dict of str to ndarray
        Further arrays, e.g. ``risk_stderr`` or ``final_weights``.
    checkpoint : dict or None
        Set when the run was stopped before its end with checkpointing on: the state to
        resume from (nested dict of arrays, numbers and strings; see
        :mod:`reducedpde.solvers.particles.runner`). Stored in the group ``checkpoint`` of ``/sgd``.
    """

    t: np.ndarray
    risk: np.ndarray
    mean_norm: np.ndarray
    snapshot_times: np.ndarray
    histograms: np.ndarray
    hist_edges: np.ndarray
    seeds: np.ndarray
    attrs: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    checkpoint: dict | None = field(default=None, repr=False, compare=False)

    @property
    def risk_mean(self) -> np.ndarray:
        return self.risk.mean(axis=0)

    @property
    def mean_norm_mean(self) -> np.ndarray:
        return self.mean_norm.mean(axis=0)


@dataclass
class ComparisonResult:
    """Discrepancy between a PDE and an SGD run of the same scenario."""

    metrics: dict
    tolerance: float
    passed: bool
    arrays: dict = field(default_factory=dict)


@dataclass
class RunResult:
    """Everything one run produced: the scenario config and whichever parts ran.

    ``source`` is set by :func:`reducedpde.load` (file, creation time, writing version) and
    is not stored by :func:`reducedpde.io.save`.
    """

    scenario: str
    config: dict
    pde: PDEResult | None = None
    sgd: SGDResult | None = None
    comparison: ComparisonResult | None = None
    attrs: dict = field(default_factory=dict)
    source: dict | None = field(default=None, repr=False, compare=False)

    def to_xarray(self):
        """This run as an :class:`xarray.Dataset`; see :func:`reducedpde.labelled.to_xarray`."""
        from .labelled import to_xarray

        return to_xarray(self)

    def _repr_html_(self) -> str:
        from .display import html

        return html(self)
