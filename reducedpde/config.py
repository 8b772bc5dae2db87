"""The resolved configuration of a run: one immutable mapping, validated once.

:func:`reducedpde.scenarios.resolve` turns a scenario name and user overrides into a
:class:`RunConfig`; the API passes that one object down to the model, which builds its
physics from it once. It reads like a dict (``config["kappa"]``, ``dict(config)``,
``config == {...}``) but cannot be changed: a changed parameter is a new config
(:meth:`RunConfig.replace`, validated again).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

__all__ = ["RunConfig"]


class RunConfig(Mapping):
    """Validated parameters of one run of a scenario.

    Parameters
    ----------
    scenario : str
        Scenario name (a key of :data:`reducedpde.scenarios.SCENARIOS`).
    model : str
        Model name (a key of the model registry, :func:`reducedpde.models.get_model`).
    params : mapping
        Every parameter of the model's table, validated.
    """

    __slots__ = ("_params", "model", "scenario")

    def __init__(self, scenario: str, model: str, params: Mapping[str, Any]):
        object.__setattr__(self, "scenario", scenario)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "_params", MappingProxyType(dict(params)))

    def __setattr__(self, name, value):
        raise AttributeError("RunConfig is immutable; use .replace(...) for a changed copy")

    def __getitem__(self, key: str):
        return self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __repr__(self) -> str:
        return f"RunConfig({self.scenario!r}, {dict(self._params)!r})"

    def __reduce__(self):
        return (RunConfig, (self.scenario, self.model, dict(self._params)))

    def replace(self, **changes) -> RunConfig:
        """The config with ``changes`` applied, validated again through the scenario."""
        from .scenarios import resolve

        merged = dict(self._params)
        merged.update(changes)
        return resolve(self.scenario, merged)
