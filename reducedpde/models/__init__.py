"""Reduced models: one module per symmetry reduction."""
