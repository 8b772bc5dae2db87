"""Notebook display of run results and loading with provenance.

* :func:`load` — :func:`reducedpde.io.load` that also records where the result came from
  (``result.source``: file, creation time, writing version); it is ``reducedpde.load``.
* :func:`html` — the HTML summary that Jupyter shows for a
  :class:`~reducedpde.results.RunResult` (``RunResult._repr_html_``): scenario, key
  parameters, final figures, verdict and provenance.

Only the standard library and NumPy are imported.
"""

from __future__ import annotations

import html as _html
import math
from pathlib import Path

import numpy as np

from .results import RunResult

__all__ = ["html", "load"]

#: configuration entries shown first (when present), before the full table
KEY_PARAMETERS = ("N", "d", "k", "kappa", "delta", "eps", "t_max", "beta", "lam", "activation",
                  "target", "inputs", "seeds", "cells", "solver")


def load(path) -> RunResult:
    """Read a result file and record its provenance.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`reducedpde.io.save`.

    Returns
    -------
    RunResult
        As :func:`reducedpde.io.load`, with ``result.source`` set to a dict with the keys
        ``file`` (absolute path), ``created``, ``package_version`` and ``format_version``
        (those the file holds). ``source`` is not written back by
        :func:`reducedpde.io.save`.

    Raises
    ------
    reducedpde.io.ResultFileError
        As :func:`reducedpde.io.load`.
    """
    from .io import load as _load
    from .io import read_metadata

    result = _load(path)
    meta = read_metadata(path)
    result.source = {"file": str(Path(path).resolve()),
                     **{k: meta[k] for k in ("created", "package_version", "format_version")
                        if k in meta}}
    return result


def _fmt(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        return f"{value:.6g}"
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _row(name, *cells) -> str:
    tds = "".join(f"<td style='text-align:left'>{_html.escape(_fmt(c))}</td>" for c in cells)
    return f"<tr><th style='text-align:left'>{_html.escape(str(name))}</th>{tds}</tr>"


def _table(rows, header=None) -> str:
    head = ""
    if header:
        head = "<tr>" + "".join(f"<th style='text-align:left'>{_html.escape(h)}</th>"
                                for h in header) + "</tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _final(arr):
    arr = np.asarray(arr, dtype=float)
    if arr.size == 0:
        return float("nan")
    return float(arr[-1]) if arr.ndim == 1 else float(arr[..., -1].mean())


def _figures(result: RunResult) -> str:
    pde, sgd = result.pde, result.sgd
    rows = []
    if pde is not None and np.size(pde.t):
        rows.append(_row("PDE", float(pde.t[-1]), _final(pde.risk), _final(pde.mean_norm),
                         pde.attrs.get("solver", ""), pde.attrs.get("wall_time_s", "")))
    if sgd is not None and np.size(sgd.t):
        n = np.shape(sgd.risk)[0] if np.ndim(sgd.risk) > 1 else 1
        rows.append(_row(f"SGD (mean of {n} runs)", float(sgd.t[-1]), _final(sgd.risk),
                         _final(sgd.mean_norm), f"N = {sgd.attrs.get('N', '?')}",
                         sgd.attrs.get("wall_time_s", "")))
    if not rows:
        return "<p>no PDE or SGD part</p>"
    return _table(rows, ["", "final t", "final risk", "final mean ‖w‖", "method",
                         "wall time (s)"])


def _verdict(result: RunResult) -> str:
    comp = result.comparison
    if comp is None:
        return ""
    inconclusive = str(comp.metrics.get("verdict", "")).startswith("inconclusive")
    word = "PASS" if comp.passed else "INCONCLUSIVE" if inconclusive else "FAIL"
    color = "green" if comp.passed else "gray" if inconclusive else "red"
    parts = [f"sup_t |ΔR| = {_fmt(comp.metrics['sup_risk'])}"] if "sup_risk" in comp.metrics \
        else []
    parts.append(f"tolerance {_fmt(float(comp.tolerance))}")
    return (f"<p><b style='color:{color}'>{word}</b>: "
            f"{_html.escape(', '.join(parts))}</p>")


def _provenance(result: RunResult) -> str:
    source = getattr(result, "source", None)
    if source:
        text = f"from {source.get('file', '?')}"
        if "created" in source:
            text += f", written {source['created']}"
        if "package_version" in source:
            text += f" by reducedpde {source['package_version']}"
    else:
        from . import __version__

        text = f"computed in this session by reducedpde {__version__} (not read from a file)"
    notes = []
    for part_name in ("pde", "sgd"):
        part = getattr(result, part_name)
        if part is not None and part.attrs.get("interrupted"):
            notes.append(f"{part_name.upper()} interrupted (resumable)"
                         if part.checkpoint is not None else f"{part_name.upper()} interrupted")
    if "failure" in result.attrs:
        notes.append(f"failure: {result.attrs['failure']}")
    if notes:
        text += "; " + "; ".join(notes)
    return f"<p style='font-size:smaller'>{_html.escape(text)}</p>"


def html(result: RunResult) -> str:
    """HTML summary of a run (what Jupyter shows for a :class:`RunResult`).

    Parameters
    ----------
    result : RunResult

    Returns
    -------
    str
        A self-contained HTML fragment: the scenario, the key parameters, a table of final
        times, risks and mean norms, the comparison verdict, the provenance (source file,
        creation time, writing version) and the full configuration in a collapsed section.

    Raises
    ------
    TypeError
        If ``result`` is not a :class:`RunResult`.
    """
    if not isinstance(result, RunResult):
        raise TypeError(f"result must be a RunResult, got {type(result).__name__}")
    config = result.config if isinstance(result.config, dict) else {}
    key = [_row(k, config[k]) for k in KEY_PARAMETERS if k in config]
    full = [_row(k, v) for k, v in config.items()]
    parts = [
        "<div class='reducedpde-result'>",
        f"<p><b>RunResult</b>: scenario <b>{_html.escape(str(result.scenario))}</b></p>",
        _table(key) if key else "",
        _figures(result),
        _verdict(result),
        _provenance(result),
        f"<details><summary>full configuration ({len(full)} entries)</summary>"
        f"{_table(full)}</details>",
        "</div>",
    ]
    return "".join(parts)
