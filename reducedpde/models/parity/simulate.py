"""Particle mean-field Langevin dynamics for the k-sparse parity (seed 000), with annealing.

:func:`simulate_parity_mfld` runs ``M`` particles of the network of
:mod:`reducedpde.models.parity.network` on ``n`` training samples,

.. math::  x_j ← x_j − η ∇\\Big(\\frac{δL}{δμ} + c_r ‖x‖^2\\Big)(x_j) + \\sqrt{2 λ_r η}\\, ξ_j,
   \\qquad λ_r = 2^{−r} λ_0,

for ``rounds`` rounds ``r = 0, 1, …`` of ``round_steps`` steps each (``c_r = λ_r λ'`` for the
scaled prior, ``λ'`` for the fixed one), and records, at every ``record_every`` steps and
at every round end: the training loss, the training and test classification errors, the
test loss, the entropy-free part of the objective ``L + c_r ∫‖x‖² dμ``, the temperature,
and the mean magnitudes of the relevant and irrelevant first-layer weights
``‖x_1[:k]‖``, ``‖x_1[k:]‖``.

Time. Step ``k`` is at seed-000 time ``τ = kη`` and at package time ``t = kε`` with
``ε = η/2`` (see ``docs/mfld.md``: the update is the package's SGD convention with
``s = η/2``, ``β = 1/λ``, weight decay ``2c``); ``SGDResult.t`` holds the package time,
``extra["tau"]`` the seed-000 time and ``extra["steps"]`` the step counts.

Threads: the run holds BLAS to one thread (``threadpoolctl``); its matrix products are too
small to gain from more, and threaded BLAS made a step several times slower on a shared
machine.

Randomness: ``numpy.random.SeedSequence(seed).spawn(3)`` seeds three generators, for the
data, the initial particles and the Langevin noise.

Stopping and resuming: as for the package's SGD (:mod:`reducedpde.checkpointing`), the
first Ctrl-C or SIGTERM stops the run between two compiled calls and returns what was
recorded, with a checkpoint (``SGDResult.checkpoint``) when a :class:`Checkpointing` is
given; ``Checkpointing(resume=checkpoint)`` continues it. The trajectory does not depend
on how the steps are split into compiled calls (the noise is drawn from one stream, in
order), so the resumed result equals the uninterrupted one bit for bit.

Checkpoint layout::

    model          "parity-mfld"
    config         the validated parameters (JSON text; a resume must match them)
    initial        "random", or the SHA-256 of the given initial particles
    step           steps done
    X              particles after ``step`` steps, shape (M, d + 2)
    rng            state of the noise generator (JSON text)
    wall_time_s    wall time so far (all parts)
    record         steps, snapshot_steps, snapshots (n_s, M), series/<name>
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ...checkpointing import Checkpointing, deferred_interrupts
from ...results import SGDResult
from ...solvers.particles.summaries import SGDDivergenceError
from .data import ParityData, make_parity_data
from .kernels import (
    code_work_arrays,
    evaluate_codes,
    mfld_steps_hypercube,
    sign_codes,
    work_arrays,
)
from .network import prior_coefficient
from .parameters import validate_parity

__all__ = [
    "SERIES",
    "ParityDivergenceError",
    "round_end_summary",
    "simulate_parity_mfld",
    "temperature_at",
]

#: Recorded series (``SGDResult.extra[name]``, shape ``(1, n_t)``).
SERIES = (
    "train_loss",
    "train_error",
    "test_loss",
    "test_error",
    "test_output_rms",
    "objective",
    "temperature",
    "relevant_norm",
    "irrelevant_norm",
    "mean_norm",
)

#: Largest noise buffer per compiled call, in float64 numbers (16 MB).
_NOISE_BUFFER = 2**21
#: Largest block of tangents when evaluating on the test set, in float64 numbers (32 MB).
_EVAL_BLOCK = 2**22
_MODEL = "parity-mfld"
_HIST_BINS = 40


class ParityDivergenceError(SGDDivergenceError):
    """The particles diverged: a coordinate became non-finite, or the norms overflowed at a
    recording. A :class:`~reducedpde.solvers.particles.summaries.SGDDivergenceError`, so
    the command line reports it (exit status 1) and saves ``partial``.

    Attributes
    ----------
    step : int
        The step at which it was detected.
    partial : SGDResult
        Everything recorded before it.
    """

    def __init__(self, message: str, step: int, partial: SGDResult | None = None):
        super().__init__(message, partial)
        self.step = step


class _Stop(Exception):
    """A deferred SIGINT/SIGTERM was received."""


def temperature_at(step, lam0: float, round_steps: int):
    """Temperature in force at the recording of ``step`` (after ``step`` steps).

    That of the step that led there, ``λ_r`` with ``r = (step − 1) // round_steps``; ``λ0``
    at ``step = 0``. So the state at the end of round ``r`` is reported with ``λ_r``.
    """
    step = np.asarray(step, dtype=np.int64)
    r = np.maximum(step - 1, 0) // round_steps
    return np.ldexp(lam0, -r)


def _step_temperatures(first: int, count: int, lam0: float, round_steps: int) -> np.ndarray:
    """``λ`` of steps ``first … first + count − 1`` (step ``k`` goes from ``k`` to ``k + 1``)."""
    r = (first + np.arange(count, dtype=np.int64)) // round_steps
    return np.ldexp(lam0, -r)


def _generator_state(rng: np.random.Generator) -> str:
    return json.dumps(rng.bit_generator.state)


def _set_generator_state(rng: np.random.Generator, text: str) -> None:
    state = json.loads(text)
    name = type(rng.bit_generator).__name__
    if state.get("bit_generator") != name:
        raise ValueError(f"checkpoint generator is {state.get('bit_generator')!r}, this run "
                         f"uses {name!r}")
    rng.bit_generator.state = state


class _Run:
    """Data, particles, work arrays and recorded series of one run."""

    def __init__(self, cfg: dict, initial: np.ndarray | None = None):
        self.cfg = cfg
        d, M = cfg["d"], cfg["M"]
        data_seq, init_seq, noise_seq = np.random.SeedSequence(cfg["seed"]).spawn(3)
        self.data: ParityData = make_parity_data(
            d, cfg["k"], cfg["n"], np.random.default_rng(data_seq), cfg["n_test"]
        )
        if initial is None:
            self.X = cfg["init_scale"] * np.random.default_rng(init_seq).standard_normal(
                (M, d + 2))
            self.initial = "random"
        else:
            X0 = np.asarray(initial, dtype=np.float64)
            if X0.shape != (M, d + 2) or not np.isfinite(X0).all():
                raise ValueError(f"parameter 'initial' must be a finite array of shape "
                                 f"(M, d + 2) = {(M, d + 2)}, got shape {X0.shape}")
            self.X = np.array(X0, order="C")
            self.initial = "sha256:" + hashlib.sha256(self.X.tobytes()).hexdigest()
        self.rng = np.random.default_rng(noise_seq)
        # the inputs as sign codes (the products by table reads, kernels.sign_codes)
        self.codes, self.starts, self.zscale = sign_codes(self.data.z_train)
        bits = int(self.starts[1] - self.starts[0])
        self.codes_test = sign_codes(self.data.z_test, block_bits=bits)[0]
        self.work = work_arrays(M, cfg["n"], d)
        self.tables, self.histograms = code_work_arrays(M, self.starts)
        n_test = self.codes_test.shape[0]
        self.U_test = np.empty((max(1, min(n_test, _EVAL_BLOCK // M)), M))
        self.f_test = np.empty(n_test)
        chunk = max(1, min(1000, _NOISE_BUFFER // (M * (d + 2))))
        self.noise = np.empty((chunk, M, d + 2))
        self.step = 0
        self.steps: list[int] = []
        self.series: dict[str, list[float]] = {name: [] for name in SERIES}
        self.snapshot_steps: list[int] = []
        self.snapshots: list[np.ndarray] = []
        self.kernel_s = 0.0

    # -- dynamics ----------------------------------------------------------------------

    def advance(self, count: int) -> int:
        """``count`` steps (``count <= chunk``); returns ``-1`` or the index of the first
        non-finite step within them."""
        cfg = self.cfg
        noise = self.noise[:count]
        self.rng.standard_normal(out=noise)
        lams = _step_temperatures(self.step, count, cfg["lam0"], cfg["round_steps"])
        start = time.perf_counter()
        bad = mfld_steps_hypercube(self.X, self.codes, self.starts, self.zscale,
                                   self.data.y_train, noise, lams, cfg["eta"], cfg["Rbar"],
                                   cfg["lam_prime"], cfg["prior"] == "scaled", *self.work,
                                   self.tables, self.histograms)
        self.kernel_s += time.perf_counter() - start
        return int(bad)

    # -- observables -------------------------------------------------------------------

    def observe(self) -> dict[str, float]:
        cfg, X, k, d = self.cfg, self.X, self.cfg["k"], self.cfg["d"]
        lam = float(temperature_at(self.step, cfg["lam0"], cfg["round_steps"]))
        c = prior_coefficient(lam, cfg["lam_prime"], cfg["prior"])
        X1T, x2, U, f = self.work[:4]
        codes = (self.starts, self.zscale)
        train_loss, train_error = evaluate_codes(X, self.codes, *codes, self.data.y_train,
                                                 cfg["Rbar"], X1T, x2, self.tables, U, f)
        test_loss, test_error = evaluate_codes(X, self.codes_test, *codes, self.data.y_test,
                                               cfg["Rbar"], X1T, x2, self.tables,
                                               self.U_test, self.f_test)
        with np.errstate(over="ignore", invalid="ignore"):
            # overflowing weights are reported as divergence by the caller
            return {
                "train_loss": train_loss,
                "train_error": train_error,
                "test_loss": test_loss,
                "test_error": test_error,
                "test_output_rms": float(np.sqrt(np.mean(self.f_test**2))),
                "objective": train_loss + c * float(np.mean(np.sum(X * X, axis=1))),
                "temperature": lam,
                "relevant_norm": float(np.linalg.norm(X[:, :k], axis=1).mean()),
                "irrelevant_norm": float(np.linalg.norm(X[:, k:d], axis=1).mean()),
                "mean_norm": float(np.linalg.norm(X[:, :d], axis=1).mean()),
            }

    def record(self, snapshot: bool) -> dict[str, float] | None:
        """Record the observables; ``None`` (nothing recorded) if one is not finite."""
        obs = self.observe()
        if not all(np.isfinite(v) for v in obs.values()):
            return None
        # append everything at once: a stop never leaves a half-recorded time
        for name in SERIES:
            self.series[name].append(float(obs[name]))
        self.steps.append(self.step)
        if snapshot:
            self.snapshot_steps.append(self.step)
            self.snapshots.append(np.linalg.norm(self.X[:, : self.cfg["k"]], axis=1))
        return obs

    # -- checkpoints -------------------------------------------------------------------

    def checkpoint(self, wall_s: float) -> dict:
        M = self.cfg["M"]
        return {
            "model": _MODEL,
            "config": json.dumps(self.cfg, sort_keys=True),
            "initial": self.initial,
            "step": int(self.step),
            "X": self.X.copy(),
            "rng": _generator_state(self.rng),
            "wall_time_s": float(wall_s),
            "kernel_time_s": float(self.kernel_s),
            "record": {
                "steps": np.asarray(self.steps, dtype=np.int64),
                "snapshot_steps": np.asarray(self.snapshot_steps, dtype=np.int64),
                "snapshots": (np.stack(self.snapshots) if self.snapshots
                              else np.empty((0, M))),
                "series": {name: np.asarray(v, dtype=np.float64)
                           for name, v in self.series.items()},
            },
        }

    def restore(self, state: Mapping) -> float:
        """Continue from ``state``; returns the wall time already spent."""
        if state.get("model") != _MODEL:
            raise ValueError(f"the checkpoint is of model {state.get('model')!r}, not "
                             f"{_MODEL!r}")
        saved = json.loads(state["config"])
        differ = sorted(key for key in set(saved) | set(self.cfg)
                        if saved.get(key) != self.cfg.get(key))
        if differ:
            text = ", ".join(f"{key}={saved.get(key)!r} (now {self.cfg.get(key)!r})"
                             for key in differ)
            raise ValueError(f"the checkpoint was made with other parameters: {text}")
        if state.get("initial", "random") != self.initial:
            raise ValueError("the checkpoint was made from other initial particles "
                             f"({state.get('initial', 'random')!r}, now {self.initial!r})")
        X = np.asarray(state["X"], dtype=np.float64)
        if X.shape != self.X.shape:
            raise ValueError(f"checkpoint particles have shape {X.shape}, this run needs "
                             f"{self.X.shape}")
        self.X[...] = X
        _set_generator_state(self.rng, state["rng"])
        self.step = int(state["step"])
        rec = state["record"]
        self.steps = [int(k) for k in np.asarray(rec["steps"])]
        self.series = {name: [float(v) for v in np.asarray(rec["series"][name])]
                       for name in SERIES}
        self.snapshot_steps = [int(k) for k in np.asarray(rec["snapshot_steps"])]
        self.snapshots = [np.array(row) for row in np.asarray(rec["snapshots"])]
        self.kernel_s = float(state.get("kernel_time_s", 0.0))
        return float(state.get("wall_time_s", 0.0))

    # -- result ------------------------------------------------------------------------

    def result(self, wall_s: float, *, interrupted=False, diverged="", final=True,
               checkpoint=None) -> SGDResult:
        cfg = self.cfg
        eps = cfg["eta"] / 2.0
        steps = np.asarray(self.steps, dtype=np.int64)
        series = {name: np.asarray(v, dtype=np.float64)[None, :]
                  for name, v in self.series.items()}
        snaps = (np.stack(self.snapshots) if self.snapshots else np.empty((0, cfg["M"])))
        top = float(snaps.max()) if snaps.size else 1.0
        edges = np.linspace(0.0, 1.05 * top if top > 0 else 1.0, _HIST_BINS + 1)
        widths = np.diff(edges)
        hist = np.stack([np.histogram(row, bins=edges)[0] / (row.size * widths)
                         for row in snaps]) if snaps.size else np.empty((0, _HIST_BINS))
        extra = {
            "steps": steps,
            "tau": steps * cfg["eta"],
            "beta": 1.0 / series["temperature"],
            **series,
        }
        if final:
            extra["final_weights"] = self.X[None].copy()
        n_done = int(steps[-1]) if steps.size else 0
        attrs = {
            "model": _MODEL,
            "config": json.dumps(cfg, sort_keys=True),
            "initial": self.initial,
            "N": cfg["M"],
            "d": cfg["d"],
            "k": cfg["k"],
            "n": cfg["n"],
            "eps": eps,
            "eta": cfg["eta"],
            "Rbar": cfg["Rbar"],
            "lam_prime": cfg["lam_prime"],
            "prior": cfg["prior"],
            "lam0": cfg["lam0"],
            "beta0": 1.0 / cfg["lam0"],
            "rounds": cfg["rounds"],
            "round_steps": cfg["round_steps"],
            "anneal": "geometric",
            "n_steps": cfg["rounds"] * cfg["round_steps"],
            "n_steps_done": n_done,
            "test_exact": bool(self.data.test_exact),
            "n_test_points": int(self.data.y_test.size),
            "time": "t = k η/2 (package time, ε = η/2); extra/tau = k η (seed-000 time)",
            "risk": "test logistic loss (exact over the hypercube when test_exact)",
            "mean_norm": "mean over particles of ‖x1‖",
            "hist_variable": "‖x1[:k]‖ (relevant weights) at t = 0 and each round end",
            "wall_time_s": float(wall_s),
            "kernel_time_s": float(self.kernel_s),
            "steps_per_s": float(self.step / self.kernel_s) if self.kernel_s > 0 else 0.0,
            "interrupted": bool(interrupted),
            "diverged": diverged,
        }
        result = SGDResult(
            t=steps * eps,
            risk=series["test_loss"].copy(),
            mean_norm=series["mean_norm"].copy(),
            snapshot_times=np.asarray(self.snapshot_steps, dtype=np.int64) * eps,
            histograms=hist[None],
            hist_edges=edges,
            seeds=np.asarray([cfg["seed"]], dtype=np.int64),
            attrs=attrs,
            extra=extra,
        )
        result.checkpoint = checkpoint
        return result


def _record_plan(cfg: dict) -> tuple[np.ndarray, set[int]]:
    total = cfg["rounds"] * cfg["round_steps"]
    ends = [r * cfg["round_steps"] for r in range(cfg["rounds"] + 1)]
    steps = np.unique(np.concatenate([np.arange(0, total, cfg["record_every"]), ends]))
    return steps.astype(np.int64), set(ends)


def _divergence_message(cfg: dict, step: int, what: str) -> str:
    lam = float(_step_temperatures(step - 1, 1, cfg["lam0"], cfg["round_steps"])[0])
    r = (step - 1) // cfg["round_steps"]
    c = prior_coefficient(lam, cfg["lam_prime"], cfg["prior"])
    factor = 1.0 - 2.0 * cfg["eta"] * c
    where = (f"parity MFLD diverged at step {step} (round {r}, λ = {lam:.4g}, "
             f"t = {step * cfg['eta'] / 2:.6g}): {what}")
    if abs(factor) > 1.0:
        cause = (f"the prior term multiplies the weights by 1 − 2ηc = {factor:.4g} per step "
                 f"(c = {'λλ' if cfg['prior'] == 'scaled' else 'λ'}' = {c:.4g}), which "
                 "grows them geometrically")
        advice = (f"reduce eta below 1/c = {1.0 / c:.4g} (or lam_prime)")
    else:
        cause = "the weights overflowed"
        advice = "reduce eta (or Rbar)"
    return f"{where}; cause: {cause}; advice: {advice}"


def _diverge(run: _Run, cfg: dict, step: int, what: str, wall_s: float):
    message = _divergence_message(cfg, step, what)
    partial = run.result(wall_s, diverged=message, final=False)
    raise ParityDivergenceError(message, step, partial)


def simulate_parity_mfld(
    params: Mapping | None = None,
    *,
    initial: np.ndarray | None = None,
    progress: bool = True,
    checkpointing: Checkpointing | None = None,
    description: str = "parity MFLD",
) -> SGDResult:
    """Run the annealed particle MFLD of the sparse-parity experiment.

    Parameters
    ----------
    params : mapping, optional
        Values for :data:`~reducedpde.models.parity.parameters.PARITY_PARAMETERS` (the rest
        take the ``parity-mfld`` defaults); validated by
        :func:`~reducedpde.models.parity.parameters.validate_parity`.
    initial : ndarray, shape (M, d + 2), optional
        Initial particles (default: ``init_scale`` times standard normals).
    progress : bool
        Show a tqdm progress bar (with the round, the temperature and the test error).
    checkpointing : Checkpointing, optional
        Periodic checkpoints (``every_s``), a checkpoint when stopped by SIGINT/SIGTERM,
        and resumption from ``resume`` (see the module docstring).
    description : str
        Label of the progress bar.

    Returns
    -------
    SGDResult
        One run (``seeds`` has one entry): ``t`` (package time ``kη/2``), ``risk`` (test
        logistic loss), ``mean_norm`` (mean ``‖x1‖``), histograms of ``‖x1[:k]‖`` at
        ``t = 0`` and each round end, and in ``extra`` the series of :data:`SERIES`
        (shape ``(1, n_t)``), ``steps``, ``tau = kη``, ``beta = 1/λ`` and
        ``final_weights`` ``(1, M, d + 2)``. ``attrs["interrupted"]`` is set (and
        ``checkpoint`` when checkpointing) if a signal stopped the run.

    Raises
    ------
    ValueError
        Bad parameters (naming the parameter and its range) or a checkpoint of another run.
    ParityDivergenceError
        A particle coordinate became non-finite; the message gives the step, the cause and
        advice, ``partial`` the result recorded before it.
    """
    cfg = validate_parity(params)
    run = _Run(cfg, initial)
    record_steps, round_ends = _record_plan(cfg)
    total = int(record_steps[-1])
    ckpt = checkpointing
    wall_before = run.restore(ckpt.resume) if ckpt is not None and ckpt.resume is not None \
        else 0.0
    start = time.perf_counter()

    def wall() -> float:
        return wall_before + time.perf_counter() - start

    latest = None
    last_save = time.monotonic()

    def save_checkpoint() -> dict:
        nonlocal latest, last_save
        latest = run.checkpoint(wall())
        if ckpt.save is not None:
            ckpt.save(latest, run.result(wall(), interrupted=True, final=False,
                                         checkpoint=latest))
        last_save = time.monotonic()
        return latest

    bar = tqdm(total=total, initial=run.step, desc=description, unit="step",
               disable=not progress, dynamic_ncols=True, smoothing=0.05)
    interrupted = False
    chunk = run.noise.shape[0]
    # one BLAS thread: the observables' small products gain nothing from threads
    with deferred_interrupts() as stop, threadpool_limits(limits=1, user_api="blas"):
        try:
            if not run.steps:
                run.record(snapshot=True)
            for target in record_steps:
                target = int(target)
                if target <= run.steps[-1]:
                    continue
                while run.step < target:
                    if stop.requested:
                        raise _Stop
                    count = min(chunk, target - run.step)
                    bad = run.advance(count)
                    if bad >= 0:
                        step = run.step + bad + 1
                        _diverge(run, cfg, step, "a particle coordinate became non-finite",
                                 wall())
                    run.step += count
                    bar.update(count)
                    if (ckpt is not None and ckpt.every_s is not None
                            and time.monotonic() - last_save >= ckpt.every_s):
                        save_checkpoint()
                obs = run.record(snapshot=target in round_ends)
                if obs is None:
                    _diverge(run, cfg, target, "the weights overflowed (non-finite "
                             "objective or norms)", wall())
                bar.set_postfix(round=(target - 1) // cfg["round_steps"],
                                lam=f"{obs['temperature']:.3g}",
                                test_err=f"{obs['test_error']:.3f}", refresh=False)
        except _Stop:
            interrupted = True
            if ckpt is not None:
                save_checkpoint()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
    if interrupted:
        return run.result(wall(), interrupted=True, final=False, checkpoint=latest)
    return run.result(wall())


def round_end_summary(result: SGDResult) -> list[dict]:
    """One row per annealing round: its temperature and the errors at its end.

    Parameters
    ----------
    result : SGDResult
        From :func:`simulate_parity_mfld`.

    Returns
    -------
    list of dict
        ``round``, ``step``, ``temperature``, ``train_loss``, ``train_error``,
        ``test_error``, ``relevant_norm``, ``irrelevant_norm`` at each recorded round end.
    """
    round_steps = int(result.attrs["round_steps"])
    steps = np.asarray(result.extra["steps"])
    rows = []
    for i, k in enumerate(steps):
        if k == 0 or k % round_steps:
            continue
        rows.append({"round": int(k // round_steps) - 1, "step": int(k),
                     **{name: float(result.extra[name][0, i])
                        for name in ("temperature", "train_loss", "train_error",
                                     "test_error", "relevant_norm", "irrelevant_norm")}})
    return rows
