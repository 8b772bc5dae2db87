"""``summary.csv`` (one row per point) and ``failures.json`` of a sweep directory.

Columns of ``summary.csv``, in order:

* ``point`` (index in grid order), ``status`` (``ok``, ``failed`` or ``not run``);
* the varied parameters, then the fixed ones, then ``seeds`` and ``seed`` (first seed);
* ``pde_final_risk``, ``sgd_final_risk`` (mean over seeds), ``sgd_final_risk_std``
  (standard deviation over seeds, the seed spread);
* ``discrepancy`` (``sup_t |R_SGD − R_PDE|``, the raw comparison metric),
  ``discrepancy_corrected`` (left empty: no corrected prediction yet), ``sup_mean_norm``,
  ``max_w1``, ``tolerance``, ``passed``;
* ``pde_wall_s``, ``sgd_wall_s`` (sum over seeds), solver wall times;
* ``pde_file``, ``sgd_files`` (``;``-separated), ``point_file`` (relative to the
  directory), and ``error`` (the failing task and its message).

Written with the :mod:`csv` module (readable by ``pandas.read_csv``); empty cells are
missing values.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from ..atomic import atomic_path

__all__ = ["MEASUREMENTS", "SUMMARY_NAME", "read_summary", "summary_columns",
           "write_failures", "write_summary"]

SUMMARY_NAME = "summary.csv"
FAILURES_NAME = "failures.json"

#: Measurement columns, after the parameters.
MEASUREMENTS = (
    "pde_final_risk", "sgd_final_risk", "sgd_final_risk_std", "discrepancy",
    "discrepancy_corrected", "sup_mean_norm", "max_w1", "tolerance", "passed",
    "pde_wall_s", "sgd_wall_s", "pde_file", "sgd_files", "point_file", "error",
)


def summary_columns(varied, fixed) -> list[str]:
    """Column names: point, status, parameters (varied first), seeds, measurements."""
    params = list(varied) + [k for k in fixed if k not in varied]
    return ["point", "status", *params, "seeds", "seed", *MEASUREMENTS]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    if isinstance(value, list | tuple):
        return ";".join(map(str, value))
    return str(value)


def write_summary(path, rows: list[dict], columns: list[str]) -> Path:
    """Write ``rows`` (dicts; missing keys are empty cells) to ``path`` atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_cell(row.get(c)) for c in columns])
    return path


def _parse(text: str):
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() \
        else number


def read_summary(path) -> list[dict]:
    """Rows of a ``summary.csv`` (a file, or the sweep directory holding one), numbers
    parsed, empty cells ``None``."""
    path = Path(path)
    if path.is_dir():
        path = path / SUMMARY_NAME
    if not path.exists():
        raise ValueError(f"{path} does not exist (not a sweep directory?)")
    with path.open(newline="", encoding="utf-8") as fh:
        return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(fh)]


def write_failures(path, failures: list[dict]) -> Path:
    """Write the failed tasks (key, kind, parameters, error, traceback) as JSON, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(failures, indent=1, default=str) + "\n", encoding="utf-8")
    return path
