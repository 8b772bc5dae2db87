"""High-level entry points: scenario name + parameters in, :class:`RunResult` out."""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.legendre import leggauss

from .activations import get_activation
from .checkpointing import Checkpointing
from .compare import compare
from .fv.grid import Grid1D
from .fv.radial import default_output_times, solve_radial
from .models.gaussians import GaussianRadialModel, scaled_chi_cdf
from .results import RunResult
from .scenarios import get_scenario, resolve

__all__ = [
    "build_gaussian_model",
    "gaussian_initial_masses",
    "output_times",
    "parameters_of",
    "resume_parameters",
    "run_pde",
    "run_sgd",
    "validate",
]


def build_gaussian_model(cfg: dict) -> GaussianRadialModel:
    """The radial model of a validated ``gaussians`` config."""
    return GaussianRadialModel(
        get_activation(cfg["activation"]),
        cfg["delta"],
        cfg["d"],
        lam=cfg["lam"],
        beta=cfg["beta"],
        r_bound=cfg["r_max"],
        kernel_tol=cfg["kernel_tol"],
    )


def output_times(cfg: dict):
    """Output times (0, then log-spaced from t_min to t_max) and the snapshot subset."""
    times = default_output_times(cfg["t_max"], cfg["n_times"], cfg["t_min"])
    # the output times are already log-spaced: spread the snapshots evenly over them
    idx = np.unique(np.round(np.linspace(1, times.size - 1, cfg["n_snapshots"] - 1)))
    snaps = np.concatenate([[0.0], times[idx.astype(int)]])
    return times, snaps


def gaussian_initial_masses(cfg: dict, grid: Grid1D, initial_density=None) -> np.ndarray:
    """Cell masses of the initial radial law.

    Default: ``w ~ N(0, κ²/d I)`` (exact cell masses of ``κ χ_d/√d``). A user density
    ``initial_density(r)`` (w.r.t. ``dr``, any normalisation) is integrated over each cell
    with 4-point Gauss–Legendre.
    """
    if initial_density is None:
        return grid.cell_masses(scaled_chi_cdf(cfg["kappa"], cfg["d"]))
    x, w = leggauss(4)
    nodes = grid.centres[:, None] + 0.5 * grid.widths[:, None] * x[None, :]
    values = np.asarray(initial_density(nodes), dtype=float)
    if values.shape != nodes.shape or np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError("initial_density must return finite, non-negative values for arrays")
    return 0.5 * grid.widths * (values @ w)


def parameters_of(config: dict, scenario: str = "gaussians") -> dict:
    """The scenario parameters stored in a result's ``config`` (drops descriptive keys)."""
    table = get_scenario(scenario).parameters
    return {key: value for key, value in config.items() if key in table}


def run_pde(scenario: str = "gaussians", params: dict | None = None, *, xi=None,
            initial_density=None, progress: bool = True,
            checkpoint_every_s: float | None = None, on_checkpoint=None,
            resume: RunResult | None = None) -> RunResult:
    """Solve the reduced PDE of a scenario.

    Parameters
    ----------
    scenario : str
        A name from :func:`reducedpde.scenarios.list_scenarios`.
    params : dict, optional
        Overrides of the scenario's parameters (validated; strings accepted).
    xi : callable, optional
        Step-size schedule ``ξ(t)``; default ``ξ ≡ 1``.
    initial_density : callable, optional
        Initial radial density ``ρ̄_0(r)`` replacing the default ``N(0, κ²/d I)`` law.
    progress : bool
        Show a progress bar.
    checkpoint_every_s, on_checkpoint, resume :
        Checkpoints and resumption as for :func:`run_sgd` (radial scenarios; the
        multi-index PDE solvers run uninterrupted and ignore ``on_checkpoint``).

    Returns
    -------
    RunResult
        With ``.pde`` filled.
    """
    cfg = resolve(scenario, params)
    if _is_multiindex(scenario) and resume is not None:
        raise ValueError("resume: multi-index PDE runs are not checkpointed; rerun them")
    if _is_multiindex(scenario):
        from .multiindex_api import run_multiindex_pde

        if initial_density is not None or xi is not None:
            raise ValueError("multi-index scenarios take neither xi nor initial_density "
                             "for the PDE (the initial law is set by the parameters)")
        times, snaps = output_times(cfg)
        pde = run_multiindex_pde(cfg, times, snaps, progress=progress)
        return RunResult(scenario=scenario, config=_run_config(scenario, cfg, None), pde=pde)
    if resume is not None and initial_density is not None:
        raise ValueError("resume: pass no initial_density (the state comes from the file)")
    config = _run_config(scenario, cfg, xi, GAUSSIAN_INITIAL_LAW if initial_density is None
                         else "user density")
    checkpointing = _checkpointing(scenario, config, "pde", checkpoint_every_s, on_checkpoint,
                                   _resume_state(scenario, cfg, xi, resume, "pde"))
    model = build_gaussian_model(cfg)
    grid = Grid1D.uniform(0.0, cfg["r_max"], cfg["cells"])
    masses = gaussian_initial_masses(cfg, grid, initial_density)
    times, snaps = output_times(cfg)
    pde = solve_radial(
        model, grid, masses, times, snapshot_times=snaps, xi=xi, cfl=cfg["cfl"],
        limiter_theta=cfg["limiter_theta"], step_tol=cfg["step_tol"], stepper=cfg["stepper"],
        min_resolved_cells=cfg["min_resolved_cells"], progress=progress,
        checkpointing=checkpointing,
    )
    return RunResult(scenario=scenario, config=config, pde=pde)


