"""Helpers shared by the benchmarks: timing, machine description, formatting."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import os
import platform
import time
from pathlib import Path


def best_time(fn, repeats=3, budget=None, setup=None):
    """Smallest wall time of ``fn()`` over ``repeats`` calls; returns ``(seconds, result)``.

    ``setup()`` (untimed) runs before each call and its value is passed to ``fn``. A
    call longer than ``budget`` seconds ends the repetitions (the machine may be shared;
    the minimum is the least disturbed measurement).
    """
    best, result = math.inf, None
    for _ in range(max(1, repeats)):
        arg = setup() if setup is not None else None
        start = time.perf_counter()
        out = fn(arg) if setup is not None else fn()
        elapsed = time.perf_counter() - start
        if elapsed < best:
            best, result = elapsed, out
        if budget is not None and elapsed > budget:
            break
    return best, result


def package_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Where and when a section ran: CPU, core count, load average, library versions."""
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "load_average_1_5_15_min": load_average(),
        "python": platform.python_version(),
        "versions": {
            name: package_version(name)
            for name in ("reducedpde", "numpy", "scipy", "numba", "py-pde", "fipy", "torch")
        },
        "threads": 1,
    }


def fmt_time(seconds) -> str:
    """Seconds as a short human string (µs, ms, s)."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(value) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    if value >= 100:
        return f"{value:.0f}×"
    if value >= 10:
        return f"{value:.1f}×"
    return f"{value:.2f}×"


def load(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _clean(value):
    """JSON-safe copy (non-finite floats become null)."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # NumPy scalars
        return _clean(value.item())
    return value


def write_json(results: dict, path: Path) -> None:
    path.write_text(json.dumps(_clean(results), indent=1, ensure_ascii=False) + "\n",
                    encoding="utf-8")
