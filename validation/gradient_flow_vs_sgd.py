"""The finite-N gradient flow against SGD on the gaussians-quick physics (and its cost).

Runs (about three minutes on one core):

* the flow of ``N = 200`` neurons in ``d = 40`` (``Δ = 0.5``, ``κ = 0.4``) to ``t = 5``,
  four seeds, and SGD from the same initial neurons at ``ε = 1e-5`` and ``2.5e-6``: per
  seed ``‖W_SGD − W_flow‖_F/√N`` and ``|R_SGD − R_flow|`` at ``t = 1`` and ``t = 5``, and
  the mean over the seeds of ``R(t = 1)`` and ``R(t = 5)``;
* the wall time of the flow for that run and for ``N = 800``, ``d = 320`` (``κ = 0.1``,
  the MMN18 Fig. 4 setting) to ``t = 1``, one seed.

Writes ``validation/results/gradient_flow_vs_sgd.json`` and prints a summary.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from reducedpde.atomic import atomic_path
from reducedpde.models.gaussians.gradient_flow import simulate_gaussians_flow
from reducedpde.models.gaussians.particles import simulate_gaussians

OUT = Path(__file__).resolve().parent / "results" / "gradient_flow_vs_sgd.json"
QUICK = dict(N=200, d=40, delta=0.5, kappa=0.4, progress=False)
SEEDS = (0, 1, 2, 3)
TIMES = [0.0, 0.1, 0.5, 1.0, 2.0, 5.0]
EPS_VALUES = (1e-5, 2.5e-6)


def _at(result, t):
    return int(np.argmin(np.abs(result.t - t)))


def _weights_at(simulate, t, **kw):
    """Risk series and the weights at time ``t`` (a run stopping at ``t``)."""
    times = [s for s in TIMES if s <= t]
    result = simulate(**kw, t_max=t, record_times=times, keep_weights=True)
    return result, result.extra["final_weights"]


def quick_comparison() -> dict:
    out = {"seeds": list(SEEDS), "eps": list(EPS_VALUES), "t": [1.0, 5.0]}
    flow_runs = {}
    for t in (1.0, 5.0):
        start = time.perf_counter()
        flow_runs[t] = _weights_at(simulate_gaussians_flow, t, **QUICK, eps=1e-5,
                                   seeds=SEEDS)
        out[f"flow_wall_s_t{t:g}_4_seeds"] = time.perf_counter() - start
    flow_risk = {t: flow_runs[t][0].risk[:, _at(flow_runs[t][0], t)] for t in (1.0, 5.0)}
    out["flow_mean_risk"] = {f"{t:g}": float(flow_risk[t].mean()) for t in (1.0, 5.0)}
    out["flow_steps_to_t5"] = flow_runs[5.0][0].extra["flow_accepted_steps"][:, -1].tolist()
    out["sgd"] = {}
    for eps in EPS_VALUES:
        row = {}
        for t in (1.0, 5.0):
            start = time.perf_counter()
            sgd, W = _weights_at(simulate_gaussians, t, **QUICK, eps=eps, seeds=SEEDS)
            risk = sgd.risk[:, _at(sgd, t)]
            gap = np.linalg.norm(W - flow_runs[t][1], axis=(1, 2)) / np.sqrt(QUICK["N"])
            row[f"{t:g}"] = {
                "weight_gap_per_seed": gap.tolist(),
                "risk_gap_per_seed": (risk - flow_risk[t]).tolist(),
                "mean_risk": float(risk.mean()),
                "mean_risk_stderr": float(risk.std(ddof=1) / np.sqrt(risk.size)),
                "wall_s": time.perf_counter() - start,
            }
        out["sgd"][f"{eps:g}"] = row
    return out


def fig4_cost() -> dict:
    start = time.perf_counter()
    result = simulate_gaussians_flow(N=800, d=320, delta=0.5, kappa=0.1, eps=1.25e-6,
                                     t_max=1.0, record_times=[0.0, 0.1, 0.5, 1.0],
                                     seeds=(0,), progress=False)
    return {"wall_s": time.perf_counter() - start, "risk_t1": float(result.risk[0, -1]),
            "accepted_steps": int(result.extra["flow_accepted_steps"][0, -1]),
            "velocity_evaluations": int(result.extra["flow_velocity_evaluations"][0, -1])}


def main():
    results = {"quick": quick_comparison(), "fig4_N800_d320_t1": fig4_cost()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(OUT) as tmp:
        Path(tmp).write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
