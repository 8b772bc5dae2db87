"""Histograms and result assembly shared by the SGD problems."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import numpy as np

from ...results import SGDResult
from .runner import Checkpointing, EnsembleRecord, run_ensemble

__all__ = [
    "SGDDivergenceError",
    "assemble_result",
    "auto_edges",
    "check_edges",
    "density_histograms",
    "json_safe",
    "run_and_assemble",
    "run_attrs",
]


def auto_edges(values: np.ndarray, n_bins: int = 100) -> np.ndarray:
    """``n_bins`` equal bins from ``min(0, values)`` to ``max(values)``, widened by 5 % of
    the span on each open side (``[0, 1]`` when there is nothing to bin)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.linspace(0.0, 1.0, n_bins + 1)
    lo, hi = min(0.0, float(finite.min())), float(finite.max())
    span = hi - lo if hi > lo else 1.0
    return np.linspace(lo - 0.05 * span if lo < 0 else lo, hi + 0.05 * span, n_bins + 1)


def check_edges(edges) -> np.ndarray:
    edges = np.asarray(edges, dtype=np.float64)
    if (
        edges.ndim != 1
        or edges.size < 2
        or not np.all(np.isfinite(edges))
        or np.any(np.diff(edges) <= 0)
    ):
        raise ValueError(
            f"hist_edges must be a strictly increasing 1-D array of >= 2 finite values, "
            f"got {edges!r}"
        )
    return edges


def density_histograms(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Densities (w.r.t. the variable) of the last axis of ``values`` on ``edges``.

    Each histogram is normalised by the number of neurons, so mass outside the edges is
    missing rather than redistributed. Shape ``values.shape[:-1] + (len(edges) − 1,)``.
    """
    lead = values.shape[:-1]
    flat = values.reshape(-1, values.shape[-1])
    widths = np.diff(edges)
    out = np.empty((flat.shape[0], widths.size))
    for i, row in enumerate(flat):
        counts, _ = np.histogram(row, bins=edges)
        out[i] = counts / (row.size * widths)
    return out.reshape((*lead, widths.size))


def json_safe(value):
    """Attribute values as plain Python scalars/strings (``inf`` kept as a float)."""
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return value


class SGDDivergenceError(RuntimeError):
    """SGD produced non-finite weights; ``partial`` holds the result up to the last good
    recording time."""

    def __init__(self, message: str, partial: SGDResult | None = None):
        super().__init__(message)
        self.partial = partial


def assemble_result(
    record: EnsembleRecord,
    seeds: np.ndarray,
    eps: float,
    hist_values_key: str,
    hist_edges,
    attrs: dict,
    series_extra: tuple[str, ...] = (),
    snapshot_extra: tuple[str, ...] = (),
) -> SGDResult:
    """Turn an :class:`EnsembleRecord` into an :class:`~reducedpde.results.SGDResult`.

    ``record.series`` must hold ``risk`` and ``mean_norm``; ``record.snapshots`` must hold
    ``hist_values_key`` (the per-neuron values histogrammed).
    """
    n_seeds = len(seeds)
    series, snaps = record.series, record.snapshots
    risk = series.get("risk", np.empty((n_seeds, 0)))
    mean_norm = series.get("mean_norm", np.empty((n_seeds, 0)))
    values = snaps.get(hist_values_key)
    if hist_edges is None:
        edges = auto_edges(values if values is not None else np.empty(0))
    else:
        edges = check_edges(hist_edges)
    if values is not None:
        hist = density_histograms(values, edges)
    else:
        hist = np.empty((n_seeds, 0, edges.size - 1))
    extra = {key: series[key] for key in series_extra if key in series}
    for key in snapshot_extra:
        if key in snaps:
            extra[f"snapshot_{key}"] = snaps[key]
    extra.update(record.weights)
    all_attrs = {key: json_safe(v) for key, v in attrs.items()}
    all_attrs.update(
        diverged=record.diverged or "",
        interrupted=bool(record.interrupted),
        wall_time_s=float(record.wall_time_s),
        n_steps_done=int(record.steps[-1]) if record.steps.size else 0,
    )
    result = SGDResult(
        t=record.steps * eps,
        risk=risk,
        mean_norm=mean_norm,
        snapshot_times=record.snapshot_steps * eps,
        histograms=hist,
        hist_edges=edges,
        seeds=np.asarray(seeds, dtype=np.int64),
        attrs=all_attrs,
        extra=extra,
    )
    if record.diverged:
        message = record.diverged
        if record.diverged_steps is not None:
            k0, k1 = record.diverged_steps
            message = message.replace(
                f"between steps {k0} and {k1}",
                f"between steps {k0} and {k1} (t = {k0 * eps:.6g} to {k1 * eps:.6g})",
            )
        result.attrs["diverged"] = message
        raise SGDDivergenceError(message, partial=result)
    return result



def run_attrs(eps: float, n_total: int, lam: float, beta: float, batch: int, activation,
              xi) -> dict:
    """The attributes every SGD result records about its run: step size, length, weight
    decay, temperature, batch, activation and schedule."""
    return {
        "eps": float(eps),
        "t_max": n_total * float(eps),
        "n_steps": int(n_total),
        "lam": float(lam),
        "beta": float(beta),
        "batch": int(batch),
        "activation": activation.name,
        "activation_config": json.dumps(activation.to_config()),
        "xi": "constant" if xi is None else getattr(xi, "__name__", "callable"),
    }


def run_and_assemble(
    problem,
    seeds,
    record_steps,
    snapshot_steps,
    chunk_steps: int,
    finish: Callable[[EnsembleRecord], SGDResult],
    *,
    keep_weights: bool,
    progress: bool,
    description: str,
    checkpointing: Checkpointing | None,
) -> SGDResult:
    """Run :func:`~reducedpde.solvers.particles.runner.run_ensemble` and assemble its record with
    ``finish`` (e.g. :func:`assemble_result` with the problem's attributes).

    The ``save`` callback of ``checkpointing`` receives ``(state, finish(partial record))``;
    an interrupted run's checkpoint is returned in ``SGDResult.checkpoint``.
    """
    if checkpointing is not None and checkpointing.save is not None:
        user_save = checkpointing.save
        checkpointing = dataclasses.replace(
            checkpointing, save=lambda state, record: user_save(state, finish(record))
        )
    record = run_ensemble(
        problem,
        seeds,
        record_steps,
        snapshot_steps,
        chunk_steps,
        keep_weights=keep_weights,
        progress=progress,
        description=description,
        checkpointing=checkpointing,
    )
    result = finish(record)
    result.checkpoint = record.checkpoint
    return result
