"""Finite-volume grids, Numba kernels and time integrators."""

from .grid import Grid1D

__all__ = ["Grid1D"]
