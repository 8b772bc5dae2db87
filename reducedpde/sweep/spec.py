"""Sweep specifications: parsing, grid expansion and validation.

A sweep spec (a TOML file or the equivalent dict) names a scenario, the parameters shared
by every point, the varied parameters and the SGD seeds::

    scenario = "gaussians-quick"
    seeds = 4                # SGD runs per point: seeds seed, seed + 1, ..., seed + seeds - 1
    seed = 0                 # first seed (default 0)
    checkpoint_every = 300   # seconds between SGD checkpoints (default 300)

    [parameters]             # fixed overrides, applied to every point
    t_max = 1.0

    [grid]                   # the Cartesian product of these axes
    kappa = [0.1, 0.4]
    N = {log = [100, 3200], num = 6}          # 100, 200, ..., 3200 (ints are rounded)
    eps = {linear = [1e-6, 1e-5], num = 4}

    [zip]                    # axes of equal length varied together (one more product axis)
    N = [100, 200]
    eps = [1e-5, 5e-6]

``zip`` may also be an array of tables (``[[zip]]``), each one a product axis. Every point
is validated by :func:`reducedpde.scenarios.resolve` (the scenario's one validator) before
anything runs, so an unknown parameter or a value out of range anywhere in the grid is
reported at once, naming the point.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..scenarios import get_scenario, resolve

__all__ = ["SPEC_KEYS", "SweepSpec", "load_spec", "parse_spec"]

#: Top-level keys of a sweep spec.
SPEC_KEYS = ("scenario", "seeds", "seed", "checkpoint_every", "parameters", "grid", "zip",
             "name")

#: Keys of a range table: ``{log = [a, b], num = n}`` or ``{linear = [a, b], num = n}``.
RANGE_KINDS = ("log", "linear")

#: Parameters set by the sweep itself (top-level ``seeds``/``seed``), never in a grid.
RESERVED = ("seed", "seeds")

#: Most validation errors listed in full in one message.
MAX_LISTED_ERRORS = 5


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: the scenario, its points and the seeds of each point.

    Attributes
    ----------
    scenario : str
    points : tuple of dict
        The overrides of each point (fixed parameters and varied values), in grid order.
    varied : tuple of str
        Names of the varied parameters (grid axes, then zip axes).
    fixed : dict
        Parameters shared by every point.
    seeds : int
        SGD runs per point.
    seed : int
        First seed.
    checkpoint_every : float
        Seconds of wall time between SGD checkpoints.
    name : str
        Optional description.
    source : dict
        The spec as given (for the record written with the results).
    """

    scenario: str
    points: tuple
    varied: tuple
    fixed: dict
    seeds: int = 1
    seed: int = 0
    checkpoint_every: float = 300.0
    name: str = ""
    source: dict = field(default_factory=dict, compare=False)

    @property
    def seed_list(self) -> list[int]:
        """The SGD seeds of every point."""
        return list(range(self.seed, self.seed + self.seeds))

    def point_params(self, index: int) -> dict:
        """Overrides of point ``index`` for :func:`reducedpde.api.validate` (seeds included)."""
        return {**self.points[index], "seeds": self.seeds, "seed": self.seed}


