"""The resolved configuration of a run: one immutable mapping, validated once.

:func:`reducedpde.scenarios.resolve` turns a scenario name and user overrides into a
:class:`RunConfig`; the API passes that one object down to the model, which builds its
physics from it once. It is a ``dict`` (``config["kappa"]``, ``dict(config)``,
``json.dumps(config)``) that cannot be changed: a changed parameter is a new config
(:meth:`RunConfig.replace`, validated again).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["RunConfig"]


class RunConfig(dict):
    """Validated parameters of one run of a scenario: a read-only ``dict``.

    A ``dict`` subclass, so that everything that takes a dict (``json.dumps``, ``**cfg``,
    NumPy, pandas) takes it; every mutating method raises ``TypeError``.

    Parameters
    ----------
    scenario : str
        Scenario name (a key of :data:`reducedpde.scenarios.SCENARIOS`).
    model : str
        Model name (a key of the model registry, :func:`reducedpde.models.get_model`).
    params : mapping
        Every parameter of the model's table, validated.
    """

    __slots__ = ("model", "scenario")

    def __init__(self, scenario: str, model: str, params: Mapping[str, Any]):
        super().__init__(params)
        object.__setattr__(self, "scenario", scenario)
        object.__setattr__(self, "model", model)

    def _read_only(self, *args, **kwargs):
        raise TypeError("RunConfig is read-only; use .replace(...) for a changed copy")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __setattr__(self, name, value):
        raise AttributeError("RunConfig is read-only; use .replace(...) for a changed copy")

    def __repr__(self) -> str:
        return f"RunConfig({self.scenario!r}, {dict(self)!r})"

    def __reduce__(self):
        return (RunConfig, (self.scenario, self.model, dict(self)))

    def copy(self) -> dict:
        """A plain, mutable ``dict`` of the parameters."""
        return dict(self)

    def replace(self, **changes) -> RunConfig:
        """The config with ``changes`` applied, validated again through the scenario."""
        from .scenarios import resolve

        merged = dict(self)
        merged.update(changes)
        return resolve(self.scenario, merged)
