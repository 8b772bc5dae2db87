r"""The isotropic-Gaussian (MMN18) model behind the :class:`~reducedpde.models.base.Reduction`
protocol: the radial PDE on finite volumes and the particle SGD in dimension ``d``.

Data ``y = ±1`` with ``x ~ N(0, (1 ± Δ)² I_d)``; neurons ``σ(⟨w, x⟩)``; rotation-invariant
laws are described by the law ``ρ̄(r)`` of ``r = ‖w‖`` (see :mod:`.radial`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.legendre import leggauss

from ..base import Reduction
from .parameters import GAUSSIANS_PARAMETERS, gaussians_checks

__all__ = ["GAUSSIAN_INITIAL_LAW", "GaussiansReduction"]

#: the default initial law of the radial (Gaussian-classes) scenarios, as recorded
GAUSSIAN_INITIAL_LAW = "N(0, kappa^2/d I)"


class GaussiansReduction(Reduction):
    """Isotropic Gaussian classes, radial reduction (MMN18)."""

    name = "gaussians"
    parameters = GAUSSIANS_PARAMETERS
    checks = (gaussians_checks,)
    summaries = ()

    def initial_law(self, initial_density=None) -> str:
        return GAUSSIAN_INITIAL_LAW if initial_density is None else "user density"

    @property
    def neuron_dimension(self) -> float:
        return self.config["d"]

    # -- physics -----------------------------------------------------------------------
    def reduced_model(self):
        """The :class:`~.radial.GaussianRadialModel` of the config (built once)."""
        if not hasattr(self, "_reduced"):
            from ...activations import get_activation
            from .radial import GaussianRadialModel

            cfg = self.config
            self._reduced = GaussianRadialModel(
                get_activation(cfg["activation"]), cfg["delta"], cfg["d"], lam=cfg["lam"],
                beta=cfg["beta"], r_bound=cfg["r_max"], kernel_tol=cfg["kernel_tol"],
            )
        return self._reduced

    def population_risk(self, weights, second_layer=None) -> float:
        """Exact risk of ``ŷ(x) = (1/N) Σ σ(⟨w_i, x⟩)`` (closed-form pair expectations)."""
        from ...activations import get_activation
        from .population_risk import gaussian_classes_risk

        if second_layer is not None:
            raise ValueError("the Gaussian-classes network has no second layer")
        return gaussian_classes_risk(weights, get_activation(self.config["activation"]),
                                     self.config["delta"])

    def grid(self):
        """The finite-volume grid: ``cells`` uniform cells on ``[0, r_max]``."""
        from ...solvers.fv.grid import Grid1D

        return Grid1D.uniform(0.0, self.config["r_max"], self.config["cells"])

    def initial_masses(self, grid, initial_density=None) -> np.ndarray:
        """Cell masses of the initial radial law.

        Default: ``w ~ N(0, κ²/d I)`` (exact cell masses of ``κ χ_d/√d``). A user density
        ``initial_density(r)`` (w.r.t. ``dr``, any normalisation) is integrated over each
        cell with 4-point Gauss–Legendre.
        """
        from .radial import scaled_chi_cdf

        if initial_density is None:
            return grid.cell_masses(scaled_chi_cdf(self.config["kappa"], self.config["d"]))
        x, w = leggauss(4)
        nodes = grid.centres[:, None] + 0.5 * grid.widths[:, None] * x[None, :]
        values = np.asarray(initial_density(nodes), dtype=float)
        if values.shape != nodes.shape or np.any(values < 0) or not np.all(np.isfinite(values)):
            raise ValueError("initial_density must return finite, non-negative values for "
                             "arrays")
        return 0.5 * grid.widths * (values @ w)

    def histogram_edges(self, n_bins: int = 200) -> np.ndarray:
        """Histogram bins of ‖w‖ for SGD: the PDE cells merged into at most ``n_bins``."""
        cells = self.config["cells"]
        factor = max(1, int(np.ceil(cells / n_bins)))
        edges = np.linspace(0.0, self.config["r_max"], cells + 1)
        return np.unique(np.concatenate([edges[::factor], [edges[-1]]]))

    # -- solvers -----------------------------------------------------------------------
    def check_pde_options(self, *, xi=None, initial_density=None, resume=None) -> None:
        if resume is not None and initial_density is not None:
            raise ValueError("resume: pass no initial_density (the state comes from the file)")

    def check_particle_options(self, *, purpose: str = "SGD", xi=None) -> None:
        if math.isinf(self.config["d"]):
            raise ValueError("parameter 'd' must be finite for SGD (got inf)")

    def solve_pde(self, times, snapshot_times, *, xi=None, initial_density=None,
                  progress=True, checkpointing=None):
        from ...solvers.fv.radial import solve_radial

        cfg = self.config
        grid = self.grid()
        masses = self.initial_masses(grid, initial_density)
        return solve_radial(
            self.reduced_model(), grid, masses, times, snapshot_times=snapshot_times, xi=xi,
            cfl=cfg["cfl"], limiter_theta=cfg["limiter_theta"], step_tol=cfg["step_tol"],
            stepper=cfg["stepper"], min_resolved_cells=cfg["min_resolved_cells"],
            progress=progress, checkpointing=checkpointing,
        )

    def run_particles(self, times, snapshot_times, *, xi=None, progress=True,
                      keep_weights=False, checkpointing=None):
        from .particles import simulate_gaussians

        self.check_particle_options()
        cfg = self.config
        return simulate_gaussians(
            N=cfg["N"], d=int(cfg["d"]), delta=cfg["delta"], kappa=cfg["kappa"],
            eps=cfg["eps"], t_max=cfg["t_max"], activation=cfg["activation"], lam=cfg["lam"],
            beta=cfg["beta"], batch=cfg["batch"], xi=xi,
            seeds=tuple(range(cfg["seed"], cfg["seed"] + cfg["seeds"])), record_times=times,
            hist_edges=self.histogram_edges(), snapshot_times=snapshot_times,
            keep_weights=keep_weights, progress=progress, checkpointing=checkpointing,
        )
