r"""Finite-N gradient flow on the isotropic Gaussian classes: SGD's ``ε → 0`` limit at fixed N.

The SGD of :mod:`.particles` moves each neuron by ``s_k`` times an unbiased estimate of
``−N ∂_{w_i} R_N − 2λ w_i`` (``R_N``: the exact population risk of the network, no factor
½), with ``s_k = ε ξ(kε)`` and time ``t = kε``. As ``ε → 0`` at fixed ``N`` and ``d`` the
noise of the estimates averages out and the weights follow the gradient flow

.. math::

    \frac{dw_i}{dt} = -ξ(t)\,\bigl(N\,∂_{w_i} R_N(w_1, …, w_N) + 2λ w_i\bigr),
    \qquad R_N = 1 + \frac{2}{N} Σ_i V(w_i) + \frac{1}{N^2} Σ_{i,j} U(w_i, w_j),

at the same time ``t`` (the velocity is :func:`.population_gradient.gaussian_classes_velocity`;
``N ∂_{w_i} R_N = 2∇Ψ(w_i; ρ_N)`` with ``ρ_N`` the empirical law, the DD velocity). It is
the reference that separates the finite-``N`` deviations of SGD from the mean field from
its finite-``ε`` fluctuations: per seed, ``‖W_SGD(t) − W_flow(t)‖ = O(√ε)``.

A run reuses the SGD's initialisation (same seed ⇒ same initial neurons,
:func:`.particles.gaussian_initial_weights` on the first generator of
:func:`.particles.gaussian_run_generators`), its recording times (rounded to ``t = kε``:
``ε`` fixes the output grid, not the integration), its observables (exact population risk,
mean norm, histograms of ``‖w_i‖``), its ensemble driver (progress bar, Ctrl-C,
checkpoints, resumption) and its :class:`~reducedpde.results.SGDResult`.
"""

from __future__ import annotations

import math

import numpy as np

from ...activations import get_activation
from ...results import SGDResult
from ...solvers.particles.flow_stepper import DormandPrince
from ...solvers.particles.params import validate_parameters, validate_seeds
from ...solvers.particles.runner import Checkpointing
from ...solvers.particles.schedule import recording_steps
from ...solvers.particles.summaries import assemble_result, check_edges, run_and_assemble, run_attrs
from .particles import _GaussianClasses, gaussian_initial_weights, gaussian_run_generators
from .population_gradient import _require_piecewise_linear, gaussian_classes_velocity

__all__ = ["FLOW_BLOCK_TIME", "FLOW_TOL_RANGE", "check_flow_options", "simulate_gaussians_flow"]

#: longest stretch of time integrated between two polls for Ctrl-C and checkpoints
FLOW_BLOCK_TIME = 1.0
#: admissible range of the local error tolerance ``flow_tol``
FLOW_TOL_RANGE = (1e-13, 1e-2)


def check_flow_options(*, beta: float, anneal=None, flow_tol: float | None = None,
                       activation=None) -> None:
    """Raise a ``ValueError`` naming the parameter if the flow cannot run these options."""
    if not math.isinf(beta):
        raise ValueError(
            "parameter 'beta' must be inf for the gradient flow (particle_dynamics=flow is "
            f"the noiseless ε → 0 limit; noisy SGD has no deterministic limit), got {beta:g}"
        )
    if anneal is not None and anneal != "none":
        raise ValueError(f"parameter 'anneal' must be 'none' for the gradient flow, got "
                         f"{anneal!r}")
    if flow_tol is not None:
        low, high = FLOW_TOL_RANGE
        if isinstance(flow_tol, bool) or not (isinstance(flow_tol, (int, float))
                                              and low <= flow_tol <= high):
            raise ValueError(f"parameter 'flow_tol' must be a number in [{low:g}, {high:g}], "
                             f"got {flow_tol!r}")
    if activation is not None:
        _require_piecewise_linear(get_activation(activation))


def _schedule_value(xi, t: float) -> float:
    if xi is None:
        return 1.0
    value = float(np.asarray(xi(np.array([t], dtype=np.float64)), dtype=np.float64).ravel()[0])
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"xi must return finite values >= 0, got xi({t:g}) = {value!r}")
    return value


class _FlowRun:
    """One seed: the integrator; ``W`` is the state the observables read."""

    def __init__(self, integrator: DormandPrince):
        self.integrator = integrator

    @property
    def W(self) -> np.ndarray:
        return self.integrator.W


class _GaussianClassesFlow(_GaussianClasses):
    """Problem definition for :func:`~reducedpde.solvers.particles.runner.run_ensemble`:
    a "step" is the time quantum ``ε`` of the recording grid."""

    def __init__(self, N, d, delta, kappa, activation, lam, eps, tol, xi):
        super().__init__(N, d, delta, kappa, activation, lam, math.inf, 1, None)
        self.eps, self.tol, self.xi = eps, tol, xi

    def velocity(self, t, W):
        return _schedule_value(self.xi, t) * gaussian_classes_velocity(
            W, self.activation, self.delta, self.lam)

    def new_run(self, seed):
        rng_init = gaussian_run_generators(seed)[0]
        W0 = gaussian_initial_weights(rng_init, self.N, self.d, self.kappa)
        return _FlowRun(DormandPrince(self.velocity, W0, 0.0, self.tol))

    def advance(self, run, k0, n):
        integrator = run.integrator
        if abs(integrator.t - k0 * self.eps) > 1e-9 * max(1.0, integrator.t):
            raise RuntimeError(f"flow run at t = {integrator.t!r}, expected {k0 * self.eps!r}")
        integrator.t = k0 * self.eps
        integrator.advance_to((k0 + n) * self.eps)

    def observe(self, run):
        values = super().observe(run)
        integrator = run.integrator
        values.update(flow_velocity_evaluations=integrator.n_velocity,
                      flow_accepted_steps=integrator.n_accepted,
                      flow_rejected_steps=integrator.n_rejected)
        return values

    def get_state(self, run):
        return run.integrator.get_state()

    def set_state(self, run, state):
        run.integrator.set_state(state)


