r"""Particle SGD for the isotropic Gaussian classes (MMN18).

Data: ``y = ±1`` with probability ½ and ``x ~ N(0, (1 + Δy)² I_d)``. Neurons
``σ*(x; w) = σ(⟨w, x⟩)`` (no second layer), network ``ŷ(x) = (1/N) Σ_i σ(⟨w_i, x⟩)``.
Online SGD with one fresh batch per step, ``s_k = ε ξ(kε)``, time ``t = kε``:

.. math::

    w_i ← (1 − 2λ s_k) w_i + \frac{2 s_k}{b} Σ_{j ≤ b} e_j σ'(⟨w_i, x_j⟩) x_j
          + \sqrt{4 s_k / β}\, g_i,

``g_i ~ N(0, I_d)``, with ``e_j = y_j − ŷ(x_j)`` for the square loss ``(y − ŷ)²`` and
``e_j = ½ y_j σ_log(−y_j ŷ(x_j))`` (``σ_log(u) = 1/(1 + e^{−u})``) for the logistic loss
``ℓ(y ŷ) = log(1 + e^{−y ŷ})``: either way the data part of the step is
``−s_k N ∇_{w_i} ℓ`` of the sample. The noise ``√(4 s_k/β)`` makes the invariant law
``∝ exp(−β Ψ_λ)``, matching the distributional dynamics
``∂_t ρ = 2ξ ∇·(ρ ∇Ψ_λ) + (2ξ/β) Δρ`` with ``Ψ = ½ δL/δρ`` (``L`` the population loss;
square loss: ``Ψ = V + ∫U dρ``). Initial weights ``w_i ~ N(0, κ²/d I_d)`` (so
``‖w_i‖ ≈ κ``).
"""

from __future__ import annotations

import math

import numpy as np

from ...activations import get_activation
from ...losses import check_loss
from ...mfld import particle_free_energy
from ...results import SGDResult
from ...solvers.particles.kernels import SAMPLER_GAUSSIAN_CLASSES, KernelState
from ...solvers.particles.params import validate_parameters, validate_seeds
from ...solvers.particles.runner import Checkpointing, spawn_generators
from ...solvers.particles.schedule import StepSizes, default_chunk_steps, recording_steps
from ...solvers.particles.summaries import assemble_result, check_edges, run_and_assemble, run_attrs
from .population_risk import (
    HELD_OUT_POINTS,
    HELD_OUT_SEED,
    HeldOutSample,
    gaussian_classes_risk,
)

__all__ = ["FREE_ENERGY_SERIES", "gaussian_initial_weights", "gaussian_run_generators",
           "simulate_gaussians"]

#: per-seed series of noisy runs (β < ∞): :func:`reducedpde.mfld.particle_free_energy`
FREE_ENERGY_SERIES = ("free_energy_estimate", "norm_entropy", "norm_entropy_stderr")
#: fewest neurons for the spacing estimate with its jackknife error (not recorded below)
MIN_FREE_ENERGY_NEURONS = 4


def gaussian_run_generators(seed: int):
    """``(rng_init, rng_x, rng_noise)`` of the run with this seed."""
    return tuple(spawn_generators(seed, 3))


def gaussian_initial_weights(rng: np.random.Generator, N: int, d: int, kappa: float):
    """``w_i ~ N(0, κ²/d I_d)``, shape ``(N, d)``."""
    return (kappa / math.sqrt(d)) * rng.standard_normal((N, d))


