"""reducedpde: reduced mean-field PDEs for two-layer networks and matching particle SGD."""

__version__ = "0.1.0"
