r"""Time grid of an SGD run: step sizes ``s_k = ε ξ(kε)`` and recording steps.

SGD time is ``t = kε`` after ``k`` steps. The learning-rate schedule ``ξ`` is tabulated in
NumPy, one value per step, for each block of steps handed to a compiled kernel, so the
kernels never call back into Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

__all__ = ["StepSizes", "default_chunk_steps", "recording_steps", "snap_to_steps"]


class StepSizes:
    r"""Step sizes ``s_k = ε ξ(kε)`` tabulated block by block.

    Parameters
    ----------
    eps : float
        Base step ``ε`` (time per step).
    xi : callable or None
        Schedule ``ξ(t)``; called with a float64 array of times and must return an array
        of the same shape (or a scalar) of finite, non-negative values. ``None`` means
        ``ξ ≡ 1``.
    """

    def __init__(self, eps: float, xi: Callable | None = None):
        if xi is not None and not callable(xi):
            raise ValueError(f"xi must be a callable t -> ξ(t) or None, got {xi!r}")
        self.eps = float(eps)
        self.xi = xi

    @property
    def constant(self) -> bool:
        return self.xi is None

    def table(self, k0: int, n: int) -> np.ndarray:
        """``s_k`` for ``k = k0 … k0 + n − 1`` (float64 array of length ``n``)."""
        if self.xi is None:
            return np.full(n, self.eps)
        t = (k0 + np.arange(n, dtype=np.float64)) * self.eps
        vals = np.asarray(self.xi(t), dtype=np.float64)
        try:
            vals = np.broadcast_to(vals, t.shape)
        except ValueError:
            raise ValueError(
                f"xi must return one value per time (shape {t.shape}), got shape {vals.shape}"
            ) from None
        ok = np.isfinite(vals) & (vals >= 0)
        if not ok.all():
            i = int(np.argmin(ok))
            raise ValueError(f"xi must return finite values >= 0, got xi({t[i]:g}) = {vals[i]!r}")
        return self.eps * vals


def snap_to_steps(times, eps: float, n_total: int, name: str) -> np.ndarray:
    """Round times to the nearest step index in ``[0, n_total]`` (sorted, unique)."""
    times = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if times.ndim != 1 or not np.all(np.isfinite(times)) or np.any(times < 0):
        raise ValueError(f"{name} must be a 1-D sequence of finite times >= 0, got {times!r}")
    if np.any(times > n_total * eps * (1 + 1e-12)):
        raise ValueError(f"{name} must be <= t_max = {n_total * eps:g}, got max {times.max():g}")
    return np.unique(np.clip(np.rint(times / eps).astype(np.int64), 0, n_total))


def recording_steps(
    eps: float,
    t_max: float,
    n_times: int,
    record_times=None,
    snapshot_times=None,
) -> tuple[int, np.ndarray, np.ndarray]:
    """Total number of steps, recording steps and snapshot steps.

    The run has ``n_total = round(t_max/ε)`` steps. By default the recording times are
    ``t = 0`` plus ``n_times`` log-spaced times between ``max(ε, 10⁻⁴ t_max)`` and
    ``t_max``, rounded to whole steps; ``record_times`` replaces them. Snapshot times
    (default ``0, t_max/100, t_max/10, t_max``) are rounded likewise and added to the
    recording times. The final step is always recorded.

    Returns
    -------
    n_total : int
    record : ndarray of int64
        Sorted unique step indices, starting with 0 and ending with ``n_total``.
    snapshots : ndarray of int64
        Sorted unique subset of ``record``.
    """
    n_total = max(1, round(t_max / eps))
    if record_times is None:
        t_first = max(eps, 1e-4 * t_max)
        times = np.geomspace(t_first, n_total * eps, n_times) if n_times > 1 else [t_max]
        record = snap_to_steps(times, eps, n_total, "record_times")
    else:
        record = snap_to_steps(record_times, eps, n_total, "record_times")
    if snapshot_times is None:
        snap = snap_to_steps(
            [0.0, t_max / 100, t_max / 10, n_total * eps], eps, n_total, "snapshot_times"
        )
    else:
        snap = snap_to_steps(snapshot_times, eps, n_total, "snapshot_times")
    record = np.union1d(np.union1d(record, snap), [0, n_total]).astype(np.int64)
    return n_total, record, snap


def default_chunk_steps(n_weights: int, batch: int) -> int:
    """Steps per kernel call: about 2²⁷ multiply-adds, so a call lasts tens of milliseconds
    and a keyboard interrupt is honoured promptly; at most 2¹⁸ samples per call, which
    bounds the memory of data blocks prepared in NumPy."""
    by_work = math.ceil(2**27 / max(1, n_weights * batch))
    return max(1, min(by_work, 2**18 // batch))
