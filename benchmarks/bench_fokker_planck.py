"""Linear radial Fokker–Planck benchmark: reducedpde against py-pde and FiPy at equal accuracy.

The problem (see :mod:`benchmarks.fp_problem`) is solved to ``t = 1`` and ``t = 20`` by

* reducedpde, ESDIRK4 (:func:`reducedpde.solvers.fv.steppers.integrate_drift_diffusion_esdirk`),
  TR-BDF2 (:func:`~reducedpde.solvers.fv.steppers.integrate_drift_diffusion_trbdf2`) and
  implicit Euler (:func:`~reducedpde.solvers.fv.steppers.integrate_drift_diffusion`): eq. (1) of
  :mod:`reducedpde.solvers.fv.steppers` with ``μ = 1``, ``b = V``, no interaction (rank 0),
  ``β = 1/D`` and ``S = (d − 1) ln r``; Scharfetter–Gummel fluxes; accuracy knob
  ``step_tol``;
* py-pde: expression ``PDE`` on a ``CartesianGrid``, ``D·laplace(c) + d_dx(F·c)`` with
  ``F = V' − (d − 1)D/r`` (central differences), no-flux conditions on the diffusive
  (``∂_r c = 0``) and the advective (``F c = 0``) flux, ``ScipySolver`` with LSODA and a
  banded Jacobian (``lband = uband = 1``); accuracy knob ``rtol`` (``atol = rtol``);
* FiPy: ``TransientTerm() == DiffusionTerm(D) + ExponentialConvectionTerm(D ∇U)`` (the same
  Scharfetter–Gummel scheme), backward Euler (its only time stepper) with
  ``LinearLUSolver(tolerance=1e-12)``, steps chosen by the controller of reducedpde's
  implicit Euler (L1 change per step ≈ ``step_tol``). Same scheme and same steps: its
  masses equal reducedpde's implicit Euler ones to round-off (checked in every run), so
  its error at every ``(M, step_tol)`` is known from the compiled run and only its time
  has to be measured.

For every tool, target accuracy and final time the cheapest configuration (grid size from a
ladder with ratio 2^{1/4}, accuracy knob from a half-decade ladder) whose L1 error against a
fine-grid reference is below the target is found by a sweep; the wall time excludes
compilation, which is reported separately.

Run: ``python -m benchmarks --only pde`` (or ``python -m benchmarks.bench_fokker_planck``;
``--skip-slow`` leaves out FiPy and implicit Euler, which take most of the ten minutes,
``--json PATH`` writes the result).
"""

from __future__ import annotations

if __package__ in (None, ""):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"
    import benchmarks  # noqa: F401  (one thread everywhere, before NumPy and Numba load)

import math
import time
import warnings
from pathlib import Path

import numpy as np

from reducedpde.solvers.fv import steppers

from . import common
from . import fp_problem as P

TIMES = (1.0, 20.0)
TARGETS = (1e-3, 1e-4)
M_LADDER = tuple(round(100 * 2 ** (k / 4)) for k in range(21))  # 100 … 3200
EXTRA_RUNGS = 2  # grid sizes tried above the first one that reaches a target
# two tighter knobs in a row that each improve the error by less than 10%: spatial error
# (a single one can be a pause of a high-order step controller at loose tolerances)
PLATEAU = 0.9


def _half_decades(loose, tight):
    out, value = [], loose
    while value >= tight * 0.99:
        out.append(float(f"{value:.1g}"))
        value /= math.sqrt(10.0)
    return out


# ----------------------------------------------------------------------------------------
# solvers: each has setup(M) (untimed) and run(M, knob, T) -> masses (timed)
# ----------------------------------------------------------------------------------------


