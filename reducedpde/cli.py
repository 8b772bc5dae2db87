"""The ``reducedpde`` command line.

::

    reducedpde list [SCENARIO]                      scenarios, or one scenario's parameters
    reducedpde pde SCENARIO [-p k=v ...] [-o out.h5] [--config file.toml]
    reducedpde pde --resume out.h5                  continue an interrupted PDE run
    reducedpde sgd SCENARIO [-p k=v ...] [-o out.h5] [--seeds K] [--checkpoint-every S]
    reducedpde sgd --resume out.h5                  continue an interrupted run
    reducedpde validate SCENARIO [-p k=v ...] [-o results.h5] [--seeds K] [--plot risk.png]
    reducedpde validate --resume results.h5
    reducedpde plot results.h5 [-o fig.png] [--densities dens.png] [--fourier coef.png]
    reducedpde sweep SPEC.toml -o DIR [--workers K | --scheduler tcp://HOST:PORT] [-p k=v]
    reducedpde plot DIR --x N --y discrepancy [-o fig.png]   a sweep's summary.csv
    reducedpde info FILE.h5
    reducedpde export FILE.h5 [-o FILE.nc]          netCDF (labelled arrays; extra "xarray")
    reducedpde animate FILE.h5 [-o movie.gif|.mp4] [--frames K] [--fps F]

Bad input (unknown scenario or parameter, value out of range, unreadable file) prints one
line on stderr and exits with status 2; a solver failure exits with status 1; ``validate``
exits with status 1 when SGD and the prediction differ beyond the statistical verdict of
:mod:`reducedpde.compare` (docs/corrections.md), or when too few seeds (``K < 4``) make the
verdict inconclusive.

Long runs: ``pde`` (radial scenarios), ``sgd`` and ``validate`` with ``-o FILE`` write a
checkpoint into FILE every ``--checkpoint-every`` seconds (default 300) and when stopped by
Ctrl-C or SIGTERM (a second Ctrl-C aborts at once). Files are replaced atomically, so a
killed process leaves the previous complete file. ``--resume FILE`` continues the run bit
for bit.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tomllib
from pathlib import Path

from . import __version__

EXIT_FAILURE = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit status 2."""

    def error(self, message):
        raise UsageError(message)


class UsageError(ValueError):
    pass


def _collect_params(args) -> dict:
    from .params import parse_assignment

    params: dict = {}
    if getattr(args, "config", None):
        path = Path(args.config)
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ValueError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"config file {path} is not valid TOML: {exc}") from None
        table = data.get("parameters", data)
        if not isinstance(table, dict) or any(isinstance(v, dict) for v in table.values()):
            raise ValueError(
                f"config file {path} must hold flat key = value pairs "
                "(optionally under [parameters])"
            )
        params.update(table)
    for item in getattr(args, "param", None) or []:
        key, value = parse_assignment(item)
        params[key] = value
    if getattr(args, "seeds", None) is not None:
        params["seeds"] = args.seeds
    return params


def _cmd_list(args) -> int:
    from .scenarios import SCENARIOS, get_scenario, list_scenarios

    if args.scenario:
        scenario = get_scenario(args.scenario)
        print(f"{scenario.name}: {scenario.summary}")
        print(f"source: {scenario.source}")
        defaults = scenario.defaults()
        for name, param in scenario.parameters.items():
            print(f"  {name:<14} = {defaults[name]!s:<10} {param.doc}  [{param.describe_range()}]")
        return 0
    for name in list_scenarios():
        print(f"{name:<18} {SCENARIOS[name].summary}")
    return 0


def _cmd_pde(args) -> int:
    from .api import run_pde
    from .io import save
    from .models import get_model
    from .scenarios import get_scenario

    scenario, params, previous, output = _run_target(args)
    checkpoints = get_model(get_scenario(scenario).model).pde_checkpoints
    options = _checkpoint_options(args, output) if checkpoints else {}
    result = run_pde(scenario, params, progress=not args.quiet, resume=previous, **options)
    pde = result.pde
    _report_interrupt("pde", pde, output, "the output times completed so far")
    if "n_atoms" in pde.attrs:
        work = f"{pde.attrs['n_rhs']} velocity evaluations on {pde.attrs['n_atoms']} atoms"
    else:
        work = f"{pde.attrs['n_steps']} steps on {pde.attrs['n_cells']} cells"
    print(
        f"{scenario}: R(t={pde.t[-1]:g}) = {pde.risk[-1]:.6g}, "
        f"mean |w| = {pde.mean_norm[-1]:.6g}  ({work}, {pde.attrs['wall_time_s']:.2f} s)"
    )
    if "risk_corrected" in pde.extra:
        print(f"{scenario}: finite-N prediction ({pde.attrs['correction']}, "
              f"N={pde.attrs['correction_n_neurons']}) "
              f"R_corrected(t={pde.t[-1]:g}) = {pde.extra['risk_corrected'][-1]:.6g}")
    if "correction_step" in pde.extra:
        eps = pde.attrs["correction_step_eps"]
        print(f"{scenario}: of which the SGD step term eps*B = "
              f"{eps * pde.extra['correction_step'][-1]:.3g} (eps = {eps:g}, batch "
              f"{pde.attrs['correction_step_batch']}); gradient flow (eps -> 0): "
              f"{pde.extra['risk_corrected_flow'][-1]:.6g}; error estimate of the "
              f"correction {pde.attrs['correction_error_estimate']:.2g}")
    if "gibbs_gap" in pde.extra:
        from .mfld import describe_gap_rate

        print(describe_gap_rate(pde))
    if output:
        print(f"wrote {save(result, output)}")
    return 0


