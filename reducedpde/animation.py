"""Animations of a run: the density over time against the SGD histogram, with the risk.

:func:`animate` writes a GIF (Pillow, through matplotlib's ``PillowWriter``) or an MP4
(``FFMpegWriter``, needs the ``ffmpeg`` program on ``PATH``). Each frame shows

* left: the PDE density of ‖w‖ at the current snapshot (line) over the SGD histogram
  (mean over seeds, filled steps);
* right: the population risk against t (log axis), PDE as a line and SGD as symbols,
  with a marker moving along both curves and a vertical line at the current time;
* multi-index runs that store particle samples (``sgd.extra['snapshot_a']``,
  ``['snapshot_s']``, ``['snapshot_r']``): a second row with the SGD marginals of the
  second-layer weight a, the overlaps s_j and the orthogonal norm r (histograms pooled
  over seeds and recorded neurons), each with the PDE mean at the current time
  (``pde.extra['mean_a']``, ``['mean_s']``, ``['mean_r']``) as a dashed line. The PDE
  part of these runs stores no marginal densities, only these means.

The title gives each frame's time (and the snapshot shown when it differs), so no two
frames are identical (Pillow would merge them into one GIF frame). The x-axes are fixed
for the whole animation; each frame's density axes are scaled to that
frame's highest curve, so a narrow early law does not flatten the later frames.

The module is named ``animation`` (not ``animate``) so that the function
``reducedpde.animate`` is not shadowed by a submodule of the same name.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .results import RunResult

__all__ = ["ANIMATION_FORMATS", "FFmpegNotFoundError", "animate", "frame_times"]

#: File suffixes accepted by :func:`animate`.
ANIMATION_FORMATS = (".gif", ".mp4")

#: Bins of the marginal histograms of a, s_j and r.
MARGINAL_BINS = 40


class FFmpegNotFoundError(OSError):
    """Writing an MP4 needs the ``ffmpeg`` program, which is not on ``PATH``."""


# -- frame selection -------------------------------------------------------------------


def _snapshot_times(result: RunResult) -> np.ndarray:
    pde, sgd = result.pde, result.sgd
    for part in (pde, sgd):
        if part is not None and np.size(part.snapshot_times):
            return np.asarray(part.snapshot_times, dtype=float)
    raise ValueError(
        f"result (scenario {result.scenario!r}) has no PDE density snapshots and no SGD "
        "histograms: nothing to animate"
    )


def frame_times(result: RunResult, frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Times of the frames of :func:`animate` and the snapshot each frame shows.

    Parameters
    ----------
    result : RunResult
    frames : int, optional
        Number of frames; default one per snapshot (of the PDE, else of the SGD part).

    Returns
    -------
    times : ndarray, shape (frames,)
        The frames' times: piecewise linear in the snapshot index, so each snapshot
        interval gets the same number of frames and the marker on the risk curve moves
        steadily between snapshots.
    snapshot : ndarray of int, shape (frames,)
        Index of the snapshot shown in each frame (the nearest in index).

    Raises
    ------
    ValueError
        If ``frames`` is not a positive integer or the result has no snapshots.
    """
    snap = _snapshot_times(result)
    n = snap.size
    if frames is None:
        frames = n
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ValueError(f"frames must be an integer >= 1, got {frames!r}")
    position = np.linspace(0.0, n - 1.0, int(frames)) if frames > 1 else np.zeros(1)
    times = np.interp(position, np.arange(n), snap)
    return times, np.rint(position).astype(int)


# -- drawing ---------------------------------------------------------------------------


def _limits(edges_list, values_list, rel: float = 1e-3):
    """x-range where any curve (any snapshot) exceeds ``rel`` of its peak, padded."""
    lo, hi = math.inf, -math.inf
    for edges, values in zip(edges_list, values_list):
        values = np.asarray(values, dtype=float)
        if values.size == 0:
            continue
        peak = np.nanmax(values)
        if not np.isfinite(peak) or peak <= 0:
            continue
        cols = np.flatnonzero(np.any(values > rel * peak, axis=0))
        lo, hi = min(lo, float(edges[cols[0]])), max(hi, float(edges[cols[-1] + 1]))
    if not math.isfinite(lo) or hi <= lo:
        return None
    pad = 0.08 * (hi - lo)
    return lo - pad, hi + pad