class ReducedPDE:
    """The package's Numba steppers on the rank-0 form of eq. (1)."""

    def __init__(self, stepper, name, knobs, fixed=False):
        self.stepper = stepper
        self.name = name
        self.knobs = knobs
        self.fixed = fixed  # knob = fixed Δt instead of step_tol
        self.knob_name = "Δt" if fixed else "step_tol"
        self._data = {}
        self.last_steps = None

    def data(self, M):
        if M not in self._data:
            e = P.edges(M)
            c = 0.5 * (e[1:] + e[:-1])
            self._data[M] = (
                np.diff(e),
                c,
                np.zeros((0, M)),
                np.zeros(0),
                P.potential(c),
                (P.DIM - 1) * np.log(c),
                P.initial_masses(M),
            )
        return self._data[M]

    def prepare(self, M):
        return self.data(M)[-1].copy()

    def run(self, M, knob, T, masses):
        h, c, feat, w, base, ent, _ = self.data(M)
        dt, tol, dt_max = (knob, math.inf, knob) if self.fixed else (1e-6, knob, math.inf)
        _, steps, status, _ = self.stepper(
            masses, h, c, feat, w, base, ent, 1.0 / P.D, 1.0, 0.0, T, dt, tol, dt_max,
            100_000_000, 2.0,
        )
        if status != steppers.STATUS_OK:
            raise RuntimeError(f"{self.name}: {steppers.STATUS_MESSAGES[status]}")
        self.last_steps = steps
        return masses

    def compile_time(self):
        """First call on a small grid minus a warm call (Numba compile or cache load)."""
        start = time.perf_counter()
        self.run(50, 1e-3, 0.05, self.prepare(50))
        first = time.perf_counter() - start
        warm, _ = common.best_time(lambda m: self.run(50, 1e-3, 0.05, m), 3,
                                   setup=lambda: self.prepare(50))
        return max(first - warm, 0.0)


class PyPDE:
    """py-pde, expression PDE, ScipySolver (LSODA, banded Jacobian)."""

    name = "py-pde"
    knob_name = "rtol"

    def __init__(self, knobs):
        import pde  # noqa: F401

        self.knobs = knobs
        self._eqs = {}
        self.compile_times = {}
        self.last_steps = None

    def _equation(self, M):
        import pde

        if M not in self._eqs:
            grid = pde.CartesianGrid([[0.0, P.R_MAX]], [M])
            drift = f"(x - 1.5*sin(3*x) - {(P.DIM - 1) * P.D!r}/x)"  # V' − (d − 1)D/r
            eq = pde.PDE(
                {"c": f"{P.D!r}*laplace(c) + d_dx({drift}*c)"},
                bc_ops={"c:laplace": {"derivative": 0}, "c:d_dx": {"value": 0}},
            )
            self._eqs[M] = (grid, eq, P.initial_masses(M) * M / P.R_MAX)
            # the first solve compiles the right-hand side for this grid
            start = time.perf_counter()
            self._solve(M, 1e-3, 1e-3, self.prepare(M))
            first = time.perf_counter() - start
            warm, _ = common.best_time(lambda s: self._solve(M, 1e-3, 1e-3, s), 2,
                                       setup=lambda: self.prepare(M))
            self.compile_times[M] = max(first - warm, 0.0)
        return self._eqs[M]

    def prepare(self, M):
        import pde

        grid, _, rho0 = self._equation(M)  # registers M before its first solve
        return pde.ScalarField(grid, rho0.copy())

    def _solve(self, M, knob, T, state):
        _, eq, _ = self._eqs[M]
        out = eq.solve(state, t_range=T, solver="scipy", method="LSODA", lband=1, uband=1,
                       rtol=knob, atol=knob, tracker=None)
        self.last_steps = eq.diagnostics.get("solver", {}).get("steps")
        return out

    def run(self, M, knob, T, state):
        return self._solve(M, knob, T, state).data * (P.R_MAX / M)

    def compile_time(self):
        values = list(self.compile_times.values())
        return float(np.median(values)) if values else None


