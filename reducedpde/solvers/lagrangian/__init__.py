"""Lagrangian (characteristics) solvers: atoms transported by the mean-field velocity."""
