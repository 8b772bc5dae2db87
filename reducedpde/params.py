"""Declarative parameter tables and the one validator used by the API, the CLI and configs.

A model declares its parameters once, as a table of :class:`Param`; :func:`validate`
checks a dictionary of user values against it (type, range, choices), fills in defaults,
rejects unknown keys with a "did you mean" hint and reports every problem in one
``ValueError`` whose message names the parameter and its allowed range. String values
(from ``-p key=value`` or TOML) are converted by the same code.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["Param", "parameter_table", "parse_assignment", "validate"]


@dataclass(frozen=True)
class Param:
    """One parameter: its kind, default, allowed range and meaning.

    Parameters
    ----------
    name : str
    kind : {"float", "int", "str", "bool"}
    default : object
    doc : str
        One line for ``reducedpde list`` and the docs.
    low, high : float, optional
        Bounds; ``low_open``/``high_open`` make them strict.
    allow_inf : bool
        Accept ``inf`` (written ``inf`` on the command line) beyond ``high``.
    choices : tuple, optional
        Allowed values for ``kind="str"``.
    """

    name: str
    kind: str
    default: object
    doc: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    allow_inf: bool = False
    choices: tuple | None = None

    def describe_range(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(map(str, self.choices))
        if self.kind == "bool":
            return "true or false"
        if self.kind == "str":
            return "a string"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        left = "(" if (self.low is None or self.low_open) else "["
        if self.high is None:
            right = "]" if self.allow_inf else ")"
        else:
            right = ")" if self.high_open else "]"
        text = f"{self.kind} in {left}{lo}, {hi}{right}"
        if self.allow_inf and self.high is not None:
            text += " or inf"
        return text

    def convert(self, value):
        """Coerce ``value`` (possibly a string) to this parameter's kind and check it."""
        if self.kind == "bool":
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if isinstance(value, bool):
                return value
            raise ValueError
        if self.kind == "str":
            if not isinstance(value, str):
                raise ValueError
            value = value.strip()
            if self.choices is not None and value not in self.choices:
                raise ValueError
            return value
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, str):
            value = float(value.strip())
        if not isinstance(value, (int, float)):
            # numpy scalars
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ValueError from None
        value = float(value)
        if math.isnan(value):
            raise ValueError
        if math.isinf(value):
            if value > 0 and self.allow_inf:
                return math.inf
            raise ValueError
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise ValueError
        if self.high is not None and (
            value > self.high or (self.high_open and value == self.high)
        ):
            raise ValueError
        if self.kind == "int":
            if value != int(value):
                raise ValueError
            return int(value)
        return value


def validate(
    table: Mapping[str, Param],
    values: Mapping[str, object] | None,
    context: str = "parameters",
    checks: tuple[Callable[[dict], str | None], ...] = (),
) -> dict:
    """Check ``values`` against ``table``; return a complete dict with defaults filled in.

    Parameters
    ----------
    table : mapping of name to Param
    values : mapping
        User-supplied values (strings are converted).
    context : str
        Named in error messages (e.g. the scenario).
    checks : sequence of callables
        Relations between parameters: each gets the full dict and returns an error message
        or ``None``.

    Raises
    ------
    ValueError
        Listing every invalid or unknown parameter, with the allowed range or the valid names.
    """
    values = dict(values or {})
    errors = []
    for key in values:
        if key not in table:
            hint = difflib.get_close_matches(key, list(table), n=1)
            text = f"unknown parameter {key!r} for {context}"
            text += f" (did you mean {hint[0]!r}?)" if hint else ""
            text += f"; valid parameters: {', '.join(sorted(table))}"
            errors.append(text)
    out = {}
    for name, param in table.items():
        if name not in values:
            out[name] = param.default
            continue
        raw = values[name]
        try:
            out[name] = param.convert(raw)
        except (ValueError, TypeError):
            errors.append(
                f"parameter {name!r} must be {param.describe_range()}, got {raw!r}"
            )
    if not errors:
        for check in checks:
            message = check(out)
            if message:
                errors.append(message)
    if errors:
        raise ValueError("; ".join(errors))
    return out


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``"key=value"`` (from ``-p``) into ``(key, value)``."""
    if "=" not in text:
        raise ValueError(f"expected key=value, got {text!r}")
    key, value = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ValueError(f"expected key=value, got {text!r}")
    return key, value.strip()


def parameter_table(*params: Param) -> dict[str, Param]:
    """``{name: Param}`` of the given declarations, in order (names must be unique)."""
    table: dict[str, Param] = {}
    for param in params:
        if param.name in table:
            raise ValueError(f"parameter {param.name!r} is declared twice")
        table[param.name] = param
    return table