def _run_target(args):
    """``(scenario, params, previous run or None, output path)`` of ``sgd``/``validate``,
    taking the scenario and parameters of the file given with ``--resume``."""
    from .api import resume_parameters
    from .io import load

    params = _collect_params(args)
    if not args.resume:
        if not args.scenario:
            raise UsageError("a scenario is required (or --resume FILE.h5)")
        return args.scenario, params, None, args.output
    previous = load(args.resume)
    scenario, stored = resume_parameters(previous)
    if args.scenario and args.scenario != scenario:
        raise ValueError(f"--resume {args.resume} is a run of scenario {scenario!r}, "
                         f"not {args.scenario!r}")
    args.scenario = scenario
    return scenario, {**stored, **params}, previous, args.output or args.resume


def _checkpoint_options(args, output):
    """Keyword arguments of the API's checkpointing for the chosen output file."""
    from .io import save

    if not output:
        return {}
    return {"checkpoint_every_s": args.checkpoint_every,
            "on_checkpoint": lambda partial: save(partial, output)}


def _report_interrupt(command: str, part, output, what: str) -> None:
    if not part.attrs.get("interrupted"):
        return
    if part.checkpoint is not None and output:
        print(f"reducedpde: interrupted; {what} and the state to continue from are in "
              f"{output}; continue with: reducedpde {command} --resume {output}",
              file=sys.stderr)
    else:
        print(f"reducedpde: interrupted; keeping {what}", file=sys.stderr)


def _cmd_sgd(args) -> int:
    from .api import run_sgd
    from .io import save

    scenario, params, previous, output = _run_target(args)
    result = run_sgd(scenario, params, progress=not args.quiet, resume=previous,
                     **_checkpoint_options(args, output))
    sgd = result.sgd
    _report_interrupt("sgd", sgd, output, "the recording times completed so far")
    print(
        f"{scenario}: R(t={sgd.t[-1]:g}) = {sgd.risk[:, -1].mean():.6g} "
        f"(mean of {sgd.risk.shape[0]} runs), mean |w| = {sgd.mean_norm[:, -1].mean():.6g}  "
        f"({sgd.attrs.get('wall_time_s', float('nan')):.2f} s)"
    )
    if "free_energy_estimate" in sgd.extra:
        from .mfld import describe_particle_free_energy

        print(describe_particle_free_energy(sgd))
    if output:
        print(f"wrote {save(result, output)}")
    return 0


def _comparison_table(result) -> str:
    pde, sgd, cmp_ = result.pde, result.sgd, result.comparison
    m = cmp_.metrics
    rows = [
        ("final risk", f"{pde.risk[-1]:.6g}", f"{sgd.risk[:, -1].mean():.6g}"),
        ("final mean |w|", f"{pde.mean_norm[-1]:.6g}", f"{sgd.mean_norm[:, -1].mean():.6g}"),
    ]
    if "free_energy" in pde.extra and "free_energy_estimate" in sgd.extra:
        # the particles' value is an estimate, O(1/N) above the PDE's (docs/mfld.md §6)
        rows.append(("final free energy", f"{pde.extra['free_energy'][-1]:.6g}",
                     f"{sgd.extra['free_energy_estimate'][:, -1].mean():.6g}"))
    rows += [
        ("wall time (s)", f"{pde.attrs.get('wall_time_s', float('nan')):.2f}",
         f"{sgd.attrs.get('wall_time_s', float('nan')):.2f}"),
    ]
    particles = "flow" if sgd.attrs.get("dynamics") == "gradient-flow" else "SGD"
    lines = [f"{'':<26}{'PDE':>14}{particles:>14}"]
    lines += [f"{name:<26}{a:>14}{b:>14}" for name, a, b in rows]
    lines += [
        f"{'sup_t |R_sgd - R_pde|':<26}{m['sup_risk']:>14.4g}",
        f"{'sup_t |mean|w| gap|':<26}{m['sup_mean_norm']:>14.4g}",
        f"{'max_t W1(|w| law)':<26}{m['max_w1']:>14.4g}",
        f"{'tolerance':<26}{cmp_.tolerance:>14.4g}   "
        f"= {m['tolerance_constant']:g} sqrt(max(1/N, eps)) sqrt(D + log(N/eps)), "
        f"D = {m['D']:g}",
    ]
    lines += _verdict_lines(m, cmp_.passed)
    return "\n".join(lines)


