"""Benchmarks of reducedpde against the tools a user would otherwise pick.

``python -m benchmarks [--quick] [--only pde|radial|sgd]`` runs them and writes
``benchmarks/results/results.md``, ``results.json`` and ``perf.png``.

Everything runs on one thread: importing this package pins Numba, OpenMP, OpenBLAS and MKL
to one thread before any of them is loaded (PyTorch is set with ``torch.set_num_threads``).
"""

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
