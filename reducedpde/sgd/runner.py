"""Ensemble driver shared by the SGD problems.

The driver advances every run (one per seed) from one recording step to the next in blocks
of compiled steps, records the observables of each run, shows a progress bar and stops
cleanly on ``KeyboardInterrupt``: what was recorded so far is returned, with
``interrupted = True``.

A problem supplies four callables (see :class:`Problem`); the driver knows nothing about
the physics.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

__all__ = ["EnsembleRecord", "Problem", "run_ensemble", "spawn_generators"]


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


@dataclass
class EnsembleRecord:
    """Raw output of :func:`run_ensemble`; series have shape ``(n_seeds, n_t, …)``."""

    steps: np.ndarray
    snapshot_steps: np.ndarray
    series: dict[str, np.ndarray]
    snapshots: dict[str, np.ndarray]
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    interrupted: bool = False
    diverged: str | None = None
    wall_time_s: float = 0.0


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
        Maximum number of steps per compiled call (interrupts are honoured between calls).
    keep_weights : bool
        Keep a copy of the parameters at the last recorded step.
    progress : bool
        Show a tqdm progress bar.
    """
    start = time.perf_counter()
    record_steps = np.asarray(record_steps, dtype=np.int64)
    snapshot_set = {int(k) for k in snapshot_steps}
    total = int(record_steps[-1]) * len(seeds)
    committed: list[tuple] = []
    interrupted = False
    diverged = None
    bar = tqdm(
        total=total,
        desc=description,
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
        smoothing=0.05,
    )
    try:
        runs = [problem.new_run(int(s)) for s in seeds]
        position = 0
        for target in record_steps:
            target = int(target)
            for run in runs:
                k = position
                while k < target:
                    n = min(chunk_steps, target - k)
                    problem.advance(run, k, n)
                    k += n
                    bar.update(n)
            position = target
            with np.errstate(over="ignore", invalid="ignore"):
                # overflowing weights are reported as divergence just below
                row = [
                    problem.observe(run) if _all_finite(problem.weights(run)) else None
                    for run in runs
                ]
            bad = [i for i, obs in enumerate(row) if obs is None or not _all_finite(obs)]
            if bad:
                diverged = (
                    f"SGD diverged: the weights of seed {int(seeds[bad[0]])} overflowed "
                    f"(non-finite weights or risk) between steps "
                    f"{committed[-1][0] if committed else 0} and {target}; the step size is "
                    "likely too large (reduce eps)"
                )
                break
            snap = [problem.snapshot(run) for run in runs] if target in snapshot_set else None
            kept = (
                [
                    {key: np.array(v, copy=True) for key, v in problem.weights(run).items()}
                    for run in runs
                ]
                if keep_weights
                else None
            )
            # one append per time slice: an interrupt never leaves a slice half recorded
            committed.append((target, row, snap, kept))
            if keep_weights and len(committed) > 1:
                committed[-2] = (*committed[-2][:3], None)  # keep only the latest copy
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    rows = [c[1] for c in committed]
    snaps = [c for c in committed if c[2] is not None]
    kept = committed[-1][3] if committed and keep_weights else None
    weights = {key: np.stack([w[key] for w in kept]) for key in kept[0]} if kept else {}
    return EnsembleRecord(
        steps=np.asarray([c[0] for c in committed], dtype=np.int64),
        snapshot_steps=np.asarray([c[0] for c in snaps], dtype=np.int64),
        series=_stack(rows),
        snapshots=_stack([c[2] for c in snaps]),
        weights=weights,
        interrupted=interrupted,
        diverged=diverged,
        wall_time_s=time.perf_counter() - start,
    )


def _all_finite(arrays: dict) -> bool:
    return all(np.isfinite(np.asarray(v)).all() for v in arrays.values())
