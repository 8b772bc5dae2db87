"""
SGD to PDE at the N^(-1/2) rate
===============================

The sup-in-time gap between SGD and the radial PDE (risk, mean ‖w‖, Wasserstein-1
distance of the laws of ‖w‖) as the width N grows, from ``validation/convergence.py``;
the dashed line is the slope −1/2 of the MMN18 bound.
"""

import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

RESULTS = Path(os.environ.get("REDUCEDPDE_ROOT", "../..")) / "validation" / "results"

data = json.loads((RESULTS / "convergence.json").read_text())
rows = data["rows"]
N = np.array([row["N"] for row in rows], dtype=float)

fig, ax = plt.subplots(figsize=(6.4, 4.4), layout="constrained")
for key, label in [("risk", "sup |ΔR|"), ("mean_norm", "sup |Δ mean ‖w‖|"),
                   ("w1", "max W1")]:
    values = np.array([row[key] for row in rows])
    ax.loglog(N, values, "o-", label=f"{label} (slope {data['slopes'][key]:.2f})")
reference = rows[0]["risk"] * np.sqrt(N[0] / N)
ax.loglog(N, reference, "k--", label="N^(-1/2)")
ax.set_xlabel("N")
ax.set_ylabel("PDE–SGD gap")
ax.legend(fontsize="small")
