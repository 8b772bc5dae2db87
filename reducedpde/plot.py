"""Figures of run results: risk curves, density snapshots, atomic saving.

The functions here draw :class:`reducedpde.results.RunResult` objects with matplotlib's
object-oriented API. They create figures with :func:`matplotlib.pyplot.figure` (so that
``plt.show()`` and notebooks display them) but otherwise touch no pyplot state, never
call ``plt.show`` and never change the backend; they work headless with Agg. Figures
created here are managed by pyplot: close them with ``plt.close(fig)`` when making many.

* :func:`risk_curves` — population risk versus ``t`` (log time axis), PDE as lines and
  SGD as symbols, with an inset of the mean neuron norm (as in MMN18 Fig. 4).
* :func:`densities` — PDE density snapshots over SGD histograms, one panel per time.
* :func:`save_figure` — write a figure to ``.png``/``.pdf``/``.svg`` atomically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .results import RunResult

__all__ = [
    "FIGURE_FORMATS",
    "densities",
    "fourier_coefficients",
    "risk_curves",
    "save_figure",
]

#: File suffixes accepted by :func:`save_figure`.
FIGURE_FORMATS = (".png", ".pdf", ".svg")

#: Symbols used for the SGD curves of successive results.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")

#: Short symbols for config keys in default legend labels.
_SYMBOLS = {"kappa": "κ", "delta": "Δ", "lam": "λ", "beta": "β", "eps": "ε"}

#: Most config keys named in a default label.
_MAX_LABEL_KEYS = 3

#: z-value of the two-sided 95% normal interval.
_Z95 = 1.96


# -- helpers ---------------------------------------------------------------------------


def _new_figure(figsize):
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize, layout="constrained")


def _as_results(results) -> list[RunResult]:
    if isinstance(results, RunResult):
        return [results]
    if isinstance(results, (str, bytes)) or not isinstance(results, Sequence):
        raise TypeError(
            f"results must be a RunResult or a list of them, got {type(results).__name__}"
        )
    items = list(results)
    if not items:
        raise ValueError("results is empty: nothing to plot")
    for i, item in enumerate(items):
        if not isinstance(item, RunResult):
            raise TypeError(f"results[{i}] is a {type(item).__name__}, not a RunResult")
    return items


def _format_value(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:g}"
    if isinstance(value, (int, str)):
        return str(value)
    return repr(value)


_MISSING = object()


def _default_labels(results: list[RunResult]) -> list[str]:
    """Labels from the config keys whose values differ, else the scenario names."""
    keys: list[str] = []
    for res in results:
        keys += [k for k in res.config if k not in keys]
    differing = [
        k
        for k in keys
        if len({repr(res.config.get(k, _MISSING)) for res in results}) > 1
    ][:_MAX_LABEL_KEYS]
    if differing:
        labels = [
            " ".join(
                f"{_SYMBOLS.get(k, k)}={_format_value(res.config[k])}"
                for k in differing
                if k in res.config
            )
            or res.scenario
            for res in results
        ]
    else:
        labels = [res.scenario for res in results]
    if len(set(labels)) < len(labels):
        labels = [f"{label} ({i + 1})" for i, label in enumerate(labels)]
    return labels


def _seed_stats(values) -> tuple[np.ndarray, np.ndarray | None]:
    """Mean over seeds (axis 0) and the 95% half-width, or None for one seed."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        return arr, None
    n_seeds = arr.shape[0]
    mean = arr.mean(axis=0)
    if n_seeds < 2:
        return mean, None
    half = _Z95 * arr.std(axis=0, ddof=1) / math.sqrt(n_seeds)
    return mean, half


def _positive(t, *series):
    """``t`` and the series restricted to ``t > 0`` (for a log time axis)."""
    t = np.asarray(t, dtype=float)
    keep = t > 0
    return (t[keep], *(None if s is None else np.asarray(s, dtype=float)[..., keep]
                       for s in series))


def _dedup_legend(ax, **kwargs) -> None:
    handles, labels = ax.get_legend_handles_labels()
    seen: dict[str, object] = {}
    for handle, label in zip(handles, labels):
        seen.setdefault(label, handle)
    if seen:
        ax.legend(list(seen.values()), list(seen), **kwargs)