class FiPy:
    """FiPy, exponential (Scharfetter–Gummel) convection + diffusion, backward Euler."""

    name = "FiPy"
    knob_name = "step_tol"

    def __init__(self):
        import fipy  # noqa: F401

        self._terms = {}
        self.last_steps = None

    def _setup(self, M):
        if M not in self._terms:
            from fipy import (
                CellVariable,
                DiffusionTerm,
                ExponentialConvectionTerm,
                Grid1D,
                TransientTerm,
            )
            from fipy.solvers.scipy import LinearLUSolver

            mesh = Grid1D(nx=M, dx=P.R_MAX / M)
            r = np.asarray(mesh.cellCenters[0])
            rho = CellVariable(mesh=mesh, value=P.initial_masses(M) * M / P.R_MAX)
            u_eff = CellVariable(mesh=mesh, value=P.potential(r) / P.D - (P.DIM - 1) * np.log(r))
            eq = TransientTerm() == DiffusionTerm(coeff=P.D) + ExponentialConvectionTerm(
                coeff=P.D * u_eff.faceGrad
            )
            self._terms[M] = (rho, eq, LinearLUSolver(tolerance=1e-12))
        return self._terms[M]

    def prepare(self, M):
        rho, _, _ = self._setup(M)
        rho.setValue(P.initial_masses(M) * M / P.R_MAX)
        return rho

    def run(self, M, knob, T, rho, max_steps=None, fixed=False):
        """FiPy's backward Euler with fixed steps ``Δt = knob`` (``fixed``) or steps from
        the controller of ``integrate_drift_diffusion`` (``step_tol = knob``)."""
        _, eq, solver = self._setup(M)
        width = P.R_MAX / M
        t, dt, steps = 0.0, 1e-6, 0
        if fixed:
            while t < T and (max_steps is None or steps < max_steps):
                step = min(knob, T - t)
                eq.solve(var=rho, dt=step, solver=solver)
                t = t + step if step < T - t else T
                steps += 1
            self.last_steps = steps
            return np.array(rho.value) * width
        while t < T:
            if max_steps is not None and steps >= max_steps:
                break
            old = rho.value.copy()
            while True:
                step = min(dt, T - t)
                eq.solve(var=rho, dt=step, solver=solver)
                change = float(np.abs(rho.value - old).sum()) * width
                if change <= 2.0 * knob or step <= 1e-14:
                    break
                rho.setValue(old)
                dt = 0.5 * step * knob / change
            clipped = step < dt
            t = t + step if step < T - t else T
            steps += 1
            if not clipped:
                dt = min(2.0 * step, step * knob / change) if change > 0.0 else 2.0 * step
        self.last_steps = steps
        return np.array(rho.value) * width

    def compile_time(self):
        start = time.perf_counter()
        self.run(50, 1e-3, 0.05, self.prepare(50))
        first = time.perf_counter() - start
        warm, _ = common.best_time(lambda r: self.run(50, 1e-3, 0.05, r), 2,
                                   setup=lambda: self.prepare(50))
        return max(first - warm, 0.0)


# ----------------------------------------------------------------------------------------
# reference, sweeps
# ----------------------------------------------------------------------------------------


def compute_reference(n_cells, tol, convergence):
    """Fine-grid TR-BDF2 solution at ``t = 1`` and ``t = 20`` and its convergence table.

    ``convergence``: ``(M, tol)`` pairs solved as well and compared with the reference.
    """
    solver = ReducedPDE(steppers.integrate_drift_diffusion_trbdf2, "reference", ())

    def solve(M, step_tol):
        h, c, feat, w, base, ent, m0 = solver.data(M)
        m = m0.copy()
        out, wall = {}, 0.0
        for t0, t1 in ((0.0, TIMES[0]), (TIMES[0], TIMES[1])):
            start = time.perf_counter()
            _, _, status, _ = steppers.integrate_drift_diffusion_trbdf2(
                m, h, c, feat, w, base, ent, 1.0 / P.D, 1.0, t0, t1, 1e-7, step_tol,
                math.inf, 100_000_000, 2.0,
            )
            wall += time.perf_counter() - start
            assert status == steppers.STATUS_OK
            out[t1] = m.copy()
        solver._data.clear()
        return out, wall

    ref, wall = solve(n_cells, tol)
    refs = {T: P.Reference(ref[T]) for T in TIMES}
    rows = []
    for M, step_tol in convergence:
        sol, w = solve(M, step_tol)
        rows.append({
            "n_cells": M,
            "step_tol": step_tol,
            "wall_s": w,
            **{f"l1_vs_reference_t{T:g}": refs[T].error(P.Reference(sol[T]).on(1000))
               if M != n_cells else float(np.abs(sol[T] - ref[T]).sum()) for T in TIMES},
        })
    fine = refs[TIMES[1]]
    steady = P.steady_masses(n_cells)
    e = P.edges(n_cells)
    c = 0.5 * (e[1:] + e[:-1])
    log_gibbs = P._log_steady(c)
    gibbs = np.exp(log_gibbs - log_gibbs.max())
    gibbs /= gibbs.sum()
    info = {
        "n_cells": n_cells,
        "step_tol": tol,
        "wall_s": wall,
        "convergence": rows,
        "t20_vs_steady_cell_masses": float(np.abs(fine.masses - steady).sum()),
        "t20_vs_discrete_gibbs": float(np.abs(fine.masses - gibbs).sum()),
    }
    return refs, info