def _verdict_lines(m: dict, passed: bool) -> list[str]:
    """The corrected prediction (when present) and the verdict rule of a comparison."""
    lines = []
    if "sup_risk_corrected" in m:
        lines += [f"{'final risk (corrected)':<26}{m['final_risk_corrected']:>14.6g}",
                  f"{'sup_t |R_sgd - R_corr|':<26}{m['sup_risk_corrected']:>14.4g}"]
    if "mmn18_passed" not in m:  # a comparison stored before the statistical verdict
        return [*lines, "PASS" if passed else "FAIL: discrepancy above tolerance"]
    lines.append(f"MMN18 bound (information): {'within' if m['mmn18_passed'] else 'above'}")
    if m.get("verdict") == "statistical":
        lines.append(
            f"verdict: |R_sgd - R_{'corr' if m['prediction'] == 'corrected' else 'pde'}| "
            f"<= z sqrt(SE^2 + err^2) + rel R at every t, z = {m['verdict_z']:.3g} "
            f"(Student t, K = {m['verdict_K']} seeds, alpha = {m['verdict_alpha']:g} "
            f"Bonferroni), rel = {m['verdict_rel']:g}; worst |gap|/allowed = "
            f"{m['verdict_max_score']:.3g} at t = {m['verdict_worst_t']:.3g}")
        lines.append("PASS" if passed else "FAIL: SGD and prediction differ beyond the "
                     "seed-to-seed standard error")
    elif str(m.get("verdict", "")).startswith("inconclusive"):
        lines.append(f"verdict: {m['verdict']}")
        lines.append("INCONCLUSIVE")
    else:
        lines.append(f"verdict: {m.get('verdict')}")
        lines.append("PASS" if passed else "FAIL: discrepancy above tolerance")
    return lines


def _cmd_validate(args) -> int:
    from .api import validate
    from .io import save

    scenario, params, previous, output = _run_target(args)
    result = validate(scenario, params, progress=not args.quiet, resume=previous,
                      **_checkpoint_options(args, output))
    cfg = result.config
    if "delta" in cfg:
        print(f"{scenario}: N={cfg['N']}, d={cfg['d']}, eps={cfg['eps']:g}, "
              f"kappa={cfg['kappa']:g}, delta={cfg['delta']:g}, seeds={cfg['seeds']}")
    elif "N" not in cfg:
        # models without an N (e.g. parity: M particles): the leading parameters of its table
        from .scenarios import get_scenario

        table = get_scenario(scenario).parameters
        print(f"{scenario}: " + ", ".join(f"{name}={cfg[name]}" for name in list(table)[:10]
                                          if name in cfg))
    else:
        print(f"{scenario}: N={cfg['N']}, d={cfg['d']}, k={cfg['k']}, "
              f"target={cfg['target']}, inputs={cfg['inputs']}, eps={cfg['eps']:g}, "
              f"batch={cfg['batch']}, seeds={cfg['seeds']}")
    _report_interrupt("validate", result.sgd, output, "the SGD recording times completed so far")
    print(_comparison_table(result))
    if output:
        print(f"wrote {save(result, output)}")
    if args.plot:
        from .plot import risk_curves, save_figure

        print(f"wrote {save_figure(risk_curves(result, log_risk=True), args.plot)}")
    return 0 if result.comparison.passed else EXIT_FAILURE


def _cmd_plot(args) -> int:
    from .io import load
    from .plot import densities, fourier_coefficients, risk_curves, save_figure

    if Path(args.file).is_dir():
        return _plot_sweep(args)
    if args.x or args.y:
        raise UsageError(f"{args.file} is not a sweep directory (--x/--y plot the "
                         "summary.csv of a sweep directory)")
    result = load(args.file)
    output = args.output or str(Path(args.file).with_suffix(".png"))
    print(f"wrote {save_figure(risk_curves(result, log_risk=True), output)}")
    if args.densities:
        print(f"wrote {save_figure(densities(result), args.densities)}")
    if args.fourier:
        print(f"wrote {save_figure(fourier_coefficients(result), args.fourier)}")
    return 0


