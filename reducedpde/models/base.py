r"""The protocol every reduced model implements.

A model is a symmetry reduction of the mean-field dynamics

    ∂_t ρ = 2ξ ∇·(ρ ∇Ψ_λ(θ; ρ)) + (2ξ/β) Δρ,   Ψ(θ; ρ) = V(θ) + ∫ U(θ, θ') ρ(dθ'),

(conventions of DESIGN §2) to a few variables, together with the particle SGD it
describes. A :class:`Reduction` subclass declares

* ``name`` and ``parameters`` (a table of :class:`~reducedpde.params.Param`) with
  cross-parameter ``checks``, validated once by :func:`reducedpde.scenarios.resolve`;

and, built from one resolved :class:`~reducedpde.config.RunConfig`, provides

* :meth:`initial_law` — the initial neuron law, as recorded with a run;
* :meth:`reduced_model` — the reduced potential, kernel and velocity (an object with the
  model's ``psi`` / velocity / ``risk`` methods, used by the solvers);
* :meth:`population_risk` — the exact population risk of a finite network;
* :meth:`solve_pde` — the reduced PDE on the model's solver(s);
* :meth:`run_particles` — the matching particle SGD in full dimension;
* ``summaries`` — the names of the extra series its runs record besides ``risk`` and
  ``mean_norm``; :attr:`neuron_dimension` — ``D`` in the MMN18 error scale.

Solvers (:mod:`reducedpde.solvers`) know nothing about scenarios or files; the API
(:mod:`reducedpde.api`) knows nothing about any particular model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np

__all__ = ["Reduction"]


class Reduction(ABC):
    """Base class of the reduced models (see the module docstring).

    Parameters
    ----------
    config : RunConfig
        A config resolved for this model; the model builds its physics from it once.
    """

    #: registry name
    name: ClassVar[str]
    #: parameter table: name -> :class:`~reducedpde.params.Param`
    parameters: ClassVar[Mapping]
    #: cross-parameter checks ``check(config) -> message | None``
    checks: ClassVar[tuple[Callable, ...]] = ()
    #: names of the extra time series recorded by the model's runs
    summaries: ClassVar[tuple[str, ...]] = ()
    #: whether :meth:`solve_pde` takes checkpoints (and can be resumed)
    pde_checkpoints: ClassVar[bool] = True

    def __init__(self, config):
        if config.model != self.name:
            raise ValueError(f"config of model {config.model!r} given to model {self.name!r}")
        self.config = config

    # -- what a run records ------------------------------------------------------------
    @abstractmethod
    def initial_law(self, initial_density=None) -> str:
        """The initial law as recorded in a result's config."""

    @property
    @abstractmethod
    def neuron_dimension(self) -> float:
        """Dimension ``D`` of one neuron's parameters (MMN18 error scale)."""

    def comparison_scale(self) -> tuple[int, float]:
        """``(N, ε)`` of the MMN18 error scale of ``validate``: the number of neurons and the
        SGD step (default: the parameters ``N`` and ``eps``)."""
        return self.config["N"], self.config["eps"]

    def output_times(self) -> tuple[np.ndarray, np.ndarray]:
        """Output times (0, then log-spaced from ``t_min`` to ``t_max``) and snapshots."""
        from ..solvers.fv.radial import default_output_times

        cfg = self.config
        times = default_output_times(cfg["t_max"], cfg["n_times"], cfg["t_min"])
        # the output times are already log-spaced: spread the snapshots evenly over them
        idx = np.unique(np.round(np.linspace(1, times.size - 1, cfg["n_snapshots"] - 1)))
        snaps = np.concatenate([[0.0], times[idx.astype(int)]])
        return times, snaps

    # -- physics -----------------------------------------------------------------------
    @abstractmethod
    def reduced_model(self):
        """The reduced model (potential, kernel, velocity, risk of a reduced law)."""

    @abstractmethod
    def population_risk(self, weights: np.ndarray, second_layer=None) -> float:
        """Exact population risk ``E[(y − ŷ(x))²]`` of the network with these neurons."""

    # -- solvers -----------------------------------------------------------------------
    def check_pde_options(self, *, xi=None, initial_density=None, resume=None) -> None:
        """Raise ``ValueError`` for PDE options the model does not support."""
        return None

    def check_particle_options(self, *, purpose: str = "SGD", xi=None) -> None:
        """Raise ``ValueError`` before any solve if the particle run cannot be made
        (``purpose``: ``"SGD"`` or ``"validate"``; ``xi``: the step-size schedule)."""
        return None

    @abstractmethod
    def solve_pde(self, times, snapshot_times, *, xi=None, initial_density=None,
                  progress=True, checkpointing=None):
        """Solve the reduced PDE; returns a :class:`~reducedpde.results.PDEResult`."""

    @abstractmethod
    def run_particles(self, times, snapshot_times, *, xi=None, progress=True,
                      keep_weights=False, checkpointing=None):
        """Run the particle SGD ensemble; returns a :class:`~reducedpde.results.SGDResult`."""