def _draw_series(ax, result: RunResult, label: str, color, marker: str, which: str,
                 band_label: str | None, markersize: float) -> str | None:
    """Draw the PDE line and SGD symbols of one quantity; return the band label left."""
    pde, sgd = result.pde, result.sgd
    if pde is not None:
        t, y = _positive(pde.t, getattr(pde, which))
        ax.plot(t, y, linestyle="-", marker="None", color=color, label=f"PDE {label}")
        corrected = pde.extra.get(f"{which}_corrected")
        if corrected is not None:
            t, y = _positive(pde.t, corrected)
            n = pde.attrs.get("correction_n_neurons", "N")
            ax.plot(t, y, linestyle="--", marker="None", color=color,
                    label=f"PDE {label}, N = {n} (correction={pde.attrs.get('correction', '?')})")
    if sgd is not None:
        mean, half = _seed_stats(getattr(sgd, which))
        t, mean, half = _positive(sgd.t, mean, half)
        if half is not None:
            ax.fill_between(t, mean - half, mean + half, color=color, alpha=0.2,
                            linewidth=0, label=band_label or "_nolegend_")
            band_label = None
        ax.plot(t, mean, linestyle="None", marker=marker, markersize=markersize,
                markerfacecolor="none", color=color, label=f"SGD {label}")
    return band_label


# -- risk curves -----------------------------------------------------------------------


def risk_curves(results, ax=None, labels=None, inset: bool = True, colors=None,
                log_risk: bool = False):
    """Population risk versus time, PDE as lines and SGD as symbols (MMN18 Fig. 4).

    Parameters
    ----------
    results : RunResult or sequence of RunResult
        One run or several to draw on the same axes (e.g. κ = 0.1 and κ = 0.4).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created if omitted.
    labels : sequence of str, optional
        One label per result; legend entries read ``"PDE <label>"`` / ``"SGD <label>"``.
        By default the config keys whose values differ between the results
        (``"κ=0.1"``), or the scenario name when none differ.
    inset : bool
        Add an inset with the mean neuron norm ``‖w‖`` versus ``t``.
    colors : sequence of color, optional
        One matplotlib color per result; default the property cycle ``C0, C1, …``.
    log_risk : bool
        Logarithmic risk axis (default linear).

    A PDE result with a finite-N prediction (``pde.extra['risk_corrected']``, see
    ``correction``) adds it as a dashed line of the same colour.

    Returns
    -------
    matplotlib.figure.Figure
        ``ax.figure``. The inset axes (or None) is stored as ``fig.reducedpde_inset``
        and ``ax.reducedpde_inset``.

    Raises
    ------
    ValueError
        If ``results`` is empty, a result has neither ``pde`` nor ``sgd``, there are no
        positive times, or ``labels``/``colors`` do not have one entry per result.
    TypeError
        If ``results`` holds something other than :class:`RunResult`.

    Notes
    -----
    Time is SGD time ``t = kε`` on a log axis, so ``t = 0`` is left out. The SGD curve is
    the mean over seeds; with more than one seed a band shows the 95% interval of the
    mean, ``mean ± 1.96·std/√n_seeds`` (sample standard deviation).
    """
    items = _as_results(results)
    for i, res in enumerate(items):
        if res.pde is None and res.sgd is None:
            raise ValueError(
                f"results[{i}] (scenario {res.scenario!r}) has neither a PDE nor an SGD "
                "part: nothing to plot"
            )
        t_all = np.concatenate(
            [np.asarray(p.t, dtype=float).ravel() for p in (res.pde, res.sgd) if p is not None]
        )
        if not np.any(t_all > 0):
            raise ValueError(
                f"results[{i}] (scenario {res.scenario!r}) has no time t > 0 to draw on a "
                "log time axis"
            )
    n = len(items)
    if labels is None:
        labels = _default_labels(items)
    else:
        labels = [labels] if isinstance(labels, str) else [str(x) for x in labels]
        if len(labels) != n:
            raise ValueError(f"labels has {len(labels)} entries for {n} results")
    if colors is None:
        colors = [f"C{i % 10}" for i in range(n)]
    else:
        colors = [colors] if isinstance(colors, str) else list(colors)
        if len(colors) != n:
            raise ValueError(f"colors has {len(colors)} entries for {n} results")

    if ax is None:
        fig = _new_figure((6.4, 4.8))
        ax = fig.add_subplot()
    fig = ax.figure

    inset_ax = None
    if inset:
        inset_ax = getattr(ax, "reducedpde_inset", None)
        if inset_ax is None or inset_ax not in ax.child_axes:
            inset_ax = ax.inset_axes([0.56, 0.50, 0.40, 0.40])

    band_label: str | None = "95% interval"
    inset_band: str | None = "95% interval"
    for i, (res, label, color) in enumerate(zip(items, labels, colors)):
        marker = _MARKERS[i % len(_MARKERS)]
        band_label = _draw_series(ax, res, label, color, marker, "risk", band_label, 5.0)
        if inset_ax is not None:
            inset_band = _draw_series(inset_ax, res, label, color, marker, "mean_norm",
                                      inset_band, 3.0)

    ax.set_xscale("log")
    if log_risk:
        ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("population risk R")
    _dedup_legend(ax, loc="lower left", fontsize="small")
    if inset_ax is not None:
        inset_ax.set_xscale("log")
        inset_ax.set_xlabel("t", fontsize="x-small", labelpad=1)
        inset_ax.set_ylabel("mean ‖w‖", fontsize="x-small", labelpad=1)
        inset_ax.tick_params(labelsize="x-small")
    ax.reducedpde_inset = inset_ax
    fig.reducedpde_inset = inset_ax
    return fig