def _marginals(result: RunResult, max_overlaps: int):
    """``[(label, samples per snapshot (n_s, n), PDE mean over pde.t or None), …]``."""
    sgd, pde = result.sgd, result.pde
    if sgd is None:
        return []
    extra = sgd.extra
    pde_extra = pde.extra if pde is not None else {}
    out = []

    def pooled(arr):  # (seeds, n_s, n) -> (n_s, seeds * n)
        arr = np.asarray(arr, dtype=float)
        return np.moveaxis(arr, 1, 0).reshape(arr.shape[1], -1)

    if "snapshot_a" in extra:
        out.append(("a", pooled(extra["snapshot_a"]), pde_extra.get("mean_a")))
    if "snapshot_s" in extra:
        s = np.asarray(extra["snapshot_s"], dtype=float)
        mean_s = pde_extra.get("mean_s")
        for j in range(min(s.shape[-1], max_overlaps)):
            mean = None if mean_s is None else np.asarray(mean_s)[:, j]
            out.append((f"s{j + 1}", pooled(s[..., j]), mean))
    if "snapshot_r" in extra:
        out.append(("r", pooled(extra["snapshot_r"]), pde_extra.get("mean_r")))
    return out


def _hist_edges(samples: np.ndarray) -> np.ndarray:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return np.linspace(-1.0, 1.0, MARGINAL_BINS + 1)
    lo, hi = np.quantile(finite, [0.002, 0.998])
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    return np.linspace(lo - pad, hi + pad, MARGINAL_BINS + 1)


def _top(peaks) -> float:
    """Upper y-limit of a frame: 10% above the highest curve shown (each frame is scaled
    to its own peak, so a narrow early law does not flatten the later frames)."""
    peak = max((p for p in peaks if np.isfinite(p)), default=0.0)
    return 1.1 * peak if peak > 0 else 1.0


