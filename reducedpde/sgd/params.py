"""Parameter constraints of the particle-SGD simulators: one table, one validator.

Every public entry point of :mod:`reducedpde.sgd` passes its scalar parameters through
:func:`validate_parameters`, which raises a :class:`ValueError` that names the parameter
and states its allowed range.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

__all__ = ["PARAMETER_CONSTRAINTS", "Constraint", "validate_parameters", "validate_seeds"]


@dataclass(frozen=True)
class Constraint:
    """Allowed values of one scalar parameter.

    Attributes
    ----------
    integer : bool
        Whether the value must be an integer.
    low, high : float or None
        Bounds (``None``: unbounded).
    low_open, high_open : bool
        Whether the bounds are excluded.
    allow_inf : bool
        Whether ``+inf`` is accepted (e.g. ``β = ∞``: no noise).
    """

    integer: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    allow_inf: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a real number"
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            text = f"{kind} in {left}{self.low:g}, {self.high:g}{right}"
        elif self.low is not None:
            text = f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        elif self.high is not None:
            text = f"{kind} {'<' if self.high_open else '<='} {self.high:g}"
        else:
            text = f"a finite {'integer' if self.integer else 'real number'}"
        if self.allow_inf:
            text += " or inf"
        return text

    def accepts(self, value) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return False
        if self.integer:
            if not isinstance(value, numbers.Integral):
                return False
        elif not isinstance(value, numbers.Real):
            return False
        x = float(value)
        if math.isnan(x):
            return False
        if math.isinf(x):
            return self.allow_inf and x > 0
        if self.low is not None and (x < self.low or (self.low_open and x == self.low)):
            return False
        return not (
            self.high is not None and (x > self.high or (self.high_open and x == self.high))
        )


_POSITIVE = Constraint(low=0.0, low_open=True)
_NONNEGATIVE = Constraint(low=0.0)
_COUNT = Constraint(integer=True, low=1)

#: the single table of scalar parameter constraints (name -> Constraint)
PARAMETER_CONSTRAINTS: dict[str, Constraint] = {
    "N": _COUNT,
    "d": _COUNT,
    "k": _COUNT,
    "batch": _COUNT,
    "n_times": _COUNT,
    "n_test": Constraint(integer=True, low=2),
    "eps": _POSITIVE,
    "t_max": _POSITIVE,
    "lam": _NONNEGATIVE,
    "beta": Constraint(low=0.0, low_open=True, allow_inf=True),
    "delta": Constraint(low=0.0, high=1.0, high_open=True),
    "kappa": _NONNEGATIVE,
    "xi_a": _NONNEGATIVE,
    "xi_w": _NONNEGATIVE,
    "a_std": _NONNEGATIVE,
    "chunk_steps": _COUNT,
    "hermite_degree": Constraint(integer=True, low=0),
}


def validate_parameters(**values) -> None:
    """Check scalar parameters against :data:`PARAMETER_CONSTRAINTS`.

    Parameters given as ``None`` are skipped. Cross constraints checked here:
    ``k ≤ d`` and ``t_max ≥ eps`` (at least one step).

    Raises
    ------
    ValueError
        Naming the first offending parameter, its allowed range and the value received.
    """
    for name, value in values.items():
        if value is None:
            continue
        if name not in PARAMETER_CONSTRAINTS:
            raise KeyError(f"no constraint declared for parameter {name!r}")
        rule = PARAMETER_CONSTRAINTS[name]
        if not rule.accepts(value):
            raise ValueError(f"{name} must be {rule.describe()}, got {value!r}")
    k, d = values.get("k"), values.get("d")
    if k is not None and d is not None and k > d:
        raise ValueError(f"k must be an integer in [1, d] = [1, {d}], got {k!r}")
    eps, t_max = values.get("eps"), values.get("t_max")
    if eps is not None and t_max is not None and t_max < eps:
        raise ValueError(f"t_max must be >= eps = {eps:g} (at least one step), got {t_max!r}")


def validate_seeds(seeds) -> np.ndarray:
    """Return ``seeds`` as a non-empty int64 array of non-negative integers."""
    if isinstance(seeds, (numbers.Integral, np.integer)) and not isinstance(seeds, bool):
        seeds = (seeds,)
    try:
        items = list(seeds)
    except TypeError:
        raise ValueError(
            f"seeds must be a non-negative integer or a non-empty sequence of them, got {seeds!r}"
        ) from None
    if not items or any(
        isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral) or s < 0
        for s in items
    ):
        raise ValueError(
            f"seeds must be a non-negative integer or a non-empty sequence of them, got {seeds!r}"
        )
    return np.asarray(items, dtype=np.int64)