class Sweep:
    """Runs ``(M, knob, T)`` once (timed, cached) and finds the cheapest accurate one."""

    def __init__(self, solver, refs, cap_s, repeats=3, extra_rungs=EXTRA_RUNGS):
        self.solver = solver
        self.extra_rungs = extra_rungs
        self.refs = refs
        self.cap_s = cap_s
        self.repeats = repeats
        self.cache = {}
        self.first_ok = {}  # T -> ladder index of the smallest M that reached a target

    def measure(self, M, knob, T):
        key = (M, knob, T)
        if key not in self.cache:
            s = self.solver
            masses = s.run(M, knob, T, s.prepare(M))
            steps = s.last_steps
            first_err = self.refs[T].error(masses)
            wall, _ = common.best_time(lambda x: s.run(M, knob, T, x), self.repeats,
                                       budget=0.5, setup=lambda: s.prepare(M))
            self.cache[key] = {"n_cells": M, "knob": knob, "t": T, "wall_s": wall,
                               "error": first_err, "steps": steps, "masses": masses}
        return self.cache[key]

    def best(self, T, target, ladder):
        candidates, first_ok = [], None
        start = self.first_ok.get(T, 0)  # targets come loosest first
        for i, M in enumerate(ladder):
            if i < start:
                continue
            if first_ok is not None and i > first_ok + self.extra_rungs:
                break
            previous, stalls = math.inf, 0
            for knob in self.solver.knobs:
                run = self.measure(M, knob, T)
                if run["error"] <= target:
                    candidates.append(run)
                    first_ok = i if first_ok is None else first_ok
                    break
                if run["wall_s"] > self.cap_s:
                    break
                stalls = stalls + 1 if run["error"] > PLATEAU * previous else 0
                if stalls == 2:
                    break
                previous = run["error"]
        if not candidates:
            return None
        self.first_ok[T] = first_ok
        return min(candidates, key=lambda r: r["wall_s"])


def _public(run):
    return None if run is None else {k: v for k, v in run.items() if k != "masses"}


def fipy_from_euler(fipy, euler_sweeps, T, target, cap_s, per_step_cache):
    """FiPy's cheapest configuration: the implicit-Euler runs (identical masses) that reach
    ``target``, costed with FiPy's measured time per step; the best one is then run."""
    ok = [
        {**r, "fixed": sweep.solver.fixed, "knob_name": sweep.solver.knob_name}
        for sweep in euler_sweeps
        for (_, _, t), r in sweep.cache.items()
        if t == T and r["error"] <= target
    ]
    if not ok:
        return None

    def per_step(M):
        if M not in per_step_cache:
            n = 30
            wall, _ = common.best_time(lambda r: fipy.run(M, 1e-2, 1e6, r, max_steps=n), 2,
                                       setup=lambda: fipy.prepare(M))
            per_step_cache[M] = wall / n
        return per_step_cache[M]

    for r in ok:
        r["fipy_predicted_s"] = r["steps"] * per_step(r["n_cells"])
    choice = min(ok, key=lambda r: r["fipy_predicted_s"])
    M, knob, fixed = choice["n_cells"], choice["knob"], choice["fixed"]
    out = {"n_cells": M, "knob": knob, "knob_name": choice["knob_name"], "t": T,
           "steps": choice["steps"], "predicted_s": choice["fipy_predicted_s"]}
    if choice["fipy_predicted_s"] <= cap_s:
        rho = fipy.prepare(M)
        start = time.perf_counter()
        masses = fipy.run(M, knob, T, rho, fixed=fixed)
        out["wall_s"] = time.perf_counter() - start
        out["measured"] = True
        out["steps"] = fipy.last_steps
        out["error"] = euler_sweeps[0].refs[T].error(masses)
        out["max_diff_vs_reducedpde_euler"] = float(np.abs(masses - choice["masses"]).max())
        out["masses"] = masses
    else:
        # identical step sequence: time = steps × measured time per step (at this M)
        n = 200
        rho = fipy.prepare(M)
        start = time.perf_counter()
        fipy.run(M, 1e-2, 1e6, rho, max_steps=n)
        per = (time.perf_counter() - start) / n
        out["wall_s"] = choice["steps"] * per
        out["measured"] = False
        out["error"] = choice["error"]
        out["masses"] = choice["masses"]
    return out


