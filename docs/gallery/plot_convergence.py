"""
Finite networks: the mean field misses O(1/N), the O(1/N) expansion leaves O(1/N²)
===================================================================================

The gap between the finite-N gradient flow (SGD's ε → 0 limit) and two predictions, as
the width N grows, from ``validation/convergence.py`` (``gaussians-quick`` physics,
sup over t ≥ 0.5 of the seed mean minus the prediction, with the standard error of the
seed mean): the mean-field PDE (raw) and its O(1/N) expansion (``correction=full``).
Dashed: slopes −1 and −2.
"""

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

RESULTS = Path(os.environ.get("REDUCEDPDE_ROOT", "../..")) / "validation" / "results"

data = json.loads((RESULTS / "convergence.json").read_text())
sizes = sorted(data["versus_n"], key=int)
N = np.array([int(n) for n in sizes], dtype=float)

fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
for key, marker in [("raw", "o"), ("corrected", "s")]:
    values = np.array([data["versus_n"][n][key]["sup"] for n in sizes])
    errors = np.array([data["versus_n"][n][key]["stderr_at_sup"] for n in sizes])
    ax.errorbar(N, values, yerr=errors, marker=marker, label=key)
    slope = -1 if key == "raw" else -2
    ax.loglog(N, values[0] * (N[0] / N) ** -slope, "k--", linewidth=0.8)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("N")
ax.set_ylabel(r"sup$_{t \geq 0.5}$ |R$_N$ − R$_{pred}$|")
ax.legend(fontsize="small")
