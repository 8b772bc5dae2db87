"""
ABM22 Fig. 1: the staircase
===========================

The staircase target ``z1 + z1z2 + z1z2z3 + z1z2z3z4`` on the hypercube, d = N = 100:
the (a, s, r) PDE (Lagrangian atoms) against SGD (mean and 95% band of the runs), and the
Fourier–Walsh coefficients of the learned function over time, learned one step of the
staircase after the other.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt

import reducedpde as rp

RESULTS = Path(os.environ.get("REDUCEDPDE_ROOT", "../..")) / "validation" / "results"

res = rp.load(RESULTS / "staircase.h5")
fig, (ax_risk, ax_coef) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
rp.plot.risk_curves(res, ax=ax_risk, inset=False)
rp.plot.fourier_coefficients(res, ax=ax_coef)