# -- densities -------------------------------------------------------------------------


def _snapshot_sources(result: RunResult):
    """(pde, sgd) parts that hold at least one snapshot (None otherwise)."""
    pde, sgd = result.pde, result.sgd
    if pde is not None and np.asarray(pde.snapshot_times).size == 0:
        pde = None
    if sgd is not None and np.asarray(sgd.snapshot_times).size == 0:
        sgd = None
    return pde, sgd


def _nearest(times: np.ndarray, t: float) -> int:
    return int(np.argmin(np.abs(times - t)))


def _default_times(snap: np.ndarray, max_panels: int) -> np.ndarray:
    """Up to ``max_panels`` snapshot times, first and last included, log-spread in t > 0.

    A snapshot at ``t <= 0`` counts as the first panel; the others are the snapshots
    nearest (in log t, each used once) to log-spaced targets between the first positive
    and the last snapshot time.
    """
    snap = np.unique(snap[np.isfinite(snap)])
    if snap.size <= max_panels:
        return snap
    start = snap[snap <= 0][:1]
    pos = snap[snap > 0]
    m = max_panels - start.size
    if m <= 0 or pos.size == 0:
        return snap[:max_panels]
    log_pos = np.log(pos)
    used: list[int] = []
    for target in np.linspace(log_pos[0], log_pos[-1], m):
        dist = np.abs(log_pos - target)
        dist[used] = np.inf
        used.append(int(np.argmin(dist)))
    return np.concatenate([start, np.sort(pos[used])])


def _support_limits(edges_list, values_list, rel: float = 1e-3):
    """x-limits around where any of the curves exceeds ``rel`` times its maximum."""
    lo, hi = math.inf, -math.inf
    for edges, values in zip(edges_list, values_list):
        values = np.asarray(values, dtype=float)
        peak = np.nanmax(values) if values.size else 0.0
        if not np.isfinite(peak) or peak <= 0:
            continue
        idx = np.flatnonzero(values > rel * peak)
        lo = min(lo, float(edges[idx[0]]))
        hi = max(hi, float(edges[idx[-1] + 1]))
    if not math.isfinite(lo) or hi <= lo:
        return None
    pad = 0.08 * (hi - lo)
    left = max(lo - pad, min(float(e[0]) for e in edges_list))
    right = min(hi + pad, max(float(e[-1]) for e in edges_list))
    return left, right


def _axes_list(ax, n: int) -> list:
    if hasattr(ax, "plot"):
        if n != 1:
            raise ValueError(
                f"a single Axes was given but {n} times were requested; pass one time "
                "or a sequence of at least that many Axes"
            )
        return [ax]
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) < n:
        raise ValueError(f"{len(axes)} Axes were given for {n} times")
    return axes[:n]