class _GaussianClasses:
    """Problem definition for :func:`reducedpde.solvers.particles.runner.run_ensemble`."""

    def __init__(self, N, d, delta, kappa, activation, lam, beta, batch, step_sizes,
                 rounds=None, loss="square", held_out=None):
        self.N, self.d, self.delta, self.kappa = N, d, delta, kappa
        self.loss = loss
        #: HeldOutSample of the logistic loss and classification error, or None
        self.held_out = held_out
        self.activation = activation
        self.lam, self.beta, self.batch = lam, beta, batch
        self.step_sizes = step_sizes
        #: annealing: (steps per round, β_k, λ_k) or None
        self.rounds = rounds

    def new_run(self, seed):
        rng_init, rng_x, rng_noise = gaussian_run_generators(seed)
        W0 = gaussian_initial_weights(rng_init, self.N, self.d, self.kappa)
        return KernelState(
            W0,
            None,
            self.activation,
            SAMPLER_GAUSSIAN_CLASSES,
            rng_x,
            rng_noise,
            batch=self.batch,
            lam=self.lam,
            beta=self.beta,
            delta=self.delta,
            loss=self.loss,
        )

    def advance(self, run, k0, n):
        if self.rounds is not None:
            # the recording steps include every round end, so [k0, k0 + n) is in one round
            per_round, betas, lams = self.rounds
            k = min(k0 // per_round, len(betas) - 1)
            run.inv_beta = 1.0 / float(betas[k])
            run.lam = float(lams[k])
        run.advance(self.step_sizes.table(k0, n))

    def observe(self, run):
        norms = np.linalg.norm(run.W, axis=1)
        out = {
            "risk": gaussian_classes_risk(run.W, self.activation, self.delta),
            "mean_norm": norms.mean(),
        }
        if self.held_out is not None:
            out.update(self.held_out.metrics(run.W, self.activation, self.delta))
        # the data term of the objective: ½R (square loss) or ½L (logistic loss, on the
        # held-out sample; not estimated without it)
        data = out["risk"] if self.loss == "square" else out.get("logistic_loss")
        inv_beta = getattr(run, "inv_beta", 0.0)  # the gradient flow has no noise
        if inv_beta > 0.0 and data is not None and self.N >= MIN_FREE_ENERGY_NEURONS:
            # the temperature and decay of the step leading here (annealing: this round's)
            out.update(particle_free_energy(norms, data, d=self.d, lam=run.lam,
                                            beta=1.0 / inv_beta))
        return out

    def snapshot(self, run):
        return {"norm": np.linalg.norm(run.W, axis=1)}

    def weights(self, run):
        return {"final_weights": run.W}

    def get_state(self, run):
        return run.get_state()

    def set_state(self, run, state):
        run.set_state(state)


def simulate_gaussians(
    N: int,
    d: int,
    delta: float,
    kappa: float,
    eps: float,
    t_max: float,
    activation="mmn18",
    lam: float = 0.0,
    beta: float = math.inf,
    batch: int = 1,
    xi=None,
    seeds=(0,),
    n_times: int = 50,
    record_times=None,
    hist_edges=None,
    snapshot_times=None,
    keep_weights: bool = False,
    progress: bool = True,
    chunk_steps: int | None = None,
    checkpointing: Checkpointing | None = None,
    anneal: dict | None = None,
    loss: str = "square",
    held_out: int = HELD_OUT_POINTS,
) -> SGDResult:
    r"""Online SGD of ``N`` neurons on the isotropic Gaussian classes, one run per seed.

    Update (one step, batch ``b``, ``s_k = ε ξ(kε)``, time ``t = kε``):
    ``w_i ← (1 − 2λ s_k) w_i + (2 s_k/b) Σ_j e_j σ'(⟨w_i, x_j⟩) x_j + √(4 s_k/β) g_i``
    with ``e_j = y_j − ŷ(x_j)`` (square loss) or ``e_j = ½ y_j / (1 + e^{y_j ŷ(x_j)})``
    (logistic loss): the data part is ``−s_k N ∇_{w_i}`` of the sample's loss
    (``(y − ŷ)²`` or ``log(1 + e^{−y ŷ})``).

    Parameters
    ----------
    N : int
        Number of neurons (``≥ 1``).
    d : int
        Input dimension (``≥ 1``).
    delta : float
        Class separation ``Δ ∈ [0, 1)``: ``x ~ N(0, (1 ± Δ)² I_d)``.
    kappa : float
        Initial scale ``κ ≥ 0``: ``w_i ~ N(0, κ²/d I_d)``.
    eps : float
        Base step ``ε > 0``; SGD time ``t = kε``.
    t_max : float
        Final time (``≥ ε``); the run has ``round(t_max/ε)`` steps.
    activation : str, dict or Activation
        See :func:`reducedpde.activations.get_activation` (default MMN18 piecewise linear).
    lam : float
        Weight decay ``λ ≥ 0``.
    beta : float
        Inverse temperature ``β > 0``; ``inf`` (default) for noiseless SGD.
    batch : int
        Samples per step ``b ≥ 1`` (gradient averaged over the batch).
    xi : callable, optional
        Schedule ``ξ(t)`` (vectorised, finite, ``≥ 0``); default ``ξ ≡ 1``.
    seeds : int or sequence of int
        One independent run per seed; a seed fixes the initial weights, the samples and the
        noise.
    n_times : int
        Number of log-spaced recording times in ``[max(ε, 10⁻⁴ t_max), t_max]`` (``t = 0``
        is always recorded).
    record_times : array_like, optional
        Explicit recording times (rounded to whole steps) instead of the log-spaced ones.
    hist_edges : array_like, optional
        Bin edges of the ``‖w‖`` histograms (e.g. the PDE grid); default 100 equal bins
        over the observed range.
    snapshot_times : array_like, optional
        Times of the histograms (added to the recording times); default
        ``0, t_max/100, t_max/10, t_max``.
    keep_weights : bool
        Store the weights at the last recorded time in ``extra['final_weights']``
        (``(n_seeds, N, d)``).
    progress : bool
        Show a progress bar.
    chunk_steps : int, optional
        Steps per compiled call (default: about 2²⁷ multiply-adds per call).
    checkpointing : Checkpointing, optional
        Periodic checkpoints and resumption
        (:class:`~reducedpde.solvers.particles.runner.Checkpointing`);
        its ``save`` callback receives ``(state, partial SGDResult)``.
    anneal : dict, optional
        Annealing schedule ``{"round_time": T, "betas": β_k, "lams": λ_k}``
        (:func:`.annealing.particle_schedule`): the steps of ``t ∈ (kT, (k+1)T]`` use
        ``β_k`` and ``λ_k``; the run lasts ``len(betas)·T`` (replacing ``t_max``), every
        round end is recorded and ``extra['beta']`` holds the β of each recording
        (that of the step leading to it).
    loss : {"square", "logistic"}
        The loss of the SGD step (:mod:`reducedpde.losses`).
    held_out : int
        Points per class of the fixed Monte-Carlo sample
        (:class:`~.population_risk.HeldOutSample`, the same for every seed) on which the
        population logistic loss and classification error are estimated at every recording
        time; ``0``: not recorded.

    Returns
    -------
    SGDResult
        ``risk``: exact population risk (Mehler series + closed forms); ``mean_norm``:
        mean ``‖w_i‖``; ``histograms``: densities of ``‖w_i‖`` w.r.t. ``dr``;
        ``extra['snapshot_norm']``: the norms themselves ``(n_seeds, n_s, N)``;
        ``extra['logistic_loss']`` and ``extra['classification_error']`` (``(n_seeds, n_t)``,
        unless ``held_out = 0``): ``½ Σ_± E ℓ(± ŷ(x))`` and ``P(y ŷ(x) ≤ 0)`` on the
        held-out sample. ``risk`` is the square-loss risk for either loss. Noisy runs
        (``β < ∞``, annealed ones included) add ``extra['free_energy_estimate']``,
        ``['norm_entropy']`` and ``['norm_entropy_stderr']`` (``(n_seeds, n_t)``,
        :func:`reducedpde.mfld.particle_free_energy` at the β and λ of the step leading to
        each time): an estimate of the radial model's objective ``½R + (λ/2)∫r² +
        β⁻¹∫ρ̄ log(ρ̄/r^{d−1})`` (the PDE's ``free_energy``) for the law of one neuron, with
        ``R`` the recorded risk; for the logistic loss the data term is ``½L`` with ``L``
        the held-out ``logistic_loss`` (not estimated when ``held_out = 0``); nothing is
        recorded for ``N < 4``; ``attrs['free_energy_method']`` names the estimator.
        Ctrl-C or SIGTERM stops the run between kernel calls; the times recorded so far
        are returned with ``attrs['interrupted'] = True`` (and, with ``checkpointing``,
        the state to resume from in ``.checkpoint``).
    """
    validate_parameters(
        N=N,
        d=d,
        delta=delta,
        kappa=kappa,
        eps=eps,
        t_max=t_max,
        lam=lam,
        beta=beta,
        batch=batch,
        n_times=n_times,
        chunk_steps=chunk_steps,
    )
    seeds = validate_seeds(seeds)
    check_loss(loss)
    if isinstance(held_out, bool) or not isinstance(held_out, (int, np.integer)) or held_out < 0:
        raise ValueError(f"held_out must be an integer >= 0, got {held_out!r}")
    rounds = None
    if anneal is not None:
        betas = np.asarray(anneal["betas"], dtype=float)
        per_round = round(float(anneal["round_time"]) / eps)
        if per_round < 1 or not np.all((betas > 0) & np.isfinite(betas)):
            raise ValueError("anneal: round_time must be at least eps and every beta finite "
                             f"and > 0, got round_time={anneal['round_time']}, betas={betas}")
        rounds = (per_round, betas, np.asarray(anneal["lams"], dtype=float))
        t_max = per_round * betas.size * eps
    act = get_activation(activation)
    if hist_edges is not None:
        hist_edges = check_edges(hist_edges)
    step_sizes = StepSizes(eps, xi)
    n_total, record, snaps = recording_steps(eps, t_max, n_times, record_times, snapshot_times)
    if rounds is not None:
        ends = rounds[0] * np.arange(1, rounds[1].size + 1)
        record = np.union1d(record, ends[ends <= n_total])
    step_sizes.table(0, 1)  # fail early on a bad schedule
    problem = _GaussianClasses(
        N, d, float(delta), float(kappa), act, float(lam), float(beta), int(batch), step_sizes,
        rounds=rounds, loss=loss,
        held_out=HeldOutSample(d, int(held_out)) if held_out > 0 else None,
    )
    chunk = int(chunk_steps) if chunk_steps is not None else default_chunk_steps(N * d, batch)
    attrs = {
        "problem": "gaussian-classes",
        "N": int(N),
        "d": int(d),
        "delta": float(delta),
        "kappa": float(kappa),
        **run_attrs(eps, n_total, lam, beta, batch, act, xi),
        "noise": "sqrt(4 s_k / beta) g",
        "risk_method": "exact (Mehler series, bivariate closed form / quadrature)",
        "loss": loss,
        "held_out_points": int(held_out),
        "held_out_method": (f"Monte Carlo, {int(held_out)} fixed points per class (seed "
                            f"{HELD_OUT_SEED}); sign(0) counts as an error"
                            if held_out > 0 else "none"),
        "kernel": "numba",
    }
    if math.isfinite(beta) or rounds is not None:
        attrs["free_energy_method"] = (
            "1/2 R_N (1/2 held-out logistic loss for loss=logistic) + lam/2 mean r^2 - "
            "(h + (d-1) mean log r)/beta, h: Vasicek m-spacing entropy of the norms with the "
            "Wieczorkowski-Grzegorzewski correction, m = min(6, (N - 2) // 2) (reducedpde.mfld."
            "particle_free_energy)")

    def finish(record):
        result = assemble_result(
            record, seeds, float(eps), "norm", hist_edges, attrs, snapshot_extra=("norm",),
            series_extra=("logistic_loss", "classification_error", *FREE_ENERGY_SERIES),
        )
        if rounds is not None:
            steps = np.rint(np.asarray(result.t) / eps).astype(np.int64)
            k = np.clip((np.maximum(steps, 1) - 1) // rounds[0], 0, rounds[1].size - 1)
            result.extra["beta"] = rounds[1][k]
            result.extra["lam"] = rounds[2][k]
        return result

    return run_and_assemble(problem, seeds, record, snaps, chunk, finish,
                            keep_weights=keep_weights, progress=progress,
                            description="SGD gaussians", checkpointing=checkpointing)
