"""Reduced models, one folder each, behind one protocol (:class:`~.base.Reduction`).

The registry maps a model name to the class implementing :class:`~.base.Reduction`,
given as ``"module:Class"`` so that listing scenarios imports no solver. Adding a model is
one folder plus one line in :data:`MODEL_REGISTRY` (or a call of :func:`register_model`
from user code); see ``docs/architecture.md``.
"""

from __future__ import annotations

import importlib

from .base import Reduction

__all__ = ["MODEL_REGISTRY", "Reduction", "build_model", "get_model", "register_model"]

#: model name -> "module:Class" (or the class itself, for models registered at run time)
MODEL_REGISTRY: dict[str, str | type[Reduction]] = {
    "gaussians": "reducedpde.models.gaussians.reduction:GaussiansReduction",
    "multiindex": "reducedpde.models.multiindex.reduction:MultiIndexReduction",
    "parity": "reducedpde.models.parity.reduction:ParityReduction",
}


def register_model(name: str, reduction: str | type[Reduction]) -> None:
    """Register a model under ``name`` (a :class:`Reduction` subclass or ``"module:Class"``)."""
    if not isinstance(name, str) or not name:
        raise ValueError("model name must be a non-empty string")
    MODEL_REGISTRY[name] = reduction


def get_model(name: str) -> type[Reduction]:
    """The :class:`Reduction` class registered as ``name``."""
    try:
        entry = MODEL_REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; registered: "
                         f"{', '.join(sorted(MODEL_REGISTRY))}") from None
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
        MODEL_REGISTRY[name] = entry
    return entry


def build_model(config) -> Reduction:
    """The model of a resolved :class:`~reducedpde.config.RunConfig`, built once."""
    return get_model(config.model)(config)