def check_fipy_matches_euler(fipy, M=200, T=0.2, knob=3e-3):
    """Same scheme, same controller: FiPy's masses equal the compiled implicit Euler's."""
    euler = ReducedPDE(steppers.integrate_drift_diffusion, "", ())
    a = euler.run(M, knob, T, euler.prepare(M))
    b = fipy.run(M, knob, T, fipy.prepare(M))
    return {"n_cells": M, "t": T, "step_tol": knob, "steps": euler.last_steps,
            "max_abs_diff": float(np.abs(a - b).max())}


def run(quick=False, log=print, skip_slow=False):
    """Run the benchmark; returns a JSON-serialisable dict.

    ``skip_slow``: leave out FiPy and reducedpde's implicit Euler (minutes of sweeps).
    """
    warnings.filterwarnings("ignore")
    targets = TARGETS[:1] if quick else TARGETS
    ladder = (283, 400, 566) if quick else M_LADDER
    if quick:
        ref_cells, ref_tol = 4000, 1e-9
        convergence = ((1000, 1e-9), (2000, 1e-9), (4000, 1e-10))
        cap_s, fipy_cap = 5.0, 10.0
    else:
        ref_cells, ref_tol = 32000, 1e-10
        convergence = ((8000, 1e-10), (16000, 1e-10), (32000, 1e-11))
        cap_s, fipy_cap = 30.0, 120.0
    result = {"machine": common.machine(), "quick": quick, "targets": list(targets),
              "times": list(TIMES), "grid_ladder": list(ladder)}
    log(f"reference: {ref_cells} cells, TR-BDF2 step_tol {ref_tol:g} (+ convergence runs)")
    refs, result["reference"] = compute_reference(ref_cells, ref_tol, convergence)

    tools = {
        "reducedpde ESDIRK4": ReducedPDE(steppers.integrate_drift_diffusion_esdirk,
                                         "reducedpde ESDIRK4", _half_decades(1.0, 1e-9)),
        "reducedpde TR-BDF2": ReducedPDE(steppers.integrate_drift_diffusion_trbdf2,
                                         "reducedpde TR-BDF2", _half_decades(1.0, 1e-9)),
    }
    skipped = {}
    if skip_slow:
        skipped["reducedpde implicit Euler"] = skipped["FiPy"] = "left out (--skip-slow)"
    else:
        tools["reducedpde implicit Euler"] = ReducedPDE(
            steppers.integrate_drift_diffusion, "reducedpde implicit Euler",
            _half_decades(1.0, 1e-6))
        tools["reducedpde implicit Euler, fixed Δt"] = ReducedPDE(
            steppers.integrate_drift_diffusion, "reducedpde implicit Euler, fixed Δt",
            _half_decades(1.0, 1e-6), fixed=True,
        )
    try:
        tools["py-pde"] = PyPDE(_half_decades(1e-1, 1e-9))
    except ImportError as exc:
        skipped["py-pde"] = f"not installed ({exc.name})"
    fipy = None
    if not skip_slow:
        try:
            fipy = FiPy()
        except ImportError as exc:
            skipped["FiPy"] = f"not installed ({exc.name})"

    rows, compile_times = [], {}
    sweeps = {}
    for name, solver in tools.items():
        if not isinstance(solver, PyPDE):
            compile_times[name] = solver.compile_time()
        sweep = sweeps[name] = Sweep(solver, refs, cap_s, extra_rungs=0 if quick else EXTRA_RUNGS)
        for T in TIMES:
            for target in targets:
                log(f"  {name}: t = {T:g}, L1 error ≤ {target:g}")
                best = sweep.best(T, target, ladder)
                rows.append({"tool": name, "t": T, "target": target,
                             "knob_name": solver.knob_name, **(_public(best) or {})})
                if best is not None:
                    rows[-1]["steady_l1"] = _steady_l1(best["masses"]) if T == TIMES[1] else None
        if isinstance(solver, PyPDE):
            compile_times[name] = solver.compile_time()
            result["pypde_compile_times_s"] = {str(k): v for k, v in solver.compile_times.items()}
    if fipy is not None:
        compile_times["FiPy"] = fipy.compile_time()
        result["fipy_check"] = check_fipy_matches_euler(fipy)
        per_step_cache = {}
        for T in TIMES:
            for target in targets:
                log(f"  FiPy: t = {T:g}, L1 error ≤ {target:g}")
                euler = [sweeps["reducedpde implicit Euler"],
                         sweeps["reducedpde implicit Euler, fixed Δt"]]
                best = fipy_from_euler(fipy, euler, T, target, fipy_cap, per_step_cache)
                row = {"tool": "FiPy", "t": T, "target": target}
                if best is not None:
                    row.update({k: v for k, v in best.items() if k != "masses"})
                    row["steady_l1"] = _steady_l1(best["masses"]) if T == TIMES[1] else None
                rows.append(row)
        result["fipy_time_per_step_s"] = {str(k): v for k, v in per_step_cache.items()}
    for key, tool in (("ratio_to_trbdf2", "reducedpde TR-BDF2"),
                      ("ratio_to_esdirk", "reducedpde ESDIRK4")):
        base = {(r["t"], r["target"]): r.get("wall_s") for r in rows if r["tool"] == tool}
        for r in rows:
            ref_time = base.get((r["t"], r["target"]))
            if r.get("wall_s") and ref_time:
                r[key] = r["wall_s"] / ref_time
    result["rows"] = rows
    result["compile_s"] = compile_times
    result["skipped"] = skipped
    result["all_runs"] = {
        name: [_public(r) for r in sw.cache.values()] for name, sw in sweeps.items()
    }
    return result