def load_spec(spec, overrides: dict | None = None) -> SweepSpec:
    """A :class:`SweepSpec` from a TOML file path, a dict or a spec (returned as is).

    Parameters
    ----------
    spec : str, os.PathLike, dict or SweepSpec
    overrides : dict, optional
        Extra fixed parameters applied to every point (e.g. a shorter ``t_max``); they
        replace the spec's fixed values and may not name a varied parameter.

    Raises
    ------
    ValueError
        For an unreadable file or any problem of the spec (one message listing them).
    """
    if isinstance(spec, SweepSpec):
        if not overrides:
            return spec
        spec = spec.source
    if isinstance(spec, str | Path):
        path = Path(spec)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ValueError(f"sweep spec {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"sweep spec {path} is not valid TOML: {exc}") from None
        return parse_spec(data, overrides=overrides, where=f"sweep spec {path}")
    if isinstance(spec, dict):
        return parse_spec(spec, overrides=overrides)
    raise TypeError(f"spec must be a path, a dict or a SweepSpec, got {type(spec).__name__}")


def parse_spec(data: dict, overrides: dict | None = None, where: str = "sweep spec") -> SweepSpec:
    """Validate a spec dict (see the module docstring) and expand its grid.

    Raises
    ------
    ValueError
        Naming the key, axis or point at fault; every point's parameters are checked by
        the scenario's validator.
    """
    unknown = sorted(set(data) - set(SPEC_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                         f"allowed keys: {', '.join(SPEC_KEYS)}")
    scenario = data.get("scenario")
    if not isinstance(scenario, str) or not scenario:
        raise ValueError(f"{where}: 'scenario' must name a scenario (see `reducedpde list`)")
    table = get_scenario(scenario).parameters
    seeds = _integer(data.get("seeds", 1), "seeds", 1, where)
    seed = _integer(data.get("seed", 0), "seed", 0, where)
    every = data.get("checkpoint_every", 300.0)
    if isinstance(every, bool) or not isinstance(every, int | float) or not 0 <= every < math.inf:
        raise ValueError(f"{where}: 'checkpoint_every' must be a number of seconds >= 0, "
                         f"got {every!r}")
    name = data.get("name", "")
    if not isinstance(name, str):
        raise ValueError(f"{where}: 'name' must be a string, got {name!r}")

    fixed = _table(data.get("parameters", {}), "parameters", where)
    for key, value in fixed.items():
        if isinstance(value, dict | list):
            raise ValueError(f"{where}: parameters.{key} must be a single value (vary it "
                             "under [grid] or [zip])")
    if overrides:
        fixed = {**fixed, **overrides}
    axes: list[list[dict]] = []
    varied: list[str] = []
    grid = _table(data.get("grid", {}), "grid", where)
    for key, value in grid.items():
        values = _axis_values(value, f"grid.{key}", table.get(key), where)
        axes.append([{key: v} for v in values])
        varied.append(key)
    zips = data.get("zip", [])
    zips = [zips] if isinstance(zips, dict) else zips
    if not isinstance(zips, list):
        raise ValueError(f"{where}: 'zip' must be a table or an array of tables")
    for i, group in enumerate(zips):
        label = "zip" if len(zips) == 1 else f"zip[{i}]"
        group = _table(group, label, where)
        if not group:
            raise ValueError(f"{where}: {label} is empty")
        columns = {key: _axis_values(value, f"{label}.{key}", table.get(key), where)
                   for key, value in group.items()}
        lengths = {key: len(v) for key, v in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"{where}: the axes of {label} must have equal lengths, got "
                             + ", ".join(f"{k}: {n}" for k, n in lengths.items()))
        n = next(iter(lengths.values()))
        axes.append([{key: columns[key][j] for key in columns} for j in range(n)])
        varied.extend(columns)
    repeated = sorted({k for k in varied if varied.count(k) > 1})
    if repeated:
        raise ValueError(f"{where}: parameter(s) {', '.join(map(repr, repeated))} varied "
                         "more than once")
    reserved = sorted(set(RESERVED) & (set(varied) | set(fixed)))
    if reserved:
        raise ValueError(f"{where}: {', '.join(map(repr, reserved))} cannot be a parameter "
                         "of a sweep; set the top-level keys seeds = K and seed = FIRST")
    both = sorted(set(varied) & set(fixed))
    if both:
        if overrides and set(both) & set(overrides):
            raise ValueError(f"{where}: cannot override the varied parameter(s) "
                             f"{', '.join(map(repr, both))}")
        raise ValueError(f"{where}: parameter(s) {', '.join(map(repr, both))} are both fixed "
                         "(under [parameters]) and varied")
    points = tuple({**fixed, **{k: v for part in combo for k, v in part.items()}}
                   for combo in itertools.product(*axes))
    spec = SweepSpec(scenario=scenario, points=points, varied=tuple(varied), fixed=dict(fixed),
                     seeds=seeds, seed=seed, checkpoint_every=float(every), name=name,
                     source={**data, "parameters": dict(fixed)})
    _validate_points(spec, where)
    return spec


def _integer(value, key: str, low: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{where}: {key!r} must be an integer >= {low}, got {value!r}")
    return value


def _table(value, key: str, where: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: {key!r} must be a table of parameter = value pairs, "
                         f"got {value!r}")
    return dict(value)


def _clean_float(value: float) -> float:
    """A range value rounded to 12 significant digits (no 0.30000000000000004 in names)."""
    return float(f"{value:.12g}")


def _axis_values(value, label: str, param, where: str) -> list:
    """The values of one axis: a non-empty list, or a ``log``/``linear`` range table."""
    if isinstance(value, list):
        if not value:
            raise ValueError(f"{where}: {label} is empty (give at least one value)")
        return list(value)
    if not isinstance(value, dict):
        raise ValueError(f"{where}: {label} must be a list of values or a range table "
                         f"such as {{log = [1e-3, 1e-1], num = 5}}, got {value!r}")
    unknown = sorted(set(value) - {*RANGE_KINDS, "num"})
    kinds = [k for k in RANGE_KINDS if k in value]
    if unknown or len(kinds) != 1 or "num" not in value:
        raise ValueError(f"{where}: {label} must be {{log = [a, b], num = n}} or "
                         f"{{linear = [a, b], num = n}}, got {value!r}")
    kind = kinds[0]
    ends, num = value[kind], value["num"]
    if (not isinstance(ends, list) or len(ends) != 2
            or not all(isinstance(e, int | float) and not isinstance(e, bool) for e in ends)
            or not all(math.isfinite(e) for e in ends)):
        raise ValueError(f"{where}: {label}.{kind} must be two finite numbers [a, b], "
                         f"got {ends!r}")
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"{where}: {label}.num must be an integer >= 1, got {num!r}")
    if num == 0:
        raise ValueError(f"{where}: {label} is empty (num = 0)")
    a, b = float(ends[0]), float(ends[1])
    if kind == "log":
        if a <= 0 or b <= 0:
            raise ValueError(f"{where}: {label}.log needs positive ends, got {ends!r}")
        raw = np.geomspace(a, b, num)
    else:
        raw = np.linspace(a, b, num)
    if param is not None and param.kind == "int":
        values = [round(float(v)) for v in raw]
        if len(set(values)) < len(values):
            raise ValueError(f"{where}: {label} repeats values after rounding to integers "
                             f"({values}); use fewer points or a list")
        return values
    return [_clean_float(float(v)) for v in raw]


def _describe(point: dict, keys) -> str:
    return ", ".join(f"{k}={point[k]!r}" for k in keys) or "the only point"


def _validate_points(spec: SweepSpec, where: str) -> None:
    """Resolve every point (and every SGD task's seed) with the scenario's validator."""
    from .tasks import NEURON_DIMENSION

    errors = []
    model = get_scenario(spec.scenario).model
    if model not in NEURON_DIMENSION:
        raise ValueError(f"{where}: scenario {spec.scenario!r} (model {model!r}) is not "
                         "supported by sweeps yet (supported models: "
                         f"{', '.join(NEURON_DIMENSION)})")
    for index, point in enumerate(spec.points):
        try:
            cfg = resolve(spec.scenario, spec.point_params(index))
            resolve(spec.scenario, {**point, "seeds": 1, "seed": spec.seed + spec.seeds - 1})
        except ValueError as exc:
            errors.append(f"point {index} ({_describe(point, spec.varied)}): {exc}")
            continue
        # constraints of validate() beyond the parameter table (checked here so that
        # they fail before any task starts)
        if model == "multiindex" and cfg.get("spherical"):
            errors.append(f"point {index} ({_describe(point, spec.varied)}): parameter "
                          "'spherical' must be false (SGD simulates the free (a, s, r) model)")
        if model == "gaussians" and math.isinf(cfg["d"]):
            errors.append(f"point {index} ({_describe(point, spec.varied)}): parameter 'd' "
                          "must be finite for SGD (got inf)")
    if errors:
        more = len(errors) - MAX_LISTED_ERRORS
        text = "; ".join(errors[:MAX_LISTED_ERRORS])
        if more > 0:
            text += f"; and {more} more point(s) with errors"
        raise ValueError(f"{where}: {text}")