class _Frames:
    """The figure and the artists updated from frame to frame."""

    def __init__(self, result: RunResult, max_overlaps: int):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.result = result
        self.pde, self.sgd = result.pde, result.sgd
        if self.pde is not None and np.size(self.pde.snapshot_times) == 0:
            self.pde = None
        marginals = _marginals(result, max_overlaps)
        width = max(9.6, 2.4 * len(marginals))
        self.fig = Figure(figsize=(width, 7.2 if marginals else 4.0), layout="constrained")
        if marginals:
            m = len(marginals)
            grid = self.fig.add_gridspec(2, 2 * m, height_ratios=[1.25, 1.0])
            self.ax_density = self.fig.add_subplot(grid[0, :m])
            self.ax_risk = self.fig.add_subplot(grid[0, m:])
            axes = [self.fig.add_subplot(grid[1, 2 * k:2 * k + 2]) for k in range(m)]
        else:
            self.ax_density, self.ax_risk = self.fig.subplots(1, 2)
            axes = []
        self._setup_density()
        self._setup_risk()
        self.marginals = [self._setup_marginal(ax, *m, legend=(k == 0))
                          for k, (ax, m) in enumerate(zip(axes, marginals))]
        FigureCanvasAgg(self.fig)
        self.update(float(np.asarray(self.result.pde.t if self.pde is not None
                                     else self.sgd.t)[0]), 0)
        self.fig.canvas.draw()  # fix the layout once, then keep it for every frame
        self.fig.set_layout_engine("none")

    # density of ‖w‖ ------------------------------------------------------------------
    def _setup_density(self):
        ax = self.ax_density
        edges_list, values_list = [], []
        self.sgd_hist = None
        if self.sgd is not None and np.size(self.sgd.snapshot_times):
            hist = np.asarray(self.sgd.histograms, dtype=float)
            self.sgd_hist = hist.mean(axis=0) if hist.ndim == 3 else hist
            self.sgd_snap = np.asarray(self.sgd.snapshot_times, dtype=float)
            edges = np.asarray(self.sgd.hist_edges, dtype=float)
            n_seeds = hist.shape[0] if hist.ndim == 3 else 1
            self.stairs = ax.stairs(self.sgd_hist[0], edges, fill=True, alpha=0.35,
                                    color="C1", label=f"SGD ({n_seeds} seed"
                                    f"{'s' if n_seeds != 1 else ''})")
            edges_list.append(edges)
            values_list.append(self.sgd_hist)
        self.pde_line = None
        if self.pde is not None:
            dens = np.asarray(self.pde.densities, dtype=float)
            self.pde_dens = dens
            (self.pde_line,) = ax.plot(self.pde.grid_centres, dens[0], color="C0", label="PDE")
            edges_list.append(np.asarray(self.pde.grid_edges, dtype=float))
            values_list.append(dens)
        ax.set_ylim(0.0, 1.0)  # set per frame (see update)
        limits = _limits(edges_list, values_list)
        if limits is not None:
            ax.set_xlim(*limits)
        variable = self.sgd.attrs.get("hist_variable", "norm") if self.sgd is not None \
            else "norm"
        ax.set_xlabel("‖w‖" if variable == "norm" else str(variable))
        ax.set_ylabel("density")
        ax.legend(fontsize="small", loc="upper right")
        self.title = ax.set_title(" ", fontsize="medium")

    # risk ----------------------------------------------------------------------------
    def _setup_risk(self):
        ax = self.ax_risk
        self.risk_series = []
        t_pos = []
        if self.pde is not None:
            t, risk = np.asarray(self.pde.t, float), np.asarray(self.pde.risk, float)
            keep = t > 0
            ax.plot(t[keep], risk[keep], "-", color="C0", label="PDE")
            (dot,) = ax.plot([], [], "o", color="C0", markersize=8)
            self.risk_series.append((t, risk, dot))
            t_pos.append(t[keep])
        if self.sgd is not None:
            t = np.asarray(self.sgd.t, float)
            risk = np.asarray(self.sgd.risk, float)
            risk = risk.mean(axis=0) if risk.ndim == 2 else risk
            keep = t > 0
            ax.plot(t[keep], risk[keep], "o", mfc="none", markersize=4, color="C1",
                    label="SGD (mean)")
            (dot,) = ax.plot([], [], "o", color="C1", markersize=8)
            self.risk_series.append((t, risk, dot))
            t_pos.append(t[keep])
        t_pos = np.concatenate(t_pos) if t_pos else np.array([])
        if t_pos.size == 0:
            raise ValueError(
                f"result (scenario {self.result.scenario!r}) has no risk at a time t > 0 "
                "to draw on a log time axis"
            )
        self.t_min = float(t_pos.min())
        ax.set_xscale("log")
        ax.set_xlabel("t")
        ax.set_ylabel("population risk R")
        ax.legend(fontsize="small", loc="upper right")
        self.vline = ax.axvline(self.t_min, color="0.4", linewidth=0.8)

    # marginals of a, s_j, r ----------------------------------------------------------
    def _setup_marginal(self, ax, label, samples, pde_mean, legend):
        edges = _hist_edges(samples)
        widths = np.diff(edges)
        hists = np.array([np.histogram(row[np.isfinite(row)], bins=edges)[0] for row in samples],
                         dtype=float)
        totals = np.maximum(hists.sum(axis=1, keepdims=True), 1.0)
        hists = hists / totals / widths
        stairs = ax.stairs(hists[0], edges, fill=True, alpha=0.35, color="C1", label="SGD")
        line = None
        if pde_mean is not None and self.pde is not None:
            line = ax.axvline(float(np.asarray(pde_mean)[0]), color="C0", linestyle="--",
                              label="PDE mean")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(label)
        ax.tick_params(labelsize="small")
        if legend:
            ax.legend(fontsize="x-small")
        return hists, stairs, line, None if pde_mean is None else np.asarray(pde_mean, float)

    # one frame -----------------------------------------------------------------------
    def update(self, t: float, index: int) -> None:
        shown = []
        if self.pde_line is not None:
            i = min(index, self.pde_dens.shape[0] - 1)
            self.pde_line.set_ydata(self.pde_dens[i])
            shown.append(float(self.pde.snapshot_times[i]))
        j = None
        if self.sgd_hist is not None:
            target = shown[0] if shown else float(self.sgd_snap[min(index, self.sgd_snap.size - 1)])
            j = int(np.argmin(np.abs(self.sgd_snap - target)))
            self.stairs.set_data(self.sgd_hist[j])
            shown.append(float(self.sgd_snap[j]))
        peaks = [float(np.nanmax(self.pde_dens[i]))] if self.pde_line is not None else []
        if j is not None:
            peaks.append(float(np.nanmax(self.sgd_hist[j])))
        self.ax_density.set_ylim(0.0, _top(peaks))
        title = f"{self.result.scenario}: t = {t:.3g}"
        if not math.isclose(t, shown[0], rel_tol=1e-6, abs_tol=1e-12):
            title += f" (snapshot t = {shown[0]:.3g})"
        self.title.set_text(title)
        t_mark = max(t, self.t_min)
        self.vline.set_xdata([t_mark, t_mark])
        for times, risk, dot in self.risk_series:
            dot.set_data([t_mark], [np.interp(t_mark, times, risk)])
        for hists, stairs, line, mean in self.marginals:
            if j is not None:
                stairs.set_data(hists[j])
                stairs.axes.set_ylim(0.0, _top([float(hists[j].max())]))
            if line is not None and mean is not None:
                x = float(np.interp(t, np.asarray(self.pde.t, float), mean))
                line.set_xdata([x, x])


