"""High-level entry points: scenario name + parameters in, :class:`RunResult` out.

Each entry point resolves the scenario once into a :class:`~reducedpde.config.RunConfig`,
builds the scenario's model once through the registry (:func:`reducedpde.models.build_model`)
and hands both down; nothing here depends on a particular model.
"""

from __future__ import annotations

from .checkpointing import Checkpointing
from .compare import compare
from .models import build_model
from .results import RunResult
from .scenarios import get_scenario, resolve

__all__ = [
    "parameters_of",
    "resume_parameters",
    "run_pde",
    "run_sgd",
    "validate",
]


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
    config = resolve(scenario, params)
    return _run_pde(config, build_model(config), xi=xi, initial_density=initial_density,
                    progress=progress, checkpoint_every_s=checkpoint_every_s,
                    on_checkpoint=on_checkpoint, resume=resume)


def _run_pde(config, model, *, xi, initial_density, progress, checkpoint_every_s=None,
             on_checkpoint=None, resume=None) -> RunResult:
    model.check_pde_options(xi=xi, initial_density=initial_density, resume=resume)
    stored = _stored_config(config, model, xi, initial_density)
    checkpointing = _checkpointing(config.scenario, stored, "pde", checkpoint_every_s,
                                   on_checkpoint, _resume_state(config, xi, resume, "pde"))
    times, snaps = model.output_times()
    pde = model.solve_pde(times, snaps, xi=xi, initial_density=initial_density,
                          progress=progress, checkpointing=checkpointing)
    return RunResult(scenario=config.scenario, config=stored, pde=pde)


def _stored_config(config, model, xi, initial_density=None) -> dict:
    """The ``config`` stored with a run: the parameters, the schedule and the initial law."""
    stored = dict(config)
    stored["xi"] = _describe_schedule(xi)
    stored["initial_law"] = model.initial_law(initial_density)
    return stored


def _describe_schedule(xi) -> str:
    """How a step-size schedule is recorded in a result's config."""
    return "constant 1" if xi is None else getattr(xi, "__name__", "user function")


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
    config = resolve(scenario, params)
    return _run_sgd(config, build_model(config), xi=xi, progress=progress,
                    keep_weights=keep_weights, checkpoint_every_s=checkpoint_every_s,
                    on_checkpoint=on_checkpoint, resume=resume)


def _run_sgd(config, model, *, xi, progress, keep_weights=False, checkpoint_every_s=None,
             on_checkpoint=None, resume=None) -> RunResult:
    stored = _stored_config(config, model, xi)
    checkpointing = _checkpointing(config.scenario, stored, "sgd", checkpoint_every_s,
                                   on_checkpoint, _resume_state(config, xi, resume, "sgd"))
    times, snaps = model.output_times()
    sgd = model.run_particles(times, snaps, xi=xi, progress=progress,
                              keep_weights=keep_weights, checkpointing=checkpointing)
    return RunResult(scenario=config.scenario, config=stored, sgd=sgd)


def resume_parameters(previous: RunResult) -> tuple[str, dict]:
    """``(scenario, params)`` of a stored run, to pass with ``resume=previous``."""
    return previous.scenario, parameters_of(previous.config, previous.scenario)


def _resume_state(config, xi, resume: RunResult | None, part: str):
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
    scenario = config.scenario
    if resume.scenario != scenario:
        raise ValueError(f"resume: the file is a run of scenario {resume.scenario!r}, "
                         f"not {scenario!r}")
    stored = parameters_of(resume.config, scenario)
    changed = sorted(key for key, value in stored.items() if config.get(key) != value)
    if changed:
        raise ValueError("resume: parameters differ from the stored run: "
                         + ", ".join(f"{k} = {config[k]!r} (stored {stored[k]!r})"
                                     for k in changed))
    if resume.config.get("xi", "constant 1") != _describe_schedule(xi):
        raise ValueError(f"resume: the stored run used the schedule "
                         f"{resume.config.get('xi')!r}; pass the same xi")
    return state


def _checkpointing(scenario: str, stored: dict, part: str, every_s, on_checkpoint, state):
    """The :class:`~reducedpde.checkpointing.Checkpointing` of a run's ``part`` (``None``
    without ``on_checkpoint`` and ``state``): each checkpoint reaches ``on_checkpoint`` as a
    :class:`RunResult` with the stored config and the partial result."""
    if on_checkpoint is None and state is None:
        return None
    def save(checkpoint_state, partial):
        partial.checkpoint = checkpoint_state
        on_checkpoint(RunResult(scenario=scenario, config=stored,
                                **{part: partial}))

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
    config = resolve(scenario, params)
    model = build_model(config)
    # fail on SGD-only constraints, and check a stored run, before solving the PDE
    model.check_particle_options(purpose="validate", xi=xi)
    if resume is not None:
        _resume_state(config, xi, resume, "sgd")
    if resume is not None and resume.pde is not None:
        pde = resume.pde
    else:
        pde = _run_pde(config, model, xi=xi, initial_density=None, progress=progress).pde
    with_pde = None
    if on_checkpoint is not None:
        def with_pde(partial: RunResult):
            partial.pde = pde
            on_checkpoint(partial)

    sgd_run = _run_sgd(config, model, xi=xi, progress=progress,
                       checkpoint_every_s=checkpoint_every_s, on_checkpoint=with_pde,
                       resume=resume)
    n_neurons, eps = model.comparison_scale()
    comparison = compare(pde, sgd_run.sgd, n_neurons=n_neurons, eps=eps,
                         dim=model.neuron_dimension)
    return RunResult(scenario=config.scenario, config=sgd_run.config, pde=pde,
                     sgd=sgd_run.sgd, comparison=comparison)
