"""Discretisation counts of a multi-index PDE run (for resolution studies)."""

from __future__ import annotations

__all__ = ["doubled_resolution"]


def doubled_resolution(cfg, params: dict | None = None) -> dict:
    """``params`` with every discretisation count of the PDE run of ``cfg`` doubled.

    Atoms in ``a`` (unless a point law; with ``a_rule='adaptive'`` the nodes per panel,
    and the error target is halved), in ``s`` and ``r`` (``init='gaussian'``), the
    Gauss–Hermite nodes of the smoothing (``smoothing_nodes > 0``) and the latent nodes
    (Gaussian inputs, free model).

    Parameters
    ----------
    cfg : mapping
        The resolved config (:func:`reducedpde.scenarios.resolve`) of ``params``.
    params : dict, optional
        The user's overrides; the counts are added to a copy.
    """
    from .runs import build_model

    out = dict(params or {})
    if cfg["a_law"] != "point":
        out["atoms_a"] = 2 * cfg["atoms_a"]
        if cfg.get("a_rule") == "adaptive":
            out["a_rule_tol"] = 0.5 * cfg["a_rule_tol"]
    if cfg.get("smoothing_nodes", 0):
        out["smoothing_nodes"] = 2 * cfg["smoothing_nodes"]
    if cfg["init"] == "gaussian":
        out["atoms_s"] = 2 * cfg["atoms_s"]
        out["atoms_r"] = 2 * cfg["atoms_r"]
    if cfg["inputs"] == "gaussian" and not cfg["spherical"]:
        out["latent_nodes"] = 2 * build_model(cfg).latent.n_per_dim
    return out