def simulate_gaussians_flow(
    N: int,
    d: int,
    delta: float,
    kappa: float,
    eps: float,
    t_max: float,
    activation="mmn18",
    lam: float = 0.0,
    flow_tol: float = 1e-7,
    xi=None,
    seeds=(0,),
    n_times: int = 50,
    record_times=None,
    hist_edges=None,
    snapshot_times=None,
    keep_weights: bool = False,
    progress: bool = True,
    checkpointing: Checkpointing | None = None,
    block_time: float = FLOW_BLOCK_TIME,
) -> SGDResult:
    r"""Gradient flow ``ẇ_i = −ξ(t)(N ∂_{w_i} R_N + 2λ w_i)`` of ``N`` neurons, one run per
    seed, from the SGD's initial weights.

    Dormand–Prince 5(4) steps with local error ``flow_tol`` relative to ``‖W‖_F``
    (:class:`~reducedpde.solvers.particles.flow_stepper.DormandPrince`); the exact
    population gradient with its diagonal terms
    (:func:`.population_gradient.gaussian_classes_velocity`).

    Parameters
    ----------
    N, d, delta, kappa, activation, lam, xi, seeds, n_times, record_times, hist_edges,
    snapshot_times, keep_weights, progress, checkpointing :
        As for :func:`.particles.simulate_gaussians` (``activation`` piecewise linear).
    block_time : float
        Longest time integrated between two polls for Ctrl-C and periodic checkpoints
        (the integrator lands on every multiple of it; a resumed run needs the same).
    eps : float
        Time quantum of the recording grid: output times are rounded to ``t = kε``
        exactly as for the SGD of step ``ε`` (the flow does not depend on it otherwise).
    t_max : float
        Final time (rounded to ``kε``).
    flow_tol : float
        Local error tolerance in ``[1e-13, 1e-2]``; the global error of the weights scales
        like ``flow_tol`` (measured: ``0.2 flow_tol`` relative at ``t = 1``, ``N = 20``,
        ``d = 10``).

    Returns
    -------
    SGDResult
        As the SGD's (``risk``: exact population risk, ``mean_norm``, ``histograms`` of
        ``‖w_i‖``, ``extra['snapshot_norm']``), with ``attrs['dynamics'] = 'gradient-flow'``
        and the cumulative counts ``extra['flow_velocity_evaluations']``,
        ``extra['flow_accepted_steps']`` and ``extra['flow_rejected_steps']`` per seed and
        recording time.
    """
    validate_parameters(N=N, d=d, delta=delta, kappa=kappa, eps=eps, t_max=t_max, lam=lam,
                        n_times=n_times)
    check_flow_options(beta=math.inf, flow_tol=flow_tol, activation=activation)
    if xi is not None and not callable(xi):
        raise ValueError(f"xi must be a callable t -> ξ(t) or None, got {xi!r}")
    seeds = validate_seeds(seeds)
    act = get_activation(activation)
    if hist_edges is not None:
        hist_edges = check_edges(hist_edges)
    n_total, record, snaps = recording_steps(eps, t_max, n_times, record_times, snapshot_times)
    _schedule_value(xi, 0.0)  # fail early on a bad schedule
    problem = _GaussianClassesFlow(int(N), int(d), float(delta), float(kappa), act,
                                   float(lam), float(eps), float(flow_tol), xi)
    if not (isinstance(block_time, (int, float)) and block_time > 0):
        raise ValueError(f"block_time must be a number > 0, got {block_time!r}")
    chunk = max(1, round(block_time / eps))
    attrs = {
        "problem": "gaussian-classes",
        "dynamics": "gradient-flow",
        "N": int(N),
        "d": int(d),
        "delta": float(delta),
        "kappa": float(kappa),
        **run_attrs(eps, n_total, lam, math.inf, 1, act, xi),
        "stepper": "dormand-prince-5(4)",
        "flow_tol": float(flow_tol),
        "flow_equation": "dw_i/dt = -xi(t) (N dR_N/dw_i + 2 lam w_i)",
        "eps_role": "time quantum of the recording grid t = k eps (not used by the flow)",
        "risk_method": "exact (Mehler series, bivariate closed form / quadrature)",
        "gradient_method": "exact (Stein identities; Mehler series for |cos| <= 0.5, "
                           "bivariate normal closed form otherwise)",
    }
    counters = ("flow_velocity_evaluations", "flow_accepted_steps", "flow_rejected_steps")

    def finish(record):
        return assemble_result(record, seeds, float(eps), "norm", hist_edges, attrs,
                               series_extra=counters, snapshot_extra=("norm",))

    return run_and_assemble(problem, seeds, record, snaps, chunk, finish,
                            keep_weights=keep_weights, progress=progress,
                            description="gradient flow gaussians", checkpointing=checkpointing)
