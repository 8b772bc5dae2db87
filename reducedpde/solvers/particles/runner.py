"""Ensemble driver shared by the SGD problems.

The driver advances every run (one per seed) from one recording step to the next in blocks
of compiled steps, records the observables of each run and shows a progress bar.

Stopping and resuming
---------------------
Ctrl-C (SIGINT) and SIGTERM are deferred (:mod:`reducedpde.checkpointing`): the run stops at
the end of the current block, where every run's state is consistent, and returns what was
recorded with ``interrupted = True``. With :class:`Checkpointing`, the driver also
produces a *checkpoint* there (and periodically, every ``every_s`` seconds of wall time):
a nested dict holding the recorded series and, for each run, its step and the state given by
:meth:`Problem.get_state` (parameters and random-generator states). Passing it back as
``Checkpointing(resume=state)`` continues every run from its own step; because a run's
trajectory does not depend on how its steps are split into blocks, the resumed result is
bit-for-bit the uninterrupted one. A second signal raises :class:`KeyboardInterrupt` at
once; a ``KeyboardInterrupt`` raised by other means also stops the run, keeping the
recorded series and the latest periodic checkpoint (if any).

A problem supplies the callables of :class:`Problem`; the driver knows nothing about the
physics and nothing about files (the ``save`` callback of :class:`Checkpointing` does).

Checkpoint layout (leaves are arrays, ints, floats or strings)::

    position        last recording step committed (−1: none)
    wall_time_s     wall time spent so far, summed over the interrupted and resumed parts
    record          steps, snapshot_steps, series/<key>, snapshots/<key>, weights/<key>
    runs/<i>        step (int) and the entries of Problem.get_state for run i
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

from ...checkpointing import Checkpointing, deferred_interrupts

__all__ = [
    "Checkpointing",
    "EnsembleRecord",
    "Problem",
    "run_ensemble",
    "spawn_generators",
]


def spawn_generators(seed: int, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed`` (``SeedSequence.spawn``)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(n)]


class Problem(Protocol):
    """What :func:`run_ensemble` needs from a problem."""

    def new_run(self, seed: int) -> Any:
        """A fresh run state (parameters at ``t = 0``) for ``seed``."""

    def advance(self, run: Any, k0: int, n: int) -> None:
        """Advance ``run`` from step ``k0`` by ``n`` steps."""

    def observe(self, run: Any) -> dict[str, Any]:
        """Observables recorded at every recording step (scalars or arrays)."""

    def snapshot(self, run: Any) -> dict[str, np.ndarray]:
        """Arrays recorded at snapshot steps."""

    def weights(self, run: Any) -> dict[str, np.ndarray]:
        """Parameters to keep (copied) when ``keep_weights`` is set."""

    def get_state(self, run: Any) -> dict[str, Any]:
        """Copy of everything that determines the rest of the run (arrays, str, numbers)."""

    def set_state(self, run: Any, state: dict[str, Any]) -> None:
        """Put a state from :meth:`get_state` into ``run`` (made by :meth:`new_run`)."""


@dataclass
class EnsembleRecord:
    """Raw output of :func:`run_ensemble`; series have shape ``(n_seeds, n_t, …)``.

    ``checkpoint`` is set when the run was interrupted and checkpointing was requested.
    """

    steps: np.ndarray
    snapshot_steps: np.ndarray
    series: dict[str, np.ndarray]
    snapshots: dict[str, np.ndarray]
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    interrupted: bool = False
    diverged: str | None = None
    diverged_steps: tuple[int, int] | None = None
    wall_time_s: float = 0.0
    checkpoint: dict | None = None


def _stack(rows: list[list[dict]]) -> dict[str, np.ndarray]:
    """``rows[t][seed][key]`` → ``{key: array (n_seeds, n_t, …)}``."""
    if not rows:
        return {}
    out = {}
    for key in rows[0][0]:
        out[key] = np.stack(
            [np.stack([np.asarray(per_seed[key]) for per_seed in row]) for row in rows], axis=1
        )
    return out


def _unstack(series: dict[str, np.ndarray], n_seeds: int, n_t: int) -> list[list[dict]]:
    """Inverse of :func:`_stack`."""
    return [[{key: v[s, t] for key, v in series.items()} for s in range(n_seeds)]
            for t in range(n_t)]


class _Committed:
    """The recorded time slices; one append per slice, so a stop never splits one."""

    def __init__(self, n_seeds: int):
        self.n_seeds = n_seeds
        self.slices: list[tuple] = []  # (step, row, snap or None)
        self.kept = None  # weights of the last slice (keep_weights)

    @property
    def position(self) -> int:
        return self.slices[-1][0] if self.slices else -1

    def record(self, **kw) -> EnsembleRecord:
        rows = [c[1] for c in self.slices]
        snaps = [c for c in self.slices if c[2] is not None]
        kept = self.kept
        return EnsembleRecord(
            steps=np.asarray([c[0] for c in self.slices], dtype=np.int64),
            snapshot_steps=np.asarray([c[0] for c in snaps], dtype=np.int64),
            series=_stack(rows),
            snapshots=_stack([c[2] for c in snaps]),
            weights={key: np.stack([w[key] for w in kept]) for key in kept[0]} if kept else {},
            **kw,
        )

    def restore(self, saved: dict) -> None:
        steps = np.asarray(saved["steps"], dtype=np.int64)
        snap_steps = {int(k): j for j, k in enumerate(saved["snapshot_steps"])}
        rows = _unstack(saved.get("series", {}), self.n_seeds, steps.size)
        snaps = _unstack(saved.get("snapshots", {}), self.n_seeds, len(snap_steps))
        self.slices = [
            (int(k), rows[t], snaps[snap_steps[int(k)]] if int(k) in snap_steps else None)
            for t, k in enumerate(steps)
        ]
        weights = saved.get("weights", {})
        self.kept = (
            [{key: np.asarray(v[s]) for key, v in weights.items()} for s in range(self.n_seeds)]
            if weights
            else None
        )


def _checkpoint_state(problem, runs, run_steps, position: int, record: EnsembleRecord) -> dict:
    return {
        "position": position,
        "wall_time_s": record.wall_time_s,
        "record": {
            "steps": record.steps,
            "snapshot_steps": record.snapshot_steps,
            "series": record.series,
            "snapshots": record.snapshots,
            "weights": record.weights,
        },
        "runs": {
            str(i): {"step": int(run_steps[i]), **problem.get_state(run)}
            for i, run in enumerate(runs)
        },
    }


def _check_resume(state: dict, n_seeds: int, record_steps: np.ndarray) -> None:
    runs = state.get("runs", {})
    if len(runs) != n_seeds:
        raise ValueError(f"the checkpoint holds {len(runs)} runs, this run has {n_seeds} seeds")
    position = int(state["position"])
    if position >= 0 and position not in set(record_steps.tolist()):
        raise ValueError(f"the checkpoint's last recording step {position} is not a "
                         "recording step of this run (different parameters?)")
    last = int(record_steps[-1])
    for key, run in runs.items():
        if not max(position, 0) <= int(run["step"]) <= last:
            raise ValueError(f"run {key} of the checkpoint is at step {run['step']}, outside "
                             f"[{max(position, 0)}, {last}]")


def run_ensemble(
    problem: Problem,
    seeds,
    record_steps,
    snapshot_steps,
    chunk_steps: int,
    *,
    keep_weights: bool = False,
    progress: bool = True,
    description: str = "SGD",
    checkpointing: Checkpointing | None = None,
) -> EnsembleRecord:
    """Run one SGD trajectory per seed and record observables at ``record_steps``.

    Parameters
    ----------
    problem : Problem
    seeds : sequence of int
    record_steps : ndarray of int
        Sorted step indices, starting at 0.
    snapshot_steps : ndarray of int
        Subset of ``record_steps`` at which :meth:`Problem.snapshot` is recorded.
    chunk_steps : int
        Maximum number of steps per compiled call (signals are honoured between calls).
    keep_weights : bool
        Keep a copy of the parameters at the last recorded step.
    progress : bool
        Show a tqdm progress bar.
    checkpointing : Checkpointing, optional
        Periodic checkpoints, a checkpoint when stopped by a signal, and resumption (see
        the module docstring).
    """
    start = time.perf_counter()
    record_steps = np.asarray(record_steps, dtype=np.int64)
    snapshot_set = {int(k) for k in snapshot_steps}
    n_seeds = len(seeds)
    ckpt = checkpointing
    resume = ckpt.resume if ckpt is not None else None
    committed = _Committed(n_seeds)
    wall_before = 0.0
    if resume is not None:
        _check_resume(resume, n_seeds, record_steps)
        committed.restore(resume["record"])
        wall_before = float(resume.get("wall_time_s", 0.0))
    interrupted = False
    diverged = None
    diverged_steps = None
    latest_checkpoint = None
    last_save = time.monotonic()
    bar = tqdm(
        total=int(record_steps[-1]) * n_seeds,
        desc=description,
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
        smoothing=0.05,
    )

    def wall() -> float:
        return wall_before + time.perf_counter() - start

    def make_checkpoint() -> dict:
        nonlocal latest_checkpoint, last_save
        record = committed.record(wall_time_s=wall(), interrupted=True)
        latest_checkpoint = _checkpoint_state(problem, runs, run_steps, committed.position,
                                              record)
        if ckpt.save is not None:
            ckpt.save(latest_checkpoint, record)
        last_save = time.monotonic()
        return latest_checkpoint

    runs: list = []
    run_steps: list[int] = []
    with deferred_interrupts() as stop:
        try:
            for i, seed in enumerate(seeds):
                run = problem.new_run(int(seed))
                step = 0
                if resume is not None:
                    saved = resume["runs"][str(i)]
                    problem.set_state(run, {k: v for k, v in saved.items() if k != "step"})
                    step = int(saved["step"])
                runs.append(run)
                run_steps.append(step)
            bar.update(sum(run_steps))
            for target in record_steps:
                target = int(target)
                if target <= committed.position:
                    continue
                for i, run in enumerate(runs):
                    while run_steps[i] < target:
                        if stop.requested:
                            raise _Stop
                        n = min(chunk_steps, target - run_steps[i])
                        problem.advance(run, run_steps[i], n)
                        run_steps[i] += n
                        bar.update(n)
                        if (ckpt is not None and ckpt.every_s is not None
                                and time.monotonic() - last_save >= ckpt.every_s):
                            make_checkpoint()
                with np.errstate(over="ignore", invalid="ignore"):
                    # overflowing weights are reported as divergence just below
                    row = [
                        problem.observe(run) if _all_finite(problem.weights(run)) else None
                        for run in runs
                    ]
                bad = [i for i, obs in enumerate(row) if obs is None or not _all_finite(obs)]
                if bad:
                    diverged_steps = (max(committed.position, 0), target)
                    diverged = (
                        f"SGD diverged: the weights of seed {int(seeds[bad[0]])} overflowed "
                        f"(non-finite weights or risk) between steps "
                        f"{max(committed.position, 0)} and {target}; the step size is "
                        "likely too large (reduce eps)"
                    )
                    break
                snap = [problem.snapshot(run) for run in runs] if target in snapshot_set else None
                kept = (
                    [{key: np.array(v, copy=True) for key, v in problem.weights(run).items()}
                     for run in runs]
                    if keep_weights
                    else None
                )
                # one append per time slice: a stop never leaves a slice half recorded
                committed.slices.append((target, row, snap))
                committed.kept = kept
        except _Stop:
            interrupted = True
            if ckpt is not None:
                make_checkpoint()
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
    return committed.record(
        interrupted=interrupted,
        diverged=diverged,
        diverged_steps=diverged_steps,
        wall_time_s=wall(),
        checkpoint=latest_checkpoint if interrupted else None,
    )


class _Stop(Exception):
    """A deferred SIGINT/SIGTERM was received: stop at this consistent point."""


def _all_finite(arrays: dict) -> bool:
    return all(np.isfinite(np.asarray(v)).all() for v in arrays.values())
