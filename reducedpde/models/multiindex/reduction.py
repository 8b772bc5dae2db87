r"""The multi-index ``(a, s, r)`` model behind the :class:`~reducedpde.models.base.Reduction`
protocol: Lagrangian atoms or finite volumes for the reduced PDE, particle SGD in
dimension ``d`` (see :mod:`.runs` for what each run records).
"""

from __future__ import annotations

from ..base import Reduction
from .parameters import MULTIINDEX_PARAMETERS, fv_checks, multiindex_checks

__all__ = ["MultiIndexReduction"]

_A_LAWS = {"point": "a = a_init", "normal": "a ~ N(a_init, a_spread^2)",
           "uniform": "a ~ U[a_init - a_spread, a_init + a_spread]"}


class MultiIndexReduction(Reduction):
    """Multi-index targets ``y = φ(x_1, …, x_k)``: the ``(a, s, r)`` reduction."""

    name = "multiindex"
    parameters = MULTIINDEX_PARAMETERS
    checks = (multiindex_checks, fv_checks)
    summaries = ("mean_a", "mean_s", "mean_r")
    pde_checkpoints = False

    def initial_law(self, initial_density=None) -> str:
        cfg = self.config
        w = "w ~ N(0, kappa^2/d I)" if cfg["init"] == "gaussian" else "s = 0, r = r_init"
        return (f"{_A_LAWS[cfg['a_law']]}, {w}"
                + (", projected to |w| = 1" if cfg["spherical"] else ""))

    @property
    def neuron_dimension(self) -> float:
        """``d + 1``: the first layer and the second-layer weight."""
        return self.config["d"] + 1

    # -- physics -----------------------------------------------------------------------
    def reduced_model(self):
        """The :class:`~.reduced.MultiIndexModel` (or BMZ23's closed-form spherical model)
        of the config, built once."""
        if not hasattr(self, "_reduced"):
            from .runs import build_model

            self._reduced = build_model(self.config)
        return self._reduced

    def population_risk(self, weights, second_layer=None) -> float:
        """Exact risk for Gaussian inputs (Hermite expansion of the target)."""
        from .expansions import hermite_expansion, make_target
        from .population_risk import multiindex_gaussian_risk
        from .runs import build_activation, sgd_target

        cfg = self.config
        if cfg["inputs"] != "gaussian":
            raise ValueError("population_risk: exact only for inputs='gaussian' (hypercube "
                             "runs estimate it on a test set)")
        if second_layer is None:
            raise ValueError("population_risk: pass the second-layer weights a_i")
        expansion = hermite_expansion(make_target(sgd_target(cfg), cfg["k"]))
        return multiindex_gaussian_risk(weights, second_layer, expansion,
                                        build_activation(cfg))

    # -- solvers -----------------------------------------------------------------------
    def check_pde_options(self, *, xi=None, initial_density=None, resume=None) -> None:
        if resume is not None:
            raise ValueError("resume: multi-index PDE runs are not checkpointed; rerun them")
        if initial_density is not None or xi is not None:
            raise ValueError("multi-index scenarios take neither xi nor initial_density "
                             "for the PDE (the initial law is set by the parameters)")

    def check_particle_options(self, *, purpose: str = "SGD", xi=None) -> None:
        if purpose == "validate":
            if xi is not None:
                raise ValueError("multi-index scenarios take no xi (constant step sizes)")
            if self.config["spherical"]:
                raise ValueError(
                    "parameter 'spherical' must be false for validate (SGD simulates the "
                    "free (a, s, r) model; use `reducedpde pde` for the spherical variant)"
                )

    def solve_pde(self, times, snapshot_times, *, xi=None, initial_density=None,
                  progress=True, checkpointing=None):
        from .runs import run_multiindex_pde

        return run_multiindex_pde(self.config, times, snapshot_times, progress=progress,
                                  model=self.reduced_model())

    def run_particles(self, times, snapshot_times, *, xi=None, progress=True,
                      keep_weights=False, checkpointing=None):
        from .runs import run_multiindex_sgd

        return run_multiindex_sgd(self.config, times, snapshot_times, xi=xi,
                                  progress=progress, keep_weights=keep_weights,
                                  checkpointing=checkpointing, model=self.reduced_model())
