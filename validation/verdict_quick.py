"""The statistical verdict on the quick scenario: seed draws, perturbed models, corrections.

Runs (a few minutes on one core):

* twenty disjoint draws of four SGD seeds of ``gaussians-quick`` on ``t ≤ 0.1``, judged
  against the mean-field PDE and the finite-N corrected prediction;
* the full quick horizon ``t ≤ 5`` with four seeds: raw and corrected final risks and gaps.

Writes ``validation/results/verdict_quick.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reducedpde import api
from reducedpde.atomic import atomic_path
from reducedpde.compare import compare

OUT = Path(__file__).resolve().parent / "results" / "verdict_quick.json"
SHORT = {"t_max": 0.1, "seeds": 4, "correction": "finite-n"}


def _verdicts(pde, sgd):
    raw_pde = type(pde)(**{**vars(pde), "extra": {}})
    out = {}
    for name, prediction in (("raw", raw_pde), ("corrected", pde)):
        c = compare(prediction, sgd, n_neurons=200, eps=1e-5, dim=40)
        out[name] = {"passed": bool(c.passed), "max_score": c.metrics["verdict_max_score"],
                     "worst_t": c.metrics["verdict_worst_t"], "z": c.metrics["verdict_z"]}
    return out


def main():
    pde = api.run_pde("gaussians-quick", SHORT, progress=False).pde
    draws = []
    for k in range(20):
        sgd = api.run_sgd("gaussians-quick", dict(SHORT, seed=1000 + 4 * k),
                          progress=False).sgd
        draws.append({"seeds": [1000 + 4 * k, 1003 + 4 * k], **_verdicts(pde, sgd)})
        print(k, draws[-1])
    full = api.validate("gaussians-quick", {"seeds": 4, "correction": "finite-n"},
                        progress=False)
    m = full.comparison.metrics
    sgd_mean = full.sgd.risk.mean(axis=0)
    summary = {
        "short_horizon": {
            "params": SHORT,
            "raw_passes": sum(d["raw"]["passed"] for d in draws),
            "corrected_passes": sum(d["corrected"]["passed"] for d in draws),
            "raw_worst_score": max(d["raw"]["max_score"] for d in draws),
            "corrected_worst_score": max(d["corrected"]["max_score"] for d in draws),
            "draws": draws,
        },
        "full_horizon": {
            "params": {"seeds": 4, "correction": "finite-n"},
            "t": full.comparison.arrays["t"][-1].item(),
            "risk_sgd_final": float(sgd_mean[-1]),
            "risk_sgd_final_stderr": float(full.sgd.risk[:, -1].std(ddof=1) / 2.0),
            "risk_pde_final": m["final_risk_pde"],
            "risk_corrected_final": m["final_risk_corrected"],
            "sup_risk_raw": m["sup_risk"],
            "sup_risk_corrected": m["sup_risk_corrected"],
            "passed": bool(full.comparison.passed),
            "max_score": m["verdict_max_score"],
            "worst_t": m["verdict_worst_t"],
            "mmn18_passed": m["mmn18_passed"],
            "tolerance": full.comparison.tolerance,
            "times": full.comparison.arrays["t"][::6].tolist(),
            "risk_sgd": sgd_mean[::6].tolist(),
            "risk_pde": np.interp(full.comparison.arrays["t"], full.pde.t,
                                  full.pde.risk)[::6].tolist(),
            "risk_corrected": full.comparison.arrays["risk_corrected"][::6].tolist(),
        },
    }
    with atomic_path(OUT) as tmp:
        Path(tmp).write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary["short_horizon"].items() if k != "draws"}))
    print(json.dumps({k: v for k, v in summary["full_horizon"].items()
                      if not isinstance(v, list)}))


if __name__ == "__main__":
    main()