def _steady_l1(masses):
    return float(np.abs(masses - P.steady_masses(masses.size)).sum())


def markdown(result) -> str:
    """Markdown section for :mod:`benchmarks.report`."""
    f = common.fmt_time
    lines = [
        "## Linear radial Fokker–Planck: reducedpde vs py-pde and FiPy",
        "",
        "Problem: `benchmarks/fp_problem.py` (V = r²/2 + cos(3r)/2, D = 0.05, d = 10, "
        "0 < r < 4, no flux at both ends). Wall time to reach an L1 error of the cell masses "
        "below the target at t, compilation excluded; for every tool the cheapest "
        "configuration found by a sweep over the number of cells M (ratio 2^(1/4)) and its "
        "accuracy knob (half decades). Ratios = time / time of reducedpde ESDIRK4 and of "
        "reducedpde TR-BDF2.",
        "",
        "Solvers: **reducedpde ESDIRK4** = `steppers.integrate_drift_diffusion_esdirk` "
        "(Scharfetter–Gummel, L-stable ESDIRK4(3)6L[2]SA of Kennedy & Carpenter, embedded "
        "error estimate, control `step_tol`); "
        "**reducedpde TR-BDF2** = `steppers.integrate_drift_diffusion_trbdf2` "
        "(Scharfetter–Gummel, L-stable TR-BDF2, local-error control `step_tol`); "
        "**reducedpde implicit Euler** = `steppers.integrate_drift_diffusion` (same fluxes, "
        "backward Euler, L1-change control `step_tol`, or fixed Δt); **py-pde** = expression "
        "`PDE` `D·laplace(c) + d_dx(F·c)` on a `CartesianGrid` (central differences, no-flux "
        "conditions on both fluxes) with `ScipySolver` LSODA and a banded Jacobian "
        "(lband = uband = 1), `rtol` = `atol` (steps column: right-hand-side evaluations); "
        "**FiPy** = `DiffusionTerm(D) + ExponentialConvectionTerm(D∇U)` (Scharfetter–Gummel), "
        "backward Euler with `LinearLUSolver(tolerance=1e-12)`, steps fixed or from the "
        "implicit-Euler controller, whichever is cheaper. FiPy computes the same masses as "
        "reducedpde's implicit Euler (checked below), so its errors are known from those "
        "runs; `≈`: FiPy's time = steps × its measured time per step, where running it "
        "would take too long.",
        "",
        "| tool | t | target | M | knob | steps | time | ÷ ESDIRK4 | ÷ TR-BDF2 | error "
        "| L1 vs ∫ρ∞ |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        if "wall_s" not in r:
            lines.append(f"| {r['tool']} | {r['t']:g} | {r['target']:g} | – | not reached "
                         f"| | | | | | |")
            continue
        approx = "" if r.get("measured", True) else "≈ "
        steady = "" if r.get("steady_l1") is None else f"{r['steady_l1']:.1e}"
        lines.append(
            f"| {r['tool']} | {r['t']:g} | {r['target']:g} | {r['n_cells']} | "
            f"{r.get('knob_name', '')} {r['knob']:g} | {r.get('steps') or '–'} | "
            f"{approx}{f(r['wall_s'])} | {common.fmt_ratio(r.get('ratio_to_esdirk'))} | "
            f"{common.fmt_ratio(r.get('ratio_to_trbdf2'))} | "
            f"{r['error']:.2e} | {steady} |"
        )
    for name, why in result.get("skipped", {}).items():
        lines.append(f"| {name} | skipped: {why} | | | | | | | | | |")
    lines += ["", "Compilation / first-call overhead (excluded above): " + ", ".join(
        f"{k} {f(v)}" for k, v in result["compile_s"].items() if v is not None
    ) + (" (py-pde: median per new grid)" if "py-pde" in result["compile_s"] else "") + "."]
    ref = result["reference"]
    lines += [
        "",
        f"Reference: TR-BDF2 on {ref['n_cells']} cells, step_tol {ref['step_tol']:g} "
        f"({f(ref['wall_s'])}). Convergence (L1 distance to the reference; coarser runs "
        "compared on 1000 cells):",
        "",
        "| cells | step_tol | t = 1 | t = 20 |",
        "|---|---|---|---|",
    ]
    for c in ref["convergence"]:
        lines.append(f"| {c['n_cells']} | {c['step_tol']:g} | {c['l1_vs_reference_t1']:.1e} "
                     f"| {c['l1_vs_reference_t20']:.1e} |")
    lines += [
        "",
        f"At t = 20 the reference is {ref['t20_vs_discrete_gibbs']:.1e} from the discrete "
        f"Gibbs state (point values of ρ∞ at the centres) and "
        f"{ref['t20_vs_steady_cell_masses']:.1e} from the exact cell masses ∫ρ∞: the "
        "solution has reached equilibrium, and what remains is the O(h²) difference "
        "between centre values and cell averages.",
    ]
    if "fipy_check" in result:
        c = result["fipy_check"]
        lines += ["", f"FiPy vs reducedpde implicit Euler, same controller ({c['n_cells']} "
                  f"cells, t = {c['t']:g}, {c['steps']} steps): max |Δm| = "
                  f"{c['max_abs_diff']:.1e}."]
    return "\n".join(lines)


def main(argv=None):
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-slow", action="store_true",
                        help="leave out FiPy and reducedpde's implicit Euler")
    parser.add_argument("--json", default=None, help="write the result to this file")
    args = parser.parse_args(argv)
    result = run(args.quick, skip_slow=args.skip_slow)
    print(markdown(result))
    print(json.dumps(result["compile_s"]))
    if args.json:
        common.write_json({"pde": result}, Path(args.json))


if __name__ == "__main__":
    main()