def _plot_sweep(args) -> int:
    """``reducedpde plot DIR --x PARAM --y QUANTITY``: a sweep's summary.csv."""
    from .plot import save_figure
    from .sweep.plot import sweep_plot

    if not args.x:
        raise UsageError("plotting a sweep directory needs --x PARAMETER (and --y)")
    y = args.y or "discrepancy"
    output = args.output or str(Path(args.file) / f"{y}_vs_{args.x}.png")
    print(f"wrote {save_figure(sweep_plot(args.file, args.x, y), output)}")
    return 0


def _cmd_sweep(args) -> int:
    from .sweep import run_sweep

    overrides = dict(_collect_params(args))
    try:
        result = run_sweep(args.spec, args.output, scheduler=args.scheduler,
                           workers=args.workers, overrides=overrides or None,
                           progress=not args.quiet, connect_timeout=args.connect_timeout)
    except KeyboardInterrupt:
        print(f"reducedpde: sweep interrupted; finished tasks are kept in {args.output} "
              "(summary.csv lists the finished points); rerun the same command to continue",
              file=sys.stderr)
        return 130
    c = result.counts
    done = sum(row["status"] == "ok" for row in result.rows)
    print(f"{done} of {len(result.rows)} points done in {result.wall_time_s:.1f} s on "
          f"{result.workers} workers (tasks: {c['ran']} ran, {c['resumed']} resumed, "
          f"{c['skipped']} skipped, {c['failed']} failed)")
    print(f"wrote {result.summary_path}")
    if result.failures:
        for failure in result.failures:
            print(f"reducedpde: task {failure['key']} failed: {failure['error']}",
                  file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _cmd_info(args) -> int:
    from .io import info

    print(info(args.file))
    return 0


def _cmd_export(args) -> int:
    from .labelled import MissingDependencyError, open_dataset, to_netcdf

    output = args.output or str(Path(args.file).with_suffix(".nc"))
    try:
        print(f"wrote {to_netcdf(open_dataset(args.file), output)}")
    except MissingDependencyError as exc:
        raise ValueError(str(exc)) from None
    return 0


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text!r}")
    return value


def _cmd_animate(args) -> int:
    from .animation import animate
    from .display import load

    output = args.output or str(Path(args.file).with_suffix(".gif"))
    written = animate(load(args.file), output, frames=args.frames, fps=args.fps,
                      progress=not args.quiet)
    print(f"wrote {written}")
    return 0