def densities(result: RunResult, times=None, ax=None, max_panels: int = 6):
    """PDE density snapshots over SGD histograms, one panel per time.

    Parameters
    ----------
    result : RunResult
        A run with ``pde`` (``densities`` on ``grid_edges``) and/or ``sgd``
        (``histograms`` on ``hist_edges``, averaged over seeds).
    times : float or sequence of float, optional
        Times to show; each panel uses the snapshot nearest to it (separately for the
        PDE and the SGD part). Default: up to ``max_panels`` snapshots spread over the
        run, first and last included.
    ax : matplotlib.axes.Axes or sequence of Axes, optional
        Where to draw: a single Axes when one time is shown, or at least as many Axes as
        times. A new figure with a grid of panels is created if omitted.
    max_panels : int
        Most panels drawn when ``times`` is None.

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the panels. Each panel is titled ``"t = …"`` (the snapshot
        time actually shown) and has the x label ``"‖w‖"`` and y label ``"density"``.

    Raises
    ------
    ValueError
        If the result has no snapshots (neither ``pde`` nor ``sgd``), a requested time
        is outside the range of the snapshot times, ``times`` is empty, ``max_panels``
        is smaller than 1, or ``ax`` has too few Axes.
    TypeError
        If ``result`` is not a :class:`RunResult`.
    """
    if not isinstance(result, RunResult):
        raise TypeError(f"result must be a RunResult, got {type(result).__name__}")
    pde, sgd = _snapshot_sources(result)
    if pde is None and sgd is None:
        raise ValueError(
            f"result (scenario {result.scenario!r}) has no PDE densities and no SGD "
            "histograms: nothing to plot"
        )
    pde_snap = None if pde is None else np.asarray(pde.snapshot_times, dtype=float)
    sgd_snap = None if sgd is None else np.asarray(sgd.snapshot_times, dtype=float)
    all_snap = np.concatenate([s for s in (pde_snap, sgd_snap) if s is not None])
    t_lo, t_hi = float(all_snap.min()), float(all_snap.max())

    if times is None:
        if max_panels < 1:
            raise ValueError(f"max_panels must be at least 1, got {max_panels}")
        times = _default_times(pde_snap if pde_snap is not None else sgd_snap, max_panels)
    else:
        times = np.atleast_1d(np.asarray(times, dtype=float)).ravel()
        if times.size == 0:
            raise ValueError("times is empty: nothing to plot")
        tol = 1e-9 * max(1.0, abs(t_lo), abs(t_hi))
        bad = times[~np.isfinite(times) | (times < t_lo - tol) | (times > t_hi + tol)]
        if bad.size:
            raise ValueError(
                f"requested times {[float(x) for x in bad]} are outside the snapshot "
                f"range [{t_lo:g}, {t_hi:g}]"
            )

    n = times.size
    if ax is None:
        ncols = 2 if n == 4 else min(n, 3)
        nrows = math.ceil(n / ncols)
        fig = _new_figure((3.2 * ncols, 2.6 * nrows))
        axes = list(np.ravel(fig.subplots(nrows, ncols, squeeze=False)))
        for extra_ax in axes[n:]:
            extra_ax.remove()
        axes = axes[:n]
    else:
        axes = _axes_list(ax, n)
        fig = axes[0].figure

    n_seeds = None if sgd is None else np.asarray(sgd.histograms).shape[0]
    for k, (panel, t) in enumerate(zip(axes, times)):
        edges_list, values_list = [], []
        shown = None
        sgd_time = None
        if sgd is not None:
            j = _nearest(sgd_snap, t)
            sgd_time = float(sgd_snap[j])
            hist = np.asarray(sgd.histograms, dtype=float)
            hist = hist[:, j, :].mean(axis=0) if hist.ndim == 3 else hist[j]
            edges = np.asarray(sgd.hist_edges, dtype=float)
            seeds_txt = f"{n_seeds} seeds" if n_seeds != 1 else "1 seed"
            panel.stairs(hist, edges, fill=True, alpha=0.35, color="C1",
                         label=f"SGD ({seeds_txt})")
            edges_list.append(edges)
            values_list.append(hist)
            shown = sgd_time
        if pde is not None:
            i = _nearest(pde_snap, t)
            shown = float(pde_snap[i])
            edges = np.asarray(pde.grid_edges, dtype=float)
            dens = np.asarray(pde.densities, dtype=float)[i]
            panel.plot(pde.grid_centres, dens, color="C0", linestyle="-", label="PDE")
            edges_list.append(edges)
            values_list.append(dens)
        title = f"t = {shown:.3g}"
        if pde is not None and sgd is not None and not math.isclose(
            sgd_time, shown, rel_tol=1e-6, abs_tol=1e-12
        ):
            title += f" (SGD t = {sgd_time:.3g})"
        panel.set_title(title, fontsize="medium")
        limits = _support_limits(edges_list, values_list)
        if limits is not None:
            panel.set_xlim(*limits)
        panel.set_xlabel("‖w‖")
        panel.set_ylabel("density")
        if k == 0:
            panel.legend(fontsize="small")
    return fig


