"""Particle solvers of two-layer networks: the compiled online-SGD kernel, its ensemble
driver, step-size schedules and the summaries a run records."""