# -- writing ---------------------------------------------------------------------------


def _writer(suffix: str, fps: float):
    from matplotlib import animation as mpl_animation

    if suffix == ".gif":
        return mpl_animation.PillowWriter(fps=fps)
    if not mpl_animation.writers.is_available("ffmpeg"):
        raise FFmpegNotFoundError(
            "writing an .mp4 needs the ffmpeg program, which is not on PATH; install "
            "ffmpeg or write a .gif instead"
        )
    return mpl_animation.FFMpegWriter(fps=fps)


def animate(result: RunResult, path, frames: int | None = None, fps: float = 6.0,
            dpi: int = 100, progress: bool = True, max_overlaps: int = 4) -> Path:
    """Write an animation of a run: density against SGD histogram, risk with a marker.

    Parameters
    ----------
    result : RunResult
        A run with PDE density snapshots and/or SGD histograms, and a risk curve.
    path : str or os.PathLike
        Destination ending in ``.gif`` (Pillow) or ``.mp4`` (needs ``ffmpeg`` on
        ``PATH``); its directory must exist. Written to a temporary file next to it and
        renamed into place when complete (an existing file is never left half-written).
    frames : int, optional
        Number of frames (>= 1); default one per snapshot. More frames than snapshots
        move the risk marker between snapshots (see :func:`frame_times`).
    fps : float
        Frames per second, > 0.
    dpi : int
        Resolution of the frames (dots per inch of the figure), >= 10.
    progress : bool
        Show a progress bar (tqdm) while the frames are drawn.
    max_overlaps : int
        Most overlap marginals s_1 … s_k drawn for multi-index runs (>= 0).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        If the suffix is not one of ``ANIMATION_FORMATS``, a parameter is outside its range,
        or the result has no snapshots or no risk at a time t > 0.
    FFmpegNotFoundError
        (an :class:`OSError`) for an ``.mp4`` when ffmpeg is not on ``PATH``.
    TypeError
        If ``result`` is not a :class:`RunResult`.
    """
    if not isinstance(result, RunResult):
        raise TypeError(f"result must be a RunResult, got {type(result).__name__}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_FORMATS:
        raise ValueError(f"cannot write an animation as {path.name!r}: the suffix must be "
                         f"one of {', '.join(ANIMATION_FORMATS)}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not (
            0 < fps < math.inf):
        raise ValueError(f"fps must be a number > 0, got {fps!r}")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, np.integer)) or dpi < 10:
        raise ValueError(f"dpi must be an integer >= 10, got {dpi!r}")
    if isinstance(max_overlaps, bool) or not isinstance(max_overlaps, int) or max_overlaps < 0:
        raise ValueError(f"max_overlaps must be an integer >= 0, got {max_overlaps!r}")
    times, index = frame_times(result, frames)
    writer = _writer(suffix, float(fps))
    from tqdm.auto import tqdm

    drawing = _Frames(result, max_overlaps)
    try:
        with atomic_path(path) as tmp:
            writer.setup(drawing.fig, str(tmp), dpi)
            try:
                for t, i in tqdm(zip(times, index), total=times.size, disable=not progress,
                                 desc="animate", unit="frame"):
                    drawing.update(float(t), int(i))
                    writer.grab_frame()
            except BaseException:
                _abort(writer)
                raise
            writer.finish()
    finally:
        drawing.fig.clear()
    return path


def _abort(writer) -> None:
    """Stop a writer without finishing the file (the temporary file is then removed)."""
    proc = getattr(writer, "_proc", None)  # the ffmpeg pipe of FFMpegWriter
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.communicate()
