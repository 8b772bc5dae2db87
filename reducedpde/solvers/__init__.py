"""Generic solvers: finite volumes, Lagrangian atoms, particles.

Nothing here knows about scenarios or files: solvers take arrays, models and callbacks,
and return result containers.
"""
