"""Parameter constraints of the particle-SGD simulators: one table, one validator.

Every particle simulator (``simulate_gaussians``, ``simulate_multiindex`` of the models)
passes its scalar parameters through :func:`validate_parameters`, which raises a
:class:`ValueError` that names the parameter and states its allowed range.
"""

from __future__ import annotations

import numbers

import numpy as np

from ...params import Param

__all__ = ["PARAMETER_CONSTRAINTS", "validate_parameters", "validate_seeds"]


def _real(name, low=None, high=None, low_open=False, high_open=False, allow_inf=False):
    return Param(name, "float", None, "", low=low, high=high, low_open=low_open,
                 high_open=high_open, allow_inf=allow_inf)


def _integer(name, low=1):
    return Param(name, "int", None, "", low=low)


#: the single table of scalar parameter constraints (name -> Param, see reducedpde.params)
PARAMETER_CONSTRAINTS: dict[str, Param] = {
    "N": _integer("N"),
    "d": _integer("d"),
    "k": _integer("k"),
    "batch": _integer("batch"),
    "n_times": _integer("n_times"),
    "n_test": _integer("n_test", low=2),
    "eps": _real("eps", low=0.0, low_open=True),
    "t_max": _real("t_max", low=0.0, low_open=True),
    "lam": _real("lam", low=0.0),
    "beta": _real("beta", low=0.0, low_open=True, allow_inf=True),
    "delta": _real("delta", low=0.0, high=1.0, high_open=True),
    "kappa": _real("kappa", low=0.0),
    "xi_a": _real("xi_a", low=0.0),
    "xi_w": _real("xi_w", low=0.0),
    "a_std": _real("a_std", low=0.0),
    "chunk_steps": _integer("chunk_steps"),
    "hermite_degree": _integer("hermite_degree", low=0),
}


def _accepts(param: Param, value) -> bool:
    """Python API values: numbers only (no strings), integers for integer parameters."""
    if isinstance(value, (str, bool, np.bool_)):
        return False
    if param.kind == "int" and not isinstance(value, numbers.Integral):
        return False
    if not isinstance(value, numbers.Real):
        return False
    try:
        param.convert(value)
    except (TypeError, ValueError):
        return False
    return True


def validate_parameters(**values) -> None:
    """Check scalar parameters against :data:`PARAMETER_CONSTRAINTS`.

    Ranges are checked by :class:`reducedpde.params.Param`, the validator shared with the
    scenarios, the CLI and TOML configs. Parameters given as ``None`` are skipped. Cross
    constraints checked here: ``k ≤ d`` and ``t_max ≥ eps`` (at least one step).

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
        param = PARAMETER_CONSTRAINTS[name]
        if not _accepts(param, value):
            raise ValueError(f"{name} must be {param.describe_range()}, got {value!r}")
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
