"""
BMZ23: plateaus of a single-index model
=======================================

Target ``He0 − He1 + (2/3) He2`` of a Gaussian latent, ReLU network, fast second layer
(ε = 1e-3 in BMZ23's notation): the free (a, s, r) PDE against SGD (N = 400, d = 1000),
and the PDE of the spherical (a, s) variant, first-layer weights on the unit sphere. The
risk is ours, ``E[(y − ŷ)²]``, without BMZ23's factor ½.
"""

import os
from pathlib import Path

import reducedpde as rp

RESULTS = Path(os.environ.get("REDUCEDPDE_ROOT", "../..")) / "validation" / "results"

names = ["bmz23_eps1e-3", "bmz23_eps1e-3_spherical"]
runs = [rp.load(RESULTS / f"{name}.h5") for name in names]
fig = rp.plot.risk_curves(runs, labels=["free (a, s, r)", "spherical (a, s)"],
                          log_risk=True)
