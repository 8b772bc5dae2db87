r"""The sparse-parity MFLD model (seed 000) behind the
:class:`~reducedpde.models.base.Reduction` protocol.

The particle side (``run_particles``, ``reducedpde sgd``) is the full annealed MFLD of
:func:`~.simulate.simulate_parity_mfld` on ``n`` training samples in dimension ``d``; the
reduced side (``solve_pde``, ``reducedpde pde``) is the population dynamics reduced by
the symmetry of the irrelevant coordinates, solved with the reduced Langevin particles
``(u, r, x_2, x_3)`` of :func:`~.reduced.simulate_reduced_parity` (cost independent of
``d``). ``reducedpde validate`` compares the two.

Time: recordings sit on whole steps; step ``k`` is at package time ``t = kη/2`` (the
``ε = η/2`` of ``docs/mfld.md``), so :meth:`ParityReduction.output_times` is set by
``rounds``, ``round_steps`` and ``record_every`` rather than by ``t_max``.
"""

from __future__ import annotations

import numpy as np

from ..base import Reduction
from .parameters import PARITY_CHECKS, PARITY_PARAMETERS

__all__ = ["PARITY_INITIAL_LAW", "ParityReduction"]

#: the initial law of the parity scenarios, as recorded
PARITY_INITIAL_LAW = "x ~ N(0, init_scale^2 I_{d+2})"

#: Gauss–Hermite nodes of the reduced particles' irrelevant projection
QUAD_NODES = 24

#: Largest ``d`` for which :meth:`ParityReduction.population_risk` enumerates the hypercube
_EXACT_D = 16


class ParityReduction(Reduction):
    """Sparse k-parity on the hypercube, logistic loss, annealed MFLD."""

    name = "parity"
    parameters = PARITY_PARAMETERS
    checks = PARITY_CHECKS
    summaries = ("train_loss", "train_error", "test_loss", "test_error", "objective",
                 "temperature", "relevant_norm", "irrelevant_norm")
    pde_checkpoints = False

    def initial_law(self, initial_density=None) -> str:
        return PARITY_INITIAL_LAW

    @property
    def neuron_dimension(self) -> float:
        """``d + 2``: a neuron is ``(x_1, x_2, x_3) ∈ R^d × R × R``."""
        return self.config["d"] + 2

    def comparison_scale(self) -> tuple[int, float]:
        """``(M, η/2)``: the particles and the package step ``ε = η/2``."""
        return self.config["M"], self.config["eta"] / 2.0

    def output_times(self) -> tuple[np.ndarray, np.ndarray]:
        """Recording times ``kη/2`` (every ``record_every`` steps and every round end) and
        the round ends (with ``t = 0``) as snapshot times."""
        from .simulate import _record_plan

        cfg = self.config
        steps, ends = _record_plan(cfg)
        eps = cfg["eta"] / 2.0
        return steps * eps, np.asarray(sorted(ends), dtype=np.int64) * eps

    # -- physics -----------------------------------------------------------------------
    def reduced_model(self):
        """The reduced particles ``(u, r, x_2, x_3)`` at ``t = 0`` (a
        :class:`~.reduced.ReducedParityState`, with its patterns and quadrature)."""
        from .reduced import initial_reduced_state

        init_seq = np.random.SeedSequence(self.config["seed"]).spawn(3)[1]
        return initial_reduced_state(self.config, np.random.default_rng(init_seq),
                                     QUAD_NODES)

    def population_risk(self, weights, second_layer=None) -> float:
        """Population logistic loss ``2^{−d} Σ_z ℓ(y(z) f(z))`` of the network with particles
        ``weights`` (shape ``(M, d + 2)``), exact over the hypercube for ``d <= 16``."""
        from .data import hypercube_points, parity_labels
        from .network import logistic_loss, network_output

        cfg = self.config
        if second_layer is not None:
            raise ValueError("the parity network has no separate second layer")
        X = np.asarray(weights, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != cfg["d"] + 2:
            raise ValueError(f"parameter 'weights' must have shape (M, d + 2) = "
                             f"(M, {cfg['d'] + 2}), got {X.shape}")
        if cfg["d"] > _EXACT_D:
            raise ValueError(f"population_risk: exact only for d <= {_EXACT_D} (the "
                             f"hypercube is enumerated), got d = {cfg['d']}")
        z = hypercube_points(cfg["d"])
        y = parity_labels(z, cfg["k"])
        return float(np.mean(logistic_loss(y * network_output(X, z, cfg["Rbar"]))))

    # -- solvers -----------------------------------------------------------------------
    def check_pde_options(self, *, xi=None, initial_density=None, resume=None) -> None:
        if resume is not None:
            raise ValueError("resume: the reduced parity particles are not checkpointed; "
                             "rerun them")
        if initial_density is not None or xi is not None:
            raise ValueError("parity scenarios take neither xi nor initial_density (the "
                             "schedule is the annealing of lam0, rounds, round_steps)")

    def check_particle_options(self, *, purpose: str = "SGD", xi=None) -> None:
        if xi is not None:
            raise ValueError("parity scenarios take no xi (constant step eta; the "
                             "temperature is annealed by lam0, rounds, round_steps)")

    def solve_pde(self, times, snapshot_times, *, xi=None, initial_density=None,
                  progress=True, checkpointing=None):
        from .reduced import simulate_reduced_parity

        self.check_pde_options(xi=xi, initial_density=initial_density)
        return simulate_reduced_parity(dict(self.config), progress=progress,
                                       quad_nodes=QUAD_NODES)

    def run_particles(self, times, snapshot_times, *, xi=None, progress=True,
                      keep_weights=False, checkpointing=None):
        from .simulate import simulate_parity_mfld

        self.check_particle_options(xi=xi)
        return simulate_parity_mfld(dict(self.config), progress=progress,
                                    checkpointing=checkpointing)
