"""Parameter table of the sparse-parity MFLD model (defaults: scenario ``parity-mfld``).

One table, :data:`PARITY_PARAMETERS`, declares every parameter with its kind, default,
range and meaning; :func:`validate_parity` checks user values against it (and the cross
checks of :data:`PARITY_CHECKS`) with :func:`reducedpde.params.validate`, so a bad value
gives one message naming the parameter and its allowed range.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...params import Param, validate

__all__ = ["PARITY_CHECKS", "PARITY_PARAMETERS", "validate_parity"]


def _p(name, kind, default, doc, **kw):
    return name, Param(name, kind, default, doc, **kw)


#: The sparse-parity MFLD experiment of seed 000; defaults are the ``parity-mfld`` scenario.
PARITY_PARAMETERS = dict(
    [
        # problem
        _p("d", "int", 20, "input dimension: z uniform on {±1/√d}^d", low=1, high=1e6),
        _p("k", "int", 2, "parity order: y = sign(z_1 ⋯ z_k) (k = 2: XOR); k <= d", low=1,
           high=1e6),
        _p("n", "int", 500, "number of training samples", low=1, high=1e7),
        _p("n_test", "int", 10_000,
           "held-out test samples (the test set is the whole hypercube when 2^d <= n_test)",
           low=10_000, high=1e7),
        # network and objective
        _p("M", "int", 1000, "number of particles (neurons)", low=1, high=1e7),
        _p("Rbar", "float", 15.0, "output scale R̄ of h_x(z) = R̄(tanh(z·x1 + x2) + "
           "2 tanh(x3))/3", low=0, high=1e6, low_open=True),
        _p("lam_prime", "float", 0.1, "prior strength λ': ν ∝ exp(−λ'‖x‖²)", low=0, high=1e6),
        _p("prior", "str", "scaled",
           "scaled: F = L + λ KL(μ‖ν) (pull λλ'‖x‖²); fixed: F = L + λ'∫‖x‖² + λ∫μ log μ",
           choices=("scaled", "fixed")),
        # dynamics
        _p("eta", "float", 0.05, "step size η of x ← x − η∇(δF/δμ) + √(2λη) ξ", low=0,
           high=10, low_open=True),
        _p("lam0", "float", 0.1, "initial temperature λ0 = 1/β0", low=0, high=1e6,
           low_open=True),
        _p("rounds", "int", 6, "annealing rounds: λ_r = 2^−r λ0, r = 0 … rounds − 1",
           low=1, high=200),
        _p("round_steps", "int", 1000, "steps per annealing round", low=1, high=1e9),
        _p("init_scale", "float", 1.0, "initial particles x ~ N(0, init_scale² I_{d+2})",
           low=0, high=1e3),
        # output
        _p("record_every", "int", 100, "steps between recordings (round ends are always "
           "recorded)", low=1, high=1e9),
        _p("seed", "int", 0, "random seed (data, initial particles, noise)", low=0,
           high=2**31 - 1),
    ]
)

#: Largest ``M · n`` accepted (the step keeps an ``M × n`` table of tangents: 4 GB).
MAX_TABLE = 500_000_000


def _k_at_most_d(cfg: dict) -> str | None:
    if cfg["k"] > cfg["d"]:
        return f"parameter 'k' must be an int in [1, d={cfg['d']}], got {cfg['k']}"
    return None


def _table_fits(cfg: dict) -> str | None:
    if cfg["M"] * cfg["n"] > MAX_TABLE:
        return (f"parameters 'M' and 'n' must have M·n <= {MAX_TABLE:.0e} (an M × n table of "
                f"tangents is kept), got M·n = {cfg['M'] * cfg['n']:.3g}")
    return None


#: Relations between parameters, checked after the ranges.
PARITY_CHECKS = (_k_at_most_d, _table_fits)


def validate_parity(values: Mapping | None = None, context: str = "parity-mfld") -> dict:
    """A complete, checked configuration from user ``values`` (strings are converted).

    Raises
    ------
    ValueError
        Naming every bad or unknown parameter with its allowed range.
    """
    return validate(PARITY_PARAMETERS, values, context=context, checks=PARITY_CHECKS)
