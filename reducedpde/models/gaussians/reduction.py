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
#: its d → ∞ limit: ‖w‖ = κ χ_d/√d → κ
POINT_MASS_INITIAL_LAW = "point mass at r = kappa (d = inf limit of N(0, kappa^2/d I))"


class GaussiansReduction(Reduction):
    """Isotropic Gaussian classes, radial reduction (MMN18)."""

    name = "gaussians"
    parameters = GAUSSIANS_PARAMETERS
    checks = (gaussians_checks,)
    summaries = ("logistic_loss", "classification_error")

    def initial_law(self, initial_density=None) -> str:
        if initial_density is not None:
            return "user density"
        if math.isinf(self.config["d"]):
            return POINT_MASS_INITIAL_LAW
        return GAUSSIAN_INITIAL_LAW

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

    def classifier(self):
        """The :class:`~.classification.RadialClassifier` of the config (built once): the
        population logistic loss, classification error and logistic velocity of radial
        laws."""
        if not hasattr(self, "_classifier"):
            from ...activations import get_activation
            from .classification import RadialClassifier

            cfg = self.config
            self._classifier = RadialClassifier(get_activation(cfg["activation"]),
                                                cfg["delta"], cfg["d"])
        return self._classifier

    def records_classification(self) -> bool:
        """Whether runs record ``logistic_loss`` and ``classification_error``
        (``classification``: ``auto`` is on for the logistic loss only; the metrics cost
        about as much as a short run of the square loss itself)."""
        choice = self.config.get("classification", "auto")
        if choice == "auto":
            return self.config.get("loss", "square") == "logistic"
        return choice == "on"

    def pde_hooks(self, grid, observe: bool = True) -> dict:
        """Keyword arguments of :func:`~reducedpde.solvers.fv.radial.solve_radial` for the
        loss: with ``loss = logistic`` the logistic velocity field (noiseless) or the
        logistic potential (``beta < inf``, Scharfetter–Gummel steppers), and the
        per-output-time metrics (``logistic_loss``, ``classification_error``; logistic runs
        add ``objective``), built on ``grid``."""
        from .classification import (
            LogisticPotential,
            LogisticTransportField,
            RadialClassificationObserver,
        )

        cfg = self.config
        hooks = {}
        K = None
        if cfg.get("loss", "square") == "logistic" and math.isinf(cfg["beta"]):
            field = LogisticTransportField(self.classifier(), grid.centres, grid.edges,
                                           lam=cfg["lam"])
            hooks["velocity_field"] = field
            K = field.K
        elif cfg.get("loss", "square") == "logistic":
            potential = LogisticPotential(self.classifier(), grid.centres, lam=cfg["lam"])
            hooks["potential_field"] = potential
            K = potential.features
        if observe and self.records_classification():
            hooks["observe"] = RadialClassificationObserver(
                self.classifier(), grid.centres, lam=cfg["lam"],
                loss=cfg.get("loss", "square"), output_matrix=K)
        return hooks

    def population_risk(self, weights, second_layer=None) -> float:
        """Exact risk of ``ŷ(x) = (1/N) Σ σ(⟨w_i, x⟩)`` (closed-form pair expectations)."""
        from ...activations import get_activation
        from .population_risk import gaussian_classes_risk

        if second_layer is not None:
            raise ValueError("the Gaussian-classes network has no second layer")
        return gaussian_classes_risk(weights, get_activation(self.config["activation"]),
                                     self.config["delta"])

    def grid(self):
        """The finite-volume grid: ``cells`` cells on ``[0, r_max]``, graded (width
        ``∝ max(r, grid_floor)``, :meth:`~reducedpde.solvers.fv.grid.Grid1D.graded`) or
        uniform."""
        from ...solvers.fv.grid import Grid1D

        cfg = self.config
        if cfg["grid"] == "uniform":
            return Grid1D.uniform(0.0, cfg["r_max"], cfg["cells"])
        return Grid1D.graded(cfg["r_max"], cfg["cells"], cfg["grid_floor"], cfg["grid_knee"])

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

    def output_times(self) -> tuple[np.ndarray, np.ndarray]:
        """Annealed runs (``anneal != none``): rounds back to back, snapshots at every round
        end (:func:`.annealing.annealed_output_times`); otherwise the default."""
        if self.config.get("anneal", "none") != "none":
            from .annealing import annealed_output_times

            return annealed_output_times(self.config)
        return super().output_times()

    def histogram_edges(self, n_bins: int = 200) -> np.ndarray:
        """Histogram bins of ‖w‖ for SGD: the PDE cells merged into at most ``n_bins``."""
        cells = self.config["cells"]
        factor = max(1, int(np.ceil(cells / n_bins)))
        edges = self.grid().edges
        return np.unique(np.concatenate([edges[::factor], [edges[-1]]]))

    # -- solvers -----------------------------------------------------------------------
    def check_pde_options(self, *, xi=None, initial_density=None, resume=None) -> None:
        if resume is not None and initial_density is not None:
            raise ValueError("resume: pass no initial_density (the state comes from the file)")
        if math.isinf(self.config["d"]) and initial_density is not None:
            raise ValueError("initial_density: for d = inf the initial law is the point mass "
                             "at r = kappa (the d → ∞ limit of N(0, κ²/d I)); use a finite d "
                             "for another initial law")

        if self.config.get("correction", "none") == "full":
            from .fluctuations import check_full_correction_options

            check_full_correction_options(xi=xi, initial_density=initial_density)

    def check_particle_options(self, *, purpose: str = "SGD", xi=None) -> None:
        if math.isinf(self.config["d"]):
            raise ValueError(
                f"parameter 'd' must be finite for {purpose} (got inf: particle SGD runs in "
                "dimension d; the d = inf PDE runs alone with `reducedpde pde`)")

    def solve_pde(self, times, snapshot_times, *, xi=None, initial_density=None,
                  progress=True, checkpointing=None):
        from ...solvers.fv.radial import solve_radial

        cfg = self.config
        if cfg.get("anneal", "none") != "none":
            from .annealing import solve_annealed_pde

            if xi is not None or (checkpointing is not None and checkpointing.resume):
                raise ValueError("anneal: annealed runs take no xi schedule and no resume")
            return solve_annealed_pde(self, initial_density=initial_density,
                                      progress=progress)
        if math.isinf(cfg["d"]) and initial_density is None:
            return self.solve_point_mass(times, snapshot_times, xi=xi)
        grid = self.grid()
        masses = self.initial_masses(grid, initial_density)
        pde = solve_radial(
            self.reduced_model(), grid, masses, times, snapshot_times=snapshot_times, xi=xi,
            cfl=cfg["cfl"], limiter_theta=cfg["limiter_theta"], step_tol=cfg["step_tol"],
            stepper=cfg["stepper"], min_resolved_cells=cfg["min_resolved_cells"],
            progress=progress, checkpointing=checkpointing, **self.pde_hooks(grid),
        )
        if cfg["error_estimate"] == "companion" and not pde.attrs.get("interrupted"):
            self._companion_error_estimate(pde, times, snapshot_times, xi, initial_density)
        if cfg.get("correction", "none") == "finite-n" and not pde.attrs.get("interrupted"):
            from .corrections import add_finite_n_prediction

            add_finite_n_prediction(self, pde, grid, masses, times, snapshot_times, xi=xi,
                                    progress=progress)
        if cfg.get("correction", "none") == "full" and not pde.attrs.get("interrupted"):
            from .fluctuations import add_fluctuation_prediction

            add_fluctuation_prediction(self, pde, times, xi=xi,
                                       initial_density=initial_density, progress=progress)
        return pde

    def _companion_error_estimate(self, pde, times, snapshot_times, xi, initial_density):
        r"""A-posteriori error estimate of the risk curve from a companion grid.

        The same problem is solved on a grid of the same layout with half the cells; for a
        scheme of order ``p`` in the cell width the error of the fine curve is about
        ``|R_M − R_{M/2}| / (2^p − 1)``. At the default resolutions the observed order is
        between 1 and 2 (limited MUSCL slopes at narrow laws), so the difference itself
        (``p = 1``) is the estimate: an upper estimate for any order ``≥ 1`` (measured
        against runs on four times the cells: the actual error is 0.5–0.8 of it). Stored as
        ``extra['risk_error_estimate']`` (per output time) and its maximum in
        ``attrs['risk_error_estimate']`` (absolute) and ``attrs['risk_rel_error_estimate']``
        (relative to the risk).
        """
        from ...solvers.fv.radial import SolverError, solve_radial

        cfg = self.config
        coarse = self.config.replace(cells=max(20, cfg["cells"] // 2),
                                     error_estimate="none")
        companion = type(self)(coarse)
        grid = companion.grid()
        try:
            other = solve_radial(
                companion.reduced_model(), grid, companion.initial_masses(grid, initial_density),
                times, snapshot_times=snapshot_times, xi=xi, cfl=cfg["cfl"],
                limiter_theta=cfg["limiter_theta"], step_tol=cfg["step_tol"],
                stepper=cfg["stepper"], min_resolved_cells=0.0, progress=False,
                **companion.pde_hooks(grid, observe=False),
            )
        except SolverError as exc:
            pde.attrs["risk_error_estimate_failure"] = f"companion grid: {exc}"
            return
        estimate = np.abs(pde.risk - other.risk)
        pde.extra["risk_error_estimate"] = estimate
        pde.attrs["risk_error_estimate"] = float(estimate.max())
        pde.attrs["risk_rel_error_estimate"] = float(np.max(estimate / np.abs(pde.risk)))
        pde.attrs["error_estimate"] = f"|R_M - R_M/2|, companion grid of {grid.n_cells} cells"

    def solve_point_mass(self, times, snapshot_times, *, xi=None):
        r"""The ``d = ∞`` PDE from its point-mass initial law ``δ_κ``.

        As ``d → ∞`` the law ``κχ_d/√d`` of ``‖w‖`` concentrates at ``κ`` and the noiseless
        radial equation transports a point mass as a point mass, whose radius follows

            dr/dt = −2ξ(t) ∂_r ψ_λ(r; δ_r)        (the atom feels only itself),

        solved by the Lagrangian solver (one atom, DOP853 at rtol 1e-10) in the time
        ``τ = ∫ξ``. The snapshots put the unit mass in the grid cell holding ``r(t)``.
        """
        import time as _time

        from ...results import PDEResult
        from ...solvers.fv.radial import time_change
        from ...solvers.lagrangian.radial import solve_radial_particles

        cfg = self.config
        model = self.reduced_model()
        grid = self.grid()
        start = _time.perf_counter()
        weights = np.ones(1)
        stats: dict = {}
        logistic = cfg.get("loss", "square") == "logistic"
        if logistic:
            from .classification import point_mass_logistic_radius

            radius = point_mass_logistic_radius(self.classifier(), cfg["kappa"],
                                                time_change(times, xi), lam=cfg["lam"])
            stats["n_rhs"] = 0
        else:
            radius = solve_radial_particles(model, np.array([cfg["kappa"]]), weights,
                                            time_change(times, xi), stats=stats)[:, 0]
        wall = _time.perf_counter() - start
        if np.any(radius >= grid.edges[-1]):
            raise ValueError(f"parameter 'r_max' must exceed the radius reached by the point "
                             f"mass ({radius.max():.4g}), got {cfg['r_max']:g}")
        risk = np.array([model.risk(np.array([r]), weights) for r in radius])
        densities = np.zeros((len(snapshot_times), grid.n_cells))
        for k, ts in enumerate(snapshot_times):
            r = radius[int(np.argmin(np.abs(times - ts)))]
            cell = min(int(np.searchsorted(grid.edges, r, side="right")) - 1, grid.n_cells - 1)
            densities[k, cell] = 1.0 / grid.widths[cell]
        free_energy = 0.5 * risk + 0.5 * cfg["lam"] * radius**2
        from .classification import point_mass_metrics

        extra = {"free_energy": free_energy}
        if self.records_classification():
            rows = [point_mass_metrics(self.classifier(), r, lam=cfg["lam"],
                                       loss=cfg.get("loss", "square")) for r in radius]
            extra.update({key: np.array([row[key] for row in rows]) for key in rows[0]})
        attrs = {
            "solver": "lagrangian-point-mass", "n_atoms": 1, "n_rhs": stats["n_rhs"],
            "n_cells": grid.n_cells,
            "r_max": float(grid.edges[-1]), "kernel_rank": int(model.kernel.weights.size),
            "kernel_tail_bound": float(model.kernel.tail_bound), "n_steps": 0,
            "dt_policy": "DOP853, rtol 1e-10, atol 1e-12 (one atom)", "wall_time_s": wall,
            "loss": cfg.get("loss", "square"),
            "interrupted": False,
        }
        return PDEResult(t=np.asarray(times, float), risk=risk, mean_norm=radius,
                         snapshot_times=np.asarray(snapshot_times, float), densities=densities,
                         grid_edges=grid.edges.copy(), attrs=attrs, extra=extra)

    def run_particles(self, times, snapshot_times, *, xi=None, progress=True,
                      keep_weights=False, checkpointing=None):
        from .particles import simulate_gaussians

        self.check_particle_options()
        cfg = self.config
        if cfg.get("particle_dynamics", "sgd") == "flow":
            from .gradient_flow import simulate_gaussians_flow

            return simulate_gaussians_flow(
                N=cfg["N"], d=int(cfg["d"]), delta=cfg["delta"], kappa=cfg["kappa"],
                eps=cfg["eps"], t_max=cfg["t_max"], activation=cfg["activation"],
                lam=cfg["lam"], flow_tol=cfg["flow_tol"], xi=xi,
                seeds=tuple(range(cfg["seed"], cfg["seed"] + cfg["seeds"])),
                record_times=times, hist_edges=self.histogram_edges(),
                snapshot_times=snapshot_times, keep_weights=keep_weights, progress=progress,
                checkpointing=checkpointing,
            )
        anneal = None
        if cfg.get("anneal", "none") != "none":
            from .annealing import particle_schedule

            anneal = particle_schedule(cfg)
        return simulate_gaussians(anneal=anneal,
            N=cfg["N"], d=int(cfg["d"]), delta=cfg["delta"], kappa=cfg["kappa"],
            eps=cfg["eps"], t_max=cfg["t_max"], activation=cfg["activation"], lam=cfg["lam"],
            beta=cfg["beta"], batch=cfg["batch"], xi=xi,
            seeds=tuple(range(cfg["seed"], cfg["seed"] + cfg["seeds"])), record_times=times,
            hist_edges=self.histogram_edges(), snapshot_times=snapshot_times,
            keep_weights=keep_weights, progress=progress, checkpointing=checkpointing,
            loss=cfg.get("loss", "square"),
            held_out=int(cfg.get("held_out", 10_000)) if self.records_classification() else 0,
        )