# -- saving ----------------------------------------------------------------------------


def _character_label(subset) -> str:
    """``[0, 1]`` → ``z1z2`` (1-based coordinates); the empty set is the constant ``1``."""
    return "".join(f"z{j + 1}" for j in subset) or "1"


def fourier_coefficients(result: RunResult, sets=None, ax=None, threshold: float = 0.05):
    r"""Fourier–Walsh coefficients ``E[f̂(z) Π_{j∈S} z_j]`` of the learned function over time.

    Hypercube multi-index runs (ABM22 Fig. 1, right): the PDE's coefficients
    (``pde.extra['fourier']``, sets in ``pde.attrs['fourier_sets']``) as lines and, when
    present, SGD's (``sgd.extra['snapshot_fourier']``: mean over seeds with a 95% band) as
    symbols, on a log time axis.

    Parameters
    ----------
    result : RunResult
    sets : sequence of sequences of int, optional
        Subsets ``S`` (0-based coordinates) to draw; default: those whose PDE coefficient
        reaches ``threshold`` in absolute value.
    ax : matplotlib Axes, optional
    threshold : float
        Selection threshold for the default ``sets``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    pde = result.pde
    if pde is None or "fourier" not in pde.extra or "fourier_sets" not in pde.attrs:
        raise ValueError("the result has no Fourier coefficients (hypercube multi-index runs)")
    all_sets = [tuple(S) for S in pde.attrs["fourier_sets"]]
    coeffs = np.asarray(pde.extra["fourier"], dtype=float)
    if sets is None:
        sets = [S for k, S in enumerate(all_sets) if np.abs(coeffs[:, k]).max() >= threshold]
    sets = [tuple(S) for S in sets]
    unknown = [S for S in sets if S not in all_sets]
    if unknown:
        raise ValueError(f"sets {unknown} are not among the recorded sets {all_sets}")
    if ax is None:
        ax = _new_figure((6.4, 4.4)).add_subplot()
    sgd = result.sgd
    sgd_values = None
    if sgd is not None and "snapshot_fourier" in sgd.extra:
        sgd_sets = [tuple(S) for S in sgd.attrs.get("fourier_sets", all_sets)]
        sgd_values = np.asarray(sgd.extra["snapshot_fourier"], dtype=float)
    colors = [f"C{i % 10}" for i in range(len(sets))]
    for S, color in zip(sets, colors):
        k = all_sets.index(S)
        t, line = _positive(pde.t, coeffs[:, k])
        ax.plot(t, line, "-", color=color, label=f"PDE {_character_label(S)}")
        if sgd_values is not None and S in sgd_sets:
            mean, half = _seed_stats(sgd_values[..., sgd_sets.index(S)])
            ts, mean, half = _positive(sgd.snapshot_times, mean, half)
            ax.plot(ts, mean, "o", mfc="none", color=color, label=f"SGD {_character_label(S)}")
            if half is not None:
                ax.fill_between(ts, mean - half, mean + half, color=color, alpha=0.2, lw=0)
    ax.set_xscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("Fourier coefficient")
    _dedup_legend(ax, fontsize="small")
    return ax.figure


def save_figure(fig, path, dpi: int = 150, **savefig_kwargs) -> Path:
    """Save a figure atomically.

    The figure is written to a temporary file in the target directory (same suffix)
    and moved into place with :func:`os.replace`; if anything fails the temporary file
    is removed and a file already at ``path`` is left untouched.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (an Axes is accepted and its figure saved).
    path : str or os.PathLike
        Destination ending in ``.png``, ``.pdf`` or ``.svg``; its directory must exist.
    dpi : int
        Resolution for raster output.
    **savefig_kwargs
        Passed on to :meth:`matplotlib.figure.Figure.savefig` (e.g. ``bbox_inches``).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        If the suffix is not one of ``FIGURE_FORMATS``.
    OSError
        If the file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise ValueError(
            f"cannot save a figure as {path.name!r}: the suffix must be one of "
            f"{', '.join(FIGURE_FORMATS)}"
        )
    figure = getattr(fig, "figure", fig) if not hasattr(fig, "savefig") else fig
    if not hasattr(figure, "savefig"):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=dpi, format=suffix[1:], **savefig_kwargs)
    return path
