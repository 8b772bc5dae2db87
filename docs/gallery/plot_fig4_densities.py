"""
MMN18 Fig. 4: the law of ‖w‖ over time
======================================

The radial PDE density of r = ‖w‖ (line) over the SGD histogram (mean over seeds) at
several snapshot times, for κ = 0.4.
"""

import os
from pathlib import Path

import reducedpde as rp

RESULTS = Path(os.environ.get("REDUCEDPDE_ROOT", "../..")) / "validation" / "results"

res = rp.load(RESULTS / "fig4_kappa0.4.h5")
fig = rp.plot.densities(res, max_panels=6)