#: the default initial law of the radial (Gaussian-classes) scenarios, as recorded
GAUSSIAN_INITIAL_LAW = "N(0, kappa^2/d I)"


def _run_config(scenario: str, cfg: dict, xi, initial_law: str = GAUSSIAN_INITIAL_LAW):
    """The ``config`` stored with a run: the parameters, the schedule and the initial law
    (derived from the parameters for multi-index scenarios)."""
    config = dict(cfg)
    config["xi"] = _describe_schedule(xi)
    config["initial_law"] = (_multiindex_initial_law(cfg) if _is_multiindex(scenario)
                             else initial_law)
    return config


def _describe_schedule(xi) -> str:
    """How a step-size schedule is recorded in a result's config."""
    return "constant 1" if xi is None else getattr(xi, "__name__", "user function")


def _is_multiindex(scenario: str) -> bool:
    return get_scenario(scenario).model == "multiindex"


def _multiindex_initial_law(cfg: dict) -> str:
    law = {"point": "a = a_init", "normal": "a ~ N(a_init, a_spread^2)",
           "uniform": "a ~ U[a_init - a_spread, a_init + a_spread]"}[cfg["a_law"]]
    if cfg["init"] == "gaussian":
        w = "w ~ N(0, kappa^2/d I)"
    else:
        w = "s = 0, r = r_init"
    return f"{law}, {w}" + (", projected to |w| = 1" if cfg["spherical"] else "")


def _sgd_histogram_edges(cfg: dict, n_bins: int = 200) -> np.ndarray:
    """Histogram bins of ‖w‖ for SGD: the PDE cells merged into at most ``n_bins`` bins."""
    cells = cfg["cells"]
    factor = max(1, int(np.ceil(cells / n_bins)))
    edges = np.linspace(0.0, cfg["r_max"], cells + 1)
    return np.unique(np.concatenate([edges[::factor], [edges[-1]]]))


def run_sgd(scenario: str = "gaussians", params: dict | None = None, *, xi=None,
            progress: bool = True, keep_weights: bool = False,
            checkpoint_every_s: float | None = None, on_checkpoint=None,
            resume: RunResult | None = None) -> RunResult:
    """Run the particle-SGD ensemble of a scenario (``seeds`` runs from seed ``seed``).

    SGD records at the PDE's output times (rounded to whole steps ``kε``) and histograms
    ``‖w‖`` at the PDE's snapshot times, so the two can be compared directly.

    Parameters
    ----------
    scenario, params, xi, progress, keep_weights :
        As for :func:`run_pde`; ``keep_weights`` stores the final weights.
    checkpoint_every_s : float, optional
        Wall-time interval between checkpoints handed to ``on_checkpoint`` (``None``: only
        when the run is stopped by Ctrl-C/SIGTERM).
    on_checkpoint : callable, optional
        ``on_checkpoint(result)`` receives a :class:`RunResult` holding the recorded part
        and, in ``result.sgd.checkpoint``, the state to resume from (e.g. to save it with
        :func:`reducedpde.io.save`). Setting it turns checkpointing on.
    resume : RunResult, optional
        A result whose ``sgd.checkpoint`` is set (an interrupted run); the run continues
        from it and returns exactly what the uninterrupted run would have. ``scenario``
        and ``params`` must be those of that run (see :func:`resume_parameters`).

    Returns
    -------
    RunResult
        With ``.sgd`` filled; ``.sgd.checkpoint`` is set if the run was stopped early
        with checkpointing on.
    """
    cfg = resolve(scenario, params)
    config = _run_config(scenario, cfg, xi)
    checkpointing = _checkpointing(scenario, config, "sgd", checkpoint_every_s, on_checkpoint,
                                   _resume_state(scenario, cfg, xi, resume, "sgd"))
    if _is_multiindex(scenario):
        from .multiindex_api import run_multiindex_sgd

        times, snaps = output_times(cfg)
        sgd = run_multiindex_sgd(cfg, times, snaps, xi=xi, progress=progress,
                                 keep_weights=keep_weights, checkpointing=checkpointing)
        return RunResult(scenario=scenario, config=config, sgd=sgd)
    from .sgd import simulate_gaussians

    if math.isinf(cfg["d"]):
        raise ValueError("parameter 'd' must be finite for SGD (got inf)")
    times, snaps = output_times(cfg)
    sgd = simulate_gaussians(
        N=cfg["N"], d=int(cfg["d"]), delta=cfg["delta"], kappa=cfg["kappa"], eps=cfg["eps"],
        t_max=cfg["t_max"], activation=cfg["activation"], lam=cfg["lam"], beta=cfg["beta"],
        batch=cfg["batch"], xi=xi, seeds=tuple(range(cfg["seed"], cfg["seed"] + cfg["seeds"])),
        record_times=times, hist_edges=_sgd_histogram_edges(cfg), snapshot_times=snaps,
        keep_weights=keep_weights, progress=progress, checkpointing=checkpointing,
    )
    return RunResult(scenario=scenario, config=config, sgd=sgd)


