"""
MMN18 Fig. 4: two initial scales, two fates
===========================================

SGD with N = 800 neurons in d = 320 (symbols, mean of the seeds) against the radial PDE
(lines) for the initial scales κ = 0.1 and κ = 0.4, with the mean ‖w‖ in the inset. The
runs are those of ``validation/fig4.py``.
"""

import os
from pathlib import Path

import reducedpde as rp

RESULTS = Path(os.environ.get("REDUCEDPDE_ROOT", "../..")) / "validation" / "results"

runs = [rp.load(RESULTS / f"fig4_kappa{kappa}.h5") for kappa in ("0.1", "0.4")]
fig = rp.plot.risk_curves(runs)
for res in runs:
    comp = res.comparison
    print(f"kappa = {res.config['kappa']}: sup_t |R_sgd - R_pde| = "
          f"{comp.metrics['sup_risk']:.3g} (tolerance {comp.tolerance:.3g}, "
          f"{'pass' if comp.passed else 'fail'})")
