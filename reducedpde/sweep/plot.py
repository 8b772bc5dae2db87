"""Figures of a sweep's ``summary.csv``: a quantity against one parameter.

``y = "discrepancy"`` (or ``discrepancy_corrected``) draws a log-log plot with the
least-squares slope of ``log y`` on ``log x``, e.g. the N-convergence study against the
MMN18 rate ``N^(-1/2)``; ``y = "final_risk"`` draws the PDE final risk (line) and the SGD
final risk (markers, ± the seed spread), a phase-diagram style cut; any other numeric
column is drawn as a line. Points that differ in another varied parameter give one curve
each.
"""

from __future__ import annotations

import math

import numpy as np

from .summary import MEASUREMENTS, read_summary

__all__ = ["fitted_slope", "sweep_plot"]

#: ``y`` names drawn on log-log axes with a fitted slope.
LOGLOG = ("discrepancy", "discrepancy_corrected", "sup_mean_norm", "max_w1")

#: Columns that are neither parameters nor measurements.
_BOOKKEEPING = ("point", "status", "seeds", "seed")


def fitted_slope(x, y) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (positive finite pairs only)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if np.count_nonzero(keep) < 2 or np.unique(x[keep]).size < 2:
        raise ValueError("a slope needs at least two points with distinct positive x and y")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def _number(value) -> float:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _groups(rows: list[dict], x: str) -> dict:
    """Rows grouped by the values of the other varied parameters."""
    params = [k for k in rows[0] if k not in _BOOKKEEPING and k not in MEASUREMENTS and k != x]
    varied = [k for k in params if len({repr(r[k]) for r in rows}) > 1]
    groups: dict = {}
    for row in rows:
        label = ", ".join(f"{k}={row[k]:g}" if isinstance(row[k], float) else f"{k}={row[k]}"
                          for k in varied)
        groups.setdefault(label, []).append(row)
    return groups


def sweep_plot(summary, x: str, y: str = "discrepancy", ax=None):
    """Plot ``y`` against the parameter ``x`` from a sweep's summary.

    Parameters
    ----------
    summary : str, os.PathLike or list of dict
        A sweep directory, its ``summary.csv``, or rows from
        :func:`reducedpde.sweep.read_summary`.
    x : str
        A parameter column (e.g. ``N``, ``kappa``).
    y : str
        ``discrepancy`` (log-log with fitted slope), ``final_risk`` (PDE line and SGD
        markers with the seed spread), or any numeric column.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = summary if isinstance(summary, list) else read_summary(summary)
    rows = [r for r in rows if r.get("status") == "ok"]
    if not rows:
        raise ValueError("the sweep has no finished point to plot")
    columns = list(rows[0])
    if x not in columns or x in MEASUREMENTS or x in ("point", "status"):
        params = [c for c in columns if c not in MEASUREMENTS and c not in ("point", "status")]
        raise ValueError(f"--x must be a parameter column of the summary ({', '.join(params)}), "
                         f"got {x!r}")
    ys = ("pde_final_risk", "sgd_final_risk") if y == "final_risk" else (y,)
    for name in ys:
        if name not in columns:
            numeric = [c for c in MEASUREMENTS if c in columns
                       and any(isinstance(r[c], float) for r in rows)]
            raise ValueError(f"--y must be final_risk or a numeric column "
                             f"({', '.join(numeric)}), got {y!r}")
    if ax is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(5.5, 4.2), layout="constrained")
        ax = fig.add_subplot()
    fig = ax.figure
    loglog = y in LOGLOG
    for n, (label, group) in enumerate(_groups(rows, x).items()):
        group = sorted(group, key=lambda r: _number(r[x]))
        xv = np.array([_number(r[x]) for r in group])
        color = f"C{n % 10}"
        prefix = f"{label}: " if label else ""
        if y == "final_risk":
            pde = np.array([_number(r["pde_final_risk"]) for r in group])
            sgd = np.array([_number(r["sgd_final_risk"]) for r in group])
            spread = np.array([_number(r.get("sgd_final_risk_std")) for r in group])
            ax.plot(xv, pde, "-", color=color, label=f"{prefix}PDE")
            ax.errorbar(xv, sgd, yerr=np.nan_to_num(spread), fmt="o", color=color,
                        capsize=3, label=f"{prefix}SGD (± seed spread)")
            continue
        yv = np.array([_number(r[y]) for r in group])
        if loglog:
            try:
                slope = fitted_slope(xv, yv)
            except ValueError:
                text = ""
            else:
                keep = (xv > 0) & (yv > 0)
                fit = np.exp(np.polyval(np.polyfit(np.log(xv[keep]), np.log(yv[keep]), 1),
                                        np.log(xv[keep])))
                ax.plot(xv[keep], fit, "--", color=color, alpha=0.7)
                text = f" (slope {slope:.2f})"
            ax.plot(xv, yv, "o-", color=color, label=f"{prefix}{y}{text}")
        else:
            ax.plot(xv, yv, "o-", color=color, label=f"{prefix}{y}")
    xs = np.array([_number(r[x]) for r in rows])
    if loglog:
        ax.set_xscale("log")
        ax.set_yscale("log")
    elif np.all(xs > 0) and xs.max() >= 100 * xs.min():
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel("final risk" if y == "final_risk" else y)
    ax.legend(fontsize="small")
    return fig
