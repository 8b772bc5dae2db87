r"""Targets ``y = φ(z)`` of multi-index problems, ``z = Πx ∈ R^k`` (the first ``k`` coordinates).

A target is given either by Hermite coefficients,

.. math::  φ(z) = Σ_α c_α \prod_{j=1}^k He_{α_j}(z_j)

(a ``dict`` ``{α: c_α}`` with ``α`` a ``k``-tuple, or for ``k = 1`` a sequence
``[c_0, c_1, …]`` meaning ``φ(z) = Σ_n c_n He_n(z)``), by a callable ``φ(z)`` vectorised
over the rows of ``z`` (shape ``(n, k)`` → ``(n,)``), or by name (``"staircase"``:
``z_1 + z_1 z_2 + … + z_1 ⋯ z_k``, the ABM22 target for ``k = 4``).

For Gaussian inputs :func:`hermite_expansion` returns the expansion used by the exact
population risk: given for Hermite targets, projected by tensor Gauss–Hermite quadrature
for callables (exact for polynomials of degree ``≤ degree`` in each coordinate; the
Parseval residual ``E φ² − Σ_α ĉ_α² α!`` measures what the projection misses).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ...quadrature import gauss_hermite_tensor, hermite_polynomials

__all__ = ["HermiteExpansion", "Target", "hermite_expansion", "make_target", "staircase"]


class Target:
    """``y = φ(z)``, ``z ∈ R^k``.

    Parameters
    ----------
    k : int
    hermite : dict of tuple to float, optional
        ``{α: c_α}``: ``φ = Σ c_α He_α``.
    fn : callable, optional
        ``φ`` itself, vectorised over rows.
    name : str
    """

    def __init__(
        self,
        k: int,
        hermite: Mapping | None = None,
        fn: Callable | None = None,
        name: str = "target",
    ):
        if (hermite is None) == (fn is None):
            raise ValueError("a Target needs exactly one of hermite coefficients or a callable")
        self.k = int(k)
        self.fn = fn
        self.name = name
        self.hermite = None
        if hermite is not None:
            clean = {}
            for alpha, coef in hermite.items():
                alpha = (alpha,) if isinstance(alpha, numbers.Integral) else tuple(alpha)
                if len(alpha) != self.k or any(
                    not isinstance(a, numbers.Integral) or a < 0 for a in alpha
                ):
                    raise ValueError(
                        f"target Hermite multi-indices must be {self.k}-tuples of integers >= 0,"
                        f" got {alpha!r}"
                    )
                if not np.isfinite(coef):
                    raise ValueError(f"target coefficient for {alpha} must be finite, got {coef}")
                alpha = tuple(int(a) for a in alpha)
                clean[alpha] = clean.get(alpha, 0.0) + float(coef)
            self.hermite = clean

    @property
    def max_degree(self) -> int:
        """Highest ``|α|`` (Hermite targets only)."""
        return max((sum(a) for a in self.hermite), default=0)

    def __call__(self, z) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != self.k:
            raise ValueError(f"target input must have shape (n, {self.k}), got {z.shape}")
        if self.fn is not None:
            y = np.asarray(self.fn(z), dtype=np.float64)
            if y.shape != (z.shape[0],):
                raise ValueError(
                    f"target callable must map z of shape (n, k) to shape (n,), got {y.shape}"
                )
            return y
        return _evaluate_hermite(self.hermite, z)

    def to_config(self) -> dict:
        cfg = {"name": self.name, "k": self.k}
        if self.hermite is not None:
            cfg["hermite"] = {",".join(map(str, a)): c for a, c in self.hermite.items()}
        else:
            cfg["callable"] = getattr(self.fn, "__name__", repr(self.fn))
        return cfg

    def __repr__(self) -> str:
        return f"Target({self.to_config()})"


def _evaluate_hermite(coeffs: Mapping, z: np.ndarray) -> np.ndarray:
    k = z.shape[1]
    deg = max((max(a) for a in coeffs), default=0)
    he = [hermite_polynomials(z[:, j], deg) for j in range(k)]  # each (deg+1, n)
    y = np.zeros(z.shape[0])
    for alpha, c in coeffs.items():
        term = np.full(z.shape[0], c)
        for j, a in enumerate(alpha):
            if a:
                term = term * he[j][a]
        y += term
    return y


def staircase(k: int = 4) -> Target:
    """``φ(z) = z_1 + z_1 z_2 + … + z_1 ⋯ z_k`` (products of ``He_1``: valid for Gaussian and
    hypercube inputs)."""
    coeffs = {tuple([1] * m + [0] * (k - m)): 1.0 for m in range(1, k + 1)}
    return Target(k, hermite=coeffs, name=f"staircase{k}")


def make_target(spec, k: int) -> Target:
    """Build a :class:`Target` for ``z ∈ R^k`` from a name, coefficients or a callable."""
    if isinstance(spec, Target):
        if spec.k != k:
            raise ValueError(f"target acts on k = {spec.k} coordinates, but k = {k}")
        return spec
    if isinstance(spec, str):
        if spec.strip().lower() == "staircase":
            return staircase(k)
        raise ValueError(f"target must be 'staircase', coefficients or a callable, got {spec!r}")
    if callable(spec):
        return Target(k, fn=spec, name=getattr(spec, "__name__", "callable"))
    if isinstance(spec, Mapping):
        return Target(k, hermite=spec, name="hermite")
    try:
        coeffs = np.asarray(spec, dtype=np.float64)
    except (TypeError, ValueError):
        coeffs = None
    if coeffs is None or coeffs.ndim != 1 or coeffs.size == 0:
        raise ValueError(
            "target must be 'staircase', a dict {alpha: c_alpha}, a 1-D sequence of Hermite "
            f"coefficients (k = 1) or a callable, got {spec!r}"
        )
    if k != 1:
        raise ValueError(
            f"a 1-D sequence of Hermite coefficients defines a k = 1 target, but k = {k}; "
            "pass a dict {alpha: c_alpha} instead"
        )
    return Target(1, hermite={(n,): c for n, c in enumerate(coeffs) if c != 0.0}, name="hermite")


@dataclass
class HermiteExpansion:
    """``φ ≈ Σ_m coefs_m He_{alphas_m}`` with ``E φ² = second_moment``."""

    alphas: np.ndarray  # (m, k) int
    coefs: np.ndarray  # (m,)
    second_moment: float
    residual: float  # E φ² − Σ coefs² α!  (0 for Hermite targets)

    @property
    def k(self) -> int:
        return self.alphas.shape[1]


def _alpha_factorial(alphas: np.ndarray) -> np.ndarray:
    return np.array([math.prod(math.factorial(int(a)) for a in row) for row in alphas], float)


def default_degree(k: int) -> int:
    """Per-coordinate projection degree used for callable targets."""
    return max(4, 24 // k)


def hermite_expansion(target: Target, degree: int | None = None) -> HermiteExpansion:
    """Hermite expansion of ``φ`` under ``z ~ N(0, I_k)``.

    Hermite targets are returned as given (``E φ² = Σ c_α² α!``). A callable is projected
    onto ``He_α``, ``max_j α_j ≤ degree``, with a tensor Gauss–Hermite rule of
    ``2(degree + 1)`` nodes per coordinate, which also gives ``E φ²``.
    """
    k = target.k
    if target.hermite is not None:
        items = sorted(target.hermite.items())
        alphas = np.array([a for a, _ in items], dtype=np.int64).reshape(len(items), k)
        coefs = np.array([c for _, c in items], dtype=np.float64)
        m2 = float(np.sum(coefs**2 * _alpha_factorial(alphas)))
        return HermiteExpansion(alphas, coefs, m2, 0.0)
    degree = default_degree(k) if degree is None else int(degree)
    n = 2 * (degree + 1)
    nodes, weights = gauss_hermite_tensor(k, n)
    vals = target(nodes)
    if not np.all(np.isfinite(vals)):
        raise ValueError("target callable returned non-finite values at quadrature nodes")
    m2 = float(np.sum(weights * vals**2))
    # per-axis transform of the weighted values on the tensor grid
    x1 = nodes[:n, k - 1] if k > 1 else nodes[:, 0]
    he = hermite_polynomials(x1, degree)  # (degree+1, n)
    grid = (weights * vals).reshape((n,) * k)
    for axis in range(k):
        grid = np.moveaxis(np.tensordot(he, grid, axes=([1], [axis])), 0, axis)
    proj = grid.reshape(-1)  # E[φ He_α] for all α, C order
    alphas = np.array(np.unravel_index(np.arange(proj.size), (degree + 1,) * k)).T
    fact = _alpha_factorial(alphas)
    coefs = proj / fact
    keep = np.abs(proj) > 1e-15 * max(1.0, math.sqrt(m2)) * np.sqrt(fact)
    residual = max(0.0, m2 - float(np.sum(proj[keep] ** 2 / fact[keep])))
    return HermiteExpansion(alphas[keep].astype(np.int64), coefs[keep], m2, residual)