def _save_partial(args, exc) -> None:
    """Keep the last good state of a failed run in the requested output file."""
    partial = getattr(exc, "partial", None)
    output = getattr(args, "output", None)
    if partial is None or not output or getattr(args, "command", None) not in ("pde", "sgd"):
        return
    from .io import save
    from .results import PDEResult, RunResult
    from .scenarios import resolve

    part = "pde" if isinstance(partial, PDEResult) else "sgd"
    result = RunResult(scenario=args.scenario,
                       config=dict(resolve(args.scenario, _collect_params(args))),
                       **{part: partial}, attrs={"failure": str(exc)})
    print(f"reducedpde: wrote the last good state to {save(result, output)}", file=sys.stderr)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (value >= 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(
            f"must be a number of seconds >= 0, got {text!r}"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reducedpde", description="Reduced mean-field PDEs and particle SGD.")
    parser.add_argument("--version", action="version", version=f"reducedpde {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p_list = sub.add_parser("list", help="list scenarios, or the parameters of one")
    p_list.add_argument("scenario", nargs="?")
    p_list.set_defaults(func=_cmd_list)

    def add_run_options(p, scenario_required=True):
        p.add_argument("scenario", nargs=None if scenario_required else "?",
                       help="scenario name (see `reducedpde list`)")
        p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                       help="override a parameter (repeatable)")
        p.add_argument("--config", metavar="FILE.toml", help="parameters from a TOML file")
        p.add_argument("-o", "--output", metavar="FILE.h5", help="write results to HDF5")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    def add_resume_options(p, seeds=True):
        if seeds:
            p.add_argument("--seeds", type=int, metavar="K", help="number of SGD runs")
        p.add_argument("--resume", metavar="FILE.h5",
                       help="continue the interrupted run stored in FILE.h5 (scenario and "
                            "parameters from the file; output to the same file unless -o)")
        p.add_argument("--checkpoint-every", type=_seconds, default=300.0, metavar="SECONDS",
                       help="wall time between checkpoints written to the output file "
                            "(default 300; Ctrl-C/SIGTERM always write one)")

    p_pde = sub.add_parser("pde", help="solve the reduced PDE of a scenario")
    add_run_options(p_pde, scenario_required=False)
    add_resume_options(p_pde, seeds=False)
    p_pde.set_defaults(func=_cmd_pde)

    p_sgd = sub.add_parser("sgd", help="run the particle SGD of a scenario")
    add_run_options(p_sgd, scenario_required=False)
    add_resume_options(p_sgd)
    p_sgd.set_defaults(func=_cmd_sgd)

    p_val = sub.add_parser("validate", help="PDE vs SGD on one scenario, with a verdict")
    add_run_options(p_val, scenario_required=False)
    add_resume_options(p_val)
    p_val.add_argument("--plot", metavar="FIG.png", help="write the risk curves")
    p_val.set_defaults(func=_cmd_validate)

    p_plot = sub.add_parser("plot", help="plot a result file")
    p_plot.add_argument("file", help="a result file, or a sweep directory (with --x, --y)")
    p_plot.add_argument("-o", "--output", metavar="FIG.png",
                        help="risk curves (default: FILE with .png)")
    p_plot.add_argument("--densities", metavar="FIG.png", help="also plot density snapshots")
    p_plot.add_argument("--fourier", metavar="FIG.png",
                        help="also plot Fourier coefficients over time (hypercube runs)")
    p_plot.add_argument("--x", metavar="PARAM", help="sweep directory: parameter on the x axis")
    p_plot.add_argument("--y", metavar="QUANTITY",
                        help="sweep directory: discrepancy (log-log, fitted slope; default), "
                             "final_risk, or another summary column")
    p_plot.set_defaults(func=_cmd_plot)

    p_sweep = sub.add_parser("sweep", help="a parameter sweep on Dask (local or a cluster)")
    p_sweep.add_argument("spec", metavar="SPEC.toml", help="sweep spec (scenario, grid, seeds)")
    p_sweep.add_argument("-o", "--output", metavar="DIR", required=True,
                         help="sweep directory (summary.csv, runs/); rerun to continue")
    p_sweep.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                         help="override a fixed parameter of every point (repeatable)")
    p_sweep.add_argument("--workers", type=_positive_int, metavar="K",
                         help="local worker processes (default: one per core)")
    p_sweep.add_argument("--scheduler", metavar="ADDRESS",
                         help="a running Dask scheduler, e.g. tcp://HOST:8786")
    p_sweep.add_argument("--connect-timeout", type=float, default=5.0, metavar="SECONDS",
                         help="wait for the scheduler and a worker (default 5)")
    p_sweep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p_sweep.set_defaults(func=_cmd_sweep)

    p_info = sub.add_parser("info", help="summarise a result file")
    p_info.add_argument("file")
    p_info.set_defaults(func=_cmd_info)

    p_export = sub.add_parser("export", help="write a result file as netCDF (xarray)")
    p_export.add_argument("file", help="result file (.h5)")
    p_export.add_argument("-o", "--output", metavar="FILE.nc",
                          help="netCDF output (default: FILE with .nc)")
    p_export.set_defaults(func=_cmd_export)

    p_anim = sub.add_parser("animate", help="animate density vs SGD histogram and the risk")
    p_anim.add_argument("file", help="result file (.h5)")
    p_anim.add_argument("-o", "--output", metavar="MOVIE.gif",
                        help=".gif (Pillow) or .mp4 (needs ffmpeg); default: FILE with .gif")
    p_anim.add_argument("--frames", type=_positive_int, metavar="K",
                        help="number of frames (default: one per snapshot)")
    p_anim.add_argument("--fps", type=_positive_float, default=6.0, metavar="F",
                        help="frames per second (default 6)")
    p_anim.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p_anim.set_defaults(func=_cmd_animate)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``reducedpde`` command; returns the exit status."""
    from .solvers.fv.radial import SolverError
    from .solvers.particles.summaries import SGDDivergenceError

    parser = build_parser()
    args = None
    previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    try:
        args = parser.parse_args(argv)
        return args.func(args)
    except (SolverError, SGDDivergenceError) as exc:
        print(f"reducedpde: {exc}", file=sys.stderr)
        _save_partial(args, exc)
        return EXIT_FAILURE
    except (ValueError, OSError) as exc:
        message = " ".join(str(exc).split())
        print(f"reducedpde: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("reducedpde: interrupted", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate_as_interrupt(signum, frame):
    """SIGTERM takes the same clean path as Ctrl-C: solvers return what they computed."""
    raise KeyboardInterrupt


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