def resume_parameters(previous: RunResult) -> tuple[str, dict]:
    """``(scenario, params)`` of a stored run, to pass with ``resume=previous``."""
    return previous.scenario, parameters_of(previous.config, previous.scenario)


def _resume_state(scenario: str, cfg: dict, xi, resume: RunResult | None, part: str):
    """The checkpoint of ``resume``'s ``part`` ("pde" or "sgd"), or ``None`` without
    ``resume``; checks that ``resume`` is a stopped run with these parameters."""
    if resume is None:
        return None
    previous = getattr(resume, part, None)
    state = getattr(previous, "checkpoint", None) if previous is not None else None
    if state is None:
        raise ValueError(
            f"resume: the file holds no {part.upper()} checkpoint (the run completed, or "
            "was stopped without checkpointing)"
        )
    if resume.scenario != scenario:
        raise ValueError(f"resume: the file is a run of scenario {resume.scenario!r}, "
                         f"not {scenario!r}")
    stored = parameters_of(resume.config, scenario)
    changed = sorted(key for key, value in stored.items() if cfg.get(key) != value)
    if changed:
        raise ValueError("resume: parameters differ from the stored run: "
                         + ", ".join(f"{k} = {cfg[k]!r} (stored {stored[k]!r})"
                                     for k in changed))
    if resume.config.get("xi", "constant 1") != _describe_schedule(xi):
        raise ValueError(f"resume: the stored run used the schedule "
                         f"{resume.config.get('xi')!r}; pass the same xi")
    return state


def _checkpointing(scenario: str, config: dict, part: str, every_s, on_checkpoint, state):
    """The :class:`~reducedpde.checkpointing.Checkpointing` of a run's ``part`` (``None``
    without ``on_checkpoint`` and ``state``): each checkpoint reaches ``on_checkpoint`` as a
    :class:`RunResult` with ``config`` and the partial result."""
    if on_checkpoint is None and state is None:
        return None

    def save(checkpoint_state, partial):
        partial.checkpoint = checkpoint_state
        on_checkpoint(RunResult(scenario=scenario, config=config, **{part: partial}))

    return Checkpointing(every_s=every_s, save=save if on_checkpoint else None, resume=state)


def validate(scenario: str = "gaussians", params: dict | None = None, *, xi=None,
             progress: bool = True, checkpoint_every_s: float | None = None,
             on_checkpoint=None, resume: RunResult | None = None) -> RunResult:
    """Solve the PDE, run the SGD ensemble and compare them (see :mod:`reducedpde.compare`).

    ``checkpoint_every_s``, ``on_checkpoint`` and ``resume`` checkpoint and resume the SGD
    part as in :func:`run_sgd`; the results handed to ``on_checkpoint`` also hold the PDE
    solution, which a resumed run reuses instead of solving again.

    Returns
    -------
    RunResult
        With ``.pde``, ``.sgd`` and ``.comparison``.
    """
    if _is_multiindex(scenario):
        if xi is not None:
            raise ValueError("multi-index scenarios take no xi (constant step sizes)")
        # fail on SGD-only constraints before solving the PDE
        cfg = resolve(scenario, params)
        if cfg["spherical"]:
            raise ValueError(
                "parameter 'spherical' must be false for validate (SGD simulates the free "
                "(a, s, r) model; use `reducedpde pde` for the spherical variant)"
            )
    if resume is not None:
        # check the stored run before spending time on the PDE
        _resume_state(scenario, resolve(scenario, params), xi, resume, "sgd")
    if resume is not None and resume.pde is not None:
        pde = resume.pde
    else:
        pde = run_pde(scenario, params, xi=xi, progress=progress).pde
    with_pde = None
    if on_checkpoint is not None:
        def with_pde(partial: RunResult):
            partial.pde = pde
            on_checkpoint(partial)

    sgd_run = run_sgd(scenario, params, xi=xi, progress=progress,
                      checkpoint_every_s=checkpoint_every_s, on_checkpoint=with_pde,
                      resume=resume)
    cfg = sgd_run.config
    # neuron dimension D: d (radial Gaussian model), d + 1 with the second layer
    dim = cfg["d"] + 1 if _is_multiindex(scenario) else cfg["d"]
    comparison = compare(pde, sgd_run.sgd, n_neurons=cfg["N"], eps=cfg["eps"], dim=dim)
    return RunResult(scenario=scenario, config=cfg, pde=pde, sgd=sgd_run.sgd,
                     comparison=comparison)
