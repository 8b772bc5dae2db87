r"""Particle SGD for multi-index targets ``y = φ(x_1, …, x_k)``.

Inputs: ``x ~ N(0, I_d)`` (``inputs="gaussian"``) or ``x`` uniform on ``{±1}^d``
(``inputs="hypercube"``); ``z = Πx`` are the first ``k`` coordinates. Neurons
``σ*(x; (a, w)) = a σ(⟨w, x⟩)``, network ``ŷ = (1/N) Σ_i a_i σ(⟨w_i, x⟩)``. One step with a
fresh batch of size ``b``, ``s_k = ε ξ(kε)``, ``e_j = y_j − ŷ(x_j)``:

.. math::

    a_i &← (1 − 2λ ξ_a s_k) a_i + \frac{2 ξ_a s_k}{b} Σ_j e_j σ(⟨w_i, x_j⟩)
          + \sqrt{4 ξ_a s_k / β}\, g'_i, \\
    w_i &← (1 − 2λ ξ_w s_k) w_i + \frac{2 ξ_w s_k}{b} Σ_j e_j a_i σ'(⟨w_i, x_j⟩) x_j
          + \sqrt{4 ξ_w s_k / β}\, g_i.

``ξ_a = 0`` freezes the second layer. Reduced variables of a neuron: ``s = Πw ∈ R^k`` and
``r = ‖w − Πᵀs‖``.

Initial laws:

* ``a_i = a_init + a_std G_i`` (``a_init`` a number or an array of ``N`` values);
* ``w_init="gaussian"``: ``w_i ~ N(0, κ²/d I_d)``; ``"zero"``: ``w_i = 0``;
  ``{"s": s0, "r": r0}``: ``Πw_i = s0`` (shape ``(k,)`` or ``(N, k)``) and
  ``w_i − Πᵀs0 = r0 u_i`` with ``u_i`` uniform on the unit sphere of the orthogonal
  complement (``r0`` a number or ``N`` values); or an ``(N, d)`` array.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Mapping

import numpy as np

from ...activations import get_activation
from ...results import SGDResult
from ...solvers.particles.kernels import (
    SAMPLER_GAUSSIAN_SUBSPACE,
    SAMPLER_HYPERCUBE_SUBSPACE,
    KernelState,
    generator_state,
    set_generator_state,
)
from ...solvers.particles.network import empirical_risk
from ...solvers.particles.params import validate_parameters, validate_seeds
from ...solvers.particles.runner import Checkpointing, spawn_generators
from ...solvers.particles.schedule import StepSizes, default_chunk_steps, recording_steps
from ...solvers.particles.summaries import assemble_result, check_edges, run_and_assemble, run_attrs
from .expansions import hermite_expansion, make_target
from .population_risk import multiindex_gaussian_risk

__all__ = ["initial_parameters", "multiindex_run_generators", "simulate_multiindex"]

_INPUTS = ("gaussian", "hypercube")


def multiindex_run_generators(seed: int):
    """``(rng_init, rng_x, rng_z, rng_noise, rng_test)`` of the run with this seed."""
    return tuple(spawn_generators(seed, 5))


def _as_vector(value, n: int, name: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{name} must be a finite number or an array of {n} finite values, "
            f"got shape {arr.shape}"
        )
    return arr


def initial_parameters(rng, N, d, k, a_init=0.0, a_std=0.0, w_init="gaussian", kappa=1.0):
    """Draw ``(A, W)`` from the initial law (see the module docstring)."""
    A = _as_vector(a_init, N, "a_init")
    if a_std > 0:
        A = A + a_std * rng.standard_normal(N)
    if isinstance(w_init, str):
        if w_init == "gaussian":
            W = (kappa / math.sqrt(d)) * rng.standard_normal((N, d))
        elif w_init == "zero":
            W = np.zeros((N, d))
        else:
            raise ValueError(
                f"w_init must be 'gaussian', 'zero', a dict {{'s': ..., 'r': ...}} or an "
                f"(N, d) array, got {w_init!r}"
            )
    elif isinstance(w_init, Mapping):
        if set(w_init) - {"s", "r"}:
            raise ValueError(f"w_init dict takes keys 's' and 'r', got {sorted(w_init)}")
        s0 = np.asarray(w_init.get("s", 0.0), dtype=np.float64)
        s0 = np.broadcast_to(s0, (N, k)) if s0.ndim <= 1 else s0
        if s0.shape != (N, k) or not np.all(np.isfinite(s0)):
            raise ValueError(f"w_init['s'] must be a number, a ({k},) or an ({N}, {k}) array")
        r0 = _as_vector(w_init.get("r", 0.0), N, "w_init['r']")
        if np.any(r0 < 0):
            raise ValueError("w_init['r'] must be >= 0")
        W = np.zeros((N, d))
        W[:, :k] = s0
        if d > k:
            u = rng.standard_normal((N, d - k))
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            W[:, k:] = r0[:, None] * u
        elif np.any(r0 > 0):
            raise ValueError("w_init['r'] must be 0 when k = d (no orthogonal complement)")
    else:
        W = np.array(w_init, dtype=np.float64)
        if W.shape != (N, d) or not np.all(np.isfinite(W)):
            raise ValueError(
                f"w_init array must have shape ({N}, {d}) with finite values, got {W.shape}"
            )
    return A, W


class _MultiIndex:
    """Problem definition for :func:`reducedpde.solvers.particles.runner.run_ensemble`."""

    def __init__(
        self,
        *,
        N,
        d,
        k,
        target,
        inputs,
        activation,
        lam,
        beta,
        batch,
        xi_a,
        xi_w,
        init,
        step_sizes,
        n_test,
        expansion,
    ):
        self.N, self.d, self.k = N, d, k
        self.target, self.inputs, self.activation = target, inputs, activation
        self.lam, self.beta, self.batch = lam, beta, batch
        self.xi_a, self.xi_w = xi_a, xi_w
        self.init = init
        self.step_sizes = step_sizes
        self.n_test = n_test
        self.expansion = expansion
        self.sampler = (
            SAMPLER_GAUSSIAN_SUBSPACE if inputs == "gaussian" else SAMPLER_HYPERCUBE_SUBSPACE
        )

    def _draw_z(self, rng, m):
        if self.inputs == "gaussian":
            return rng.standard_normal((m, self.k))
        return np.where(rng.random((m, self.k)) < 0.5, -1.0, 1.0)

    def new_run(self, seed):
        rng_init, rng_x, rng_z, rng_noise, rng_test = multiindex_run_generators(seed)
        A, W = initial_parameters(rng_init, self.N, self.d, self.k, **self.init)
        run = KernelState(
            W,
            A,
            self.activation,
            self.sampler,
            rng_x,
            rng_noise,
            batch=self.batch,
            lam=self.lam,
            beta=self.beta,
            xi_a=self.xi_a,
            xi_w=self.xi_w,
        )
        run.rng_z = rng_z
        if self.inputs == "hypercube":
            signs = rng_test.random((self.n_test, self.d)) < 0.5
            run.X_test = np.where(signs, np.int8(-1), np.int8(1))
            run.Y_test = self.target(run.X_test[:, : self.k].astype(np.float64))
        return run

    def get_state(self, run):
        return {**run.get_state(), "rng_z": generator_state(run.rng_z)}

    def set_state(self, run, state):
        run.set_state(state)
        set_generator_state(run.rng_z, state["rng_z"])

    def advance(self, run, k0, n):
        z = self._draw_z(run.rng_z, n * self.batch)
        y = self.target(z)
        if not np.all(np.isfinite(y)):
            raise ValueError("target returned non-finite values")
        run.advance(self.step_sizes.table(k0, n), z, y)

    def observe(self, run):
        W, A, k = run.W, run.A, self.k
        r = np.linalg.norm(W[:, k:], axis=1)
        out = {
            "mean_norm": np.linalg.norm(W, axis=1).mean(),
            "mean_a": A.mean(),
            "mean_s": W[:, :k].mean(axis=0),
            "mean_r": r.mean(),
        }
        if self.inputs == "gaussian":
            out["risk"] = multiindex_gaussian_risk(W, A, self.expansion, self.activation)
        else:
            out["risk"], out["risk_stderr"] = empirical_risk(
                W, A, run.X_test, run.Y_test, self.activation
            )
        return out

    def snapshot(self, run):
        W, k = run.W, self.k
        return {
            "a": run.A.copy(),
            "s": W[:, :k].copy(),
            "r": np.linalg.norm(W[:, k:], axis=1),
            "norm": np.linalg.norm(W, axis=1),
        }

    def weights(self, run):
        return {"final_weights": run.W, "final_a": run.A}


def simulate_multiindex(
    N: int,
    d: int,
    k: int,
    target,
    eps: float,
    t_max: float,
    inputs: str = "gaussian",
    activation="relu",
    lam: float = 0.0,
    beta: float = math.inf,
    batch: int = 1,
    xi=None,
    xi_a: float = 1.0,
    xi_w: float = 1.0,
    a_init=0.0,
    a_std: float = 0.0,
    w_init="gaussian",
    kappa: float = 1.0,
    seeds=(0,),
    n_times: int = 50,
    record_times=None,
    snapshot_times=None,
    hist_edges=None,
    hist_variable: str = "norm",
    n_test: int = 10_000,
    hermite_degree: int | None = None,
    keep_weights: bool = False,
    progress: bool = True,
    chunk_steps: int | None = None,
    checkpointing: Checkpointing | None = None,
) -> SGDResult:
    r"""Online SGD of ``N`` neurons ``a σ(⟨w, x⟩)`` on a multi-index target, one run per seed.

    Update (batch ``b``, ``s_k = ε ξ(kε)``, ``e_j = y_j − ŷ(x_j)``):
    ``a_i ← (1 − 2λξ_a s_k) a_i + (2ξ_a s_k/b) Σ_j e_j σ(⟨w_i, x_j⟩) + √(4ξ_a s_k/β) g'_i``,
    ``w_i ← (1 − 2λξ_w s_k) w_i + (2ξ_w s_k/b) Σ_j e_j a_i σ'(⟨w_i, x_j⟩) x_j
    + √(4ξ_w s_k/β) g_i``.

    Parameters
    ----------
    N, d : int
        Neurons and input dimension (``≥ 1``).
    k : int
        Number of relevant coordinates, ``1 ≤ k ≤ d``.
    target :
        ``φ``: ``"staircase"``, a dict ``{α: c_α}`` (``φ = Σ c_α Π_j He_{α_j}(z_j)``), a
        sequence ``[c_0, c_1, …]`` (``k = 1``: ``φ = Σ c_n He_n``) or a callable
        ``z (n, k) → y (n,)``. See :mod:`reducedpde.models.multiindex.expansions`.
    eps, t_max : float
        Base step ``ε > 0`` and final time ``t_max ≥ ε``.
    inputs : {"gaussian", "hypercube"}
        ``x ~ N(0, I_d)`` or ``x`` uniform on ``{±1}^d``.
    activation : str, dict or Activation
        Default ReLU.
    lam : float
        Weight decay ``λ ≥ 0``.
    beta : float
        Inverse temperature ``β > 0``; ``inf`` (default) for noiseless SGD.
    batch : int
        Samples per step ``b ≥ 1``.
    xi : callable, optional
        Schedule ``ξ(t)``; default ``ξ ≡ 1``.
    xi_a, xi_w : float
        Learning-rate factors ``≥ 0`` of the second and first layer (``xi_a = 0``: ``a``
        frozen).
    a_init, a_std : float or array, float
        ``a_i = a_init + a_std G_i``.
    w_init : {"gaussian", "zero"}, dict or array
        Initial first-layer weights (see the module docstring); ``"gaussian"`` uses
        ``kappa``: ``w_i ~ N(0, κ²/d I_d)``.
    kappa : float
        Initial scale ``κ ≥ 0`` for ``w_init="gaussian"``.
    seeds : int or sequence of int
        One independent run per seed.
    n_times, record_times, snapshot_times :
        Recording and snapshot times, as in :func:`simulate_gaussians`.
    hist_edges : array_like, optional
        Histogram bin edges of ``hist_variable``.
    hist_variable : str
        ``"norm"`` (``‖w‖``), ``"r"``, ``"a"`` or ``"s1"`` … ``"sk"``.
    n_test : int
        Size of the test set (hypercube inputs): the risk is its empirical risk, with the
        standard error in ``extra['risk_stderr']``. The test set is drawn once per run,
        independently of the training samples.
    hermite_degree : int, optional
        Per-coordinate degree of the Hermite projection of a callable target (Gaussian
        inputs); the Parseval residual is in ``attrs['target_projection_residual']``.
    keep_weights : bool
        Store ``extra['final_weights']`` ``(n_seeds, N, d)`` and ``extra['final_a']``.
    progress : bool
        Show a progress bar.
    chunk_steps : int, optional
        Steps per compiled call.
    checkpointing : Checkpointing, optional
        Periodic checkpoints and resumption (see :func:`simulate_gaussians`).

    Returns
    -------
    SGDResult
        ``risk``: exact population risk (Gaussian inputs) or test-set risk (hypercube);
        ``mean_norm``: mean ``‖w_i‖``; ``extra``: ``mean_a`` ``(n_seeds, n_t)``,
        ``mean_s`` ``(n_seeds, n_t, k)``, ``mean_r``, ``snapshot_a``, ``snapshot_s``,
        ``snapshot_r``, ``snapshot_norm``.
    """
    validate_parameters(
        N=N,
        d=d,
        k=k,
        eps=eps,
        t_max=t_max,
        lam=lam,
        beta=beta,
        batch=batch,
        xi_a=xi_a,
        xi_w=xi_w,
        a_std=a_std,
        kappa=kappa,
        n_times=n_times,
        n_test=n_test,
        hermite_degree=hermite_degree,
        chunk_steps=chunk_steps,
    )
    if inputs not in _INPUTS:
        raise ValueError(f"inputs must be one of {_INPUTS}, got {inputs!r}")
    hist_choices = ("norm", "r", "a", *(f"s{j}" for j in range(1, k + 1)))
    if hist_variable not in hist_choices:
        raise ValueError(f"hist_variable must be one of {hist_choices}, got {hist_variable!r}")
    seeds = validate_seeds(seeds)
    act = get_activation(activation)
    tgt = make_target(target, k)
    if hist_edges is not None:
        hist_edges = check_edges(hist_edges)
    init = {"a_init": a_init, "a_std": float(a_std), "w_init": w_init, "kappa": float(kappa)}
    initial_parameters(np.random.default_rng(0), N, d, k, **init)  # fail early on bad input
    expansion = hermite_expansion(tgt, hermite_degree) if inputs == "gaussian" else None
    step_sizes = StepSizes(eps, xi)
    step_sizes.table(0, 1)
    n_total, record, snaps = recording_steps(eps, t_max, n_times, record_times, snapshot_times)
    problem = _MultiIndex(
        N=N,
        d=d,
        k=k,
        target=tgt,
        inputs=inputs,
        activation=act,
        lam=float(lam),
        beta=float(beta),
        batch=int(batch),
        xi_a=float(xi_a),
        xi_w=float(xi_w),
        init=init,
        step_sizes=step_sizes,
        n_test=int(n_test),
        expansion=expansion,
    )
    chunk = int(chunk_steps) if chunk_steps is not None else default_chunk_steps(N * d, batch)
    attrs = {
        "problem": "multiindex",
        "inputs": inputs,
        "N": int(N),
        "d": int(d),
        "k": int(k),
        "target": json.dumps(tgt.to_config()),
        **run_attrs(eps, n_total, lam, beta, batch, act, xi),
        "xi_a": float(xi_a),
        "xi_w": float(xi_w),
        "a_init": _describe(a_init),
        "a_std": float(a_std),
        "w_init": _describe(w_init),
        "kappa": float(kappa),
        "noise": "sqrt(4 xi_{a,w} s_k / beta) g",
        "hist_variable": hist_variable,
        "kernel": "numba",
    }
    if inputs == "gaussian":
        attrs["risk_method"] = "exact (Hermite expansion of the target, Mehler series)"
        attrs["target_projection_residual"] = float(expansion.residual)
    else:
        attrs["risk_method"] = "test set"
        attrs["n_test"] = int(n_test)

    def finish(record):
        if hist_variable.startswith("s") and hist_variable != "s" and "s" in record.snapshots:
            # a new record: the one given may also be held by a checkpoint
            column = record.snapshots["s"][..., int(hist_variable[1:]) - 1]
            record = dataclasses.replace(
                record, snapshots={**record.snapshots, hist_variable: column}
            )
        return assemble_result(
            record,
            seeds,
            float(eps),
            hist_variable,
            hist_edges,
            attrs,
            series_extra=("mean_a", "mean_s", "mean_r", "risk_stderr"),
            snapshot_extra=("a", "s", "r", "norm"),
        )

    return run_and_assemble(problem, seeds, record, snaps, chunk, finish,
                            keep_weights=keep_weights, progress=progress,
                            description="SGD multi-index", checkpointing=checkpointing)


def _describe(value) -> str:
    if isinstance(value, (str, numbers.Real)):
        return str(value)
    if isinstance(value, Mapping):
        return json.dumps({key: np.asarray(v).tolist() for key, v in value.items()})
    return f"array{np.shape(value)}"
