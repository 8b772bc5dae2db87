"""Quadrature rules and Gaussian/angular moments shared by all models.

Everything here is pure NumPy and independent of any particular model:

* probabilists' Hermite polynomials ``He_n`` (``E[He_m(G) He_n(G)] = n! δ_mn``);
* a composite Gauss–Legendre rule for ``E f(G)``, ``G ~ N(0, 1)``, that stays accurate
  for steep (but smooth) integrands where Gauss–Hermite converges slowly;
* tensor Gauss–Hermite rules for ``E f(Z)``, ``Z ~ N(0, I_k)``;
* enumeration of the hypercube ``{±1}^k``;
* the even moments ``E[c^{2m}]`` of the cosine between two independent uniform
  directions in ``R^d``.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.polynomial.legendre import leggauss

__all__ = [
    "angle_moments",
    "gauss_hermite_tensor",
    "gaussian_rule",
    "hermite_polynomials",
    "hypercube_points",
    "standard_normal_pdf",
]

SQRT_2PI = math.sqrt(2.0 * math.pi)


def standard_normal_pdf(x):
    """Standard normal density ``φ(x) = exp(-x²/2)/√(2π)``."""
    x = np.asarray(x, dtype=float)
    return np.exp(-0.5 * x * x) / SQRT_2PI


def hermite_polynomials(x, n_max: int) -> np.ndarray:
    """Probabilists' Hermite polynomials ``He_0(x) … He_{n_max}(x)``.

    Uses the three-term recurrence ``He_{n+1}(x) = x He_n(x) − n He_{n−1}(x)``.

    Parameters
    ----------
    x : array_like
        Evaluation points.
    n_max : int
        Highest degree (``n_max ≥ 0``).

    Returns
    -------
    ndarray, shape ``(n_max + 1,) + x.shape``
    """
    if int(n_max) != n_max or n_max < 0:
        raise ValueError(f"n_max must be a non-negative integer, got {n_max}")
    n_max = int(n_max)
    x = np.asarray(x, dtype=float)
    out = np.empty((n_max + 1, *x.shape))
    out[0] = 1.0
    if n_max >= 1:
        out[1] = x
    for n in range(1, n_max):
        out[n + 1] = x * out[n] - n * out[n - 1]
    return out


def gaussian_rule(half_width: float = 13.0, panel_width: float = 0.05, order: int = 8):
    """Composite Gauss–Legendre rule for ``E f(G)``, ``G ~ N(0, 1)``.

    The integral ``∫ f(g) φ(g) dg`` is truncated to ``|g| ≤ half_width`` (the Gaussian
    tail beyond 13 is below 1e-38) and split into panels of width ``panel_width``, each
    integrated with ``order`` Gauss–Legendre nodes. For integrands analytic in a strip of
    half-width δ around the real axis the error decays like ``(panel_width/(4δ))^(2·order)``,
    so steep functions such as ``tanh(10 g)`` are integrated to round-off.

    Returns
    -------
    nodes, weights : ndarray
        ``E f(G) ≈ Σ_i weights_i f(nodes_i)``; the weights include ``φ``.
    """
    if not (half_width > 0 and math.isfinite(half_width)):
        raise ValueError(f"half_width must be a positive finite number, got {half_width}")
    if not (0 < panel_width <= 2 * half_width):
        raise ValueError(f"panel_width must lie in (0, 2*half_width], got {panel_width}")
    if int(order) != order or order < 1:
        raise ValueError(f"order must be a positive integer, got {order}")
    n_panels = math.ceil(2.0 * half_width / panel_width)
    edges = np.linspace(-half_width, half_width, n_panels + 1)
    x, w = leggauss(order)
    mid = 0.5 * (edges[1:] + edges[:-1])
    half = 0.5 * (edges[1:] - edges[:-1])
    nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    weights = (half[:, None] * w[None, :]).ravel() * standard_normal_pdf(nodes)
    return nodes, weights


def gauss_hermite_tensor(k: int, n_per_dim: int):
    """Tensor Gauss–Hermite rule for ``E f(Z)``, ``Z ~ N(0, I_k)``.

    Exact for polynomials of degree ``≤ 2 n_per_dim − 1`` in each coordinate.

    Returns
    -------
    nodes : ndarray, shape ``(n_per_dim**k, k)``
    weights : ndarray, shape ``(n_per_dim**k,)``, summing to one.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    x, w = hermegauss(n_per_dim)
    w = w / w.sum()
    grids = np.meshgrid(*([x] * k), indexing="ij")
    wgrids = np.meshgrid(*([w] * k), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=1)
    weights = np.prod(np.stack([g.ravel() for g in wgrids], axis=1), axis=1)
    return nodes, weights


def hypercube_points(k: int):
    """All ``2^k`` points of ``{±1}^k`` with equal weights ``2^{-k}`` (exact expectations)."""
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    nodes = np.array(list(itertools.product((-1.0, 1.0), repeat=k)))
    weights = np.full(len(nodes), 1.0 / len(nodes))
    return nodes, weights


def angle_moments(d: float, m_max: int) -> np.ndarray:
    """Even moments ``E[c^{2m}]``, ``m = 0 … m_max``, of ``c = ⟨u, u'⟩``.

    ``u, u'`` are independent and uniform on the unit sphere of ``R^d``; ``c`` has density
    proportional to ``(1 − c²)^((d−3)/2)`` on ``[−1, 1]`` and

        E[c^{2m}] = (2m − 1)!! / (d (d + 2) ⋯ (d + 2m − 2)).

    For ``d = ∞`` (``math.inf``) all moments but ``m = 0`` vanish. Odd moments are zero.
    """
    if not (d >= 1):
        raise ValueError(f"d must be >= 1 (or inf), got {d}")
    if int(m_max) != m_max or m_max < 0:
        raise ValueError(f"m_max must be a non-negative integer, got {m_max}")
    m_max = int(m_max)
    out = np.zeros(m_max + 1)
    out[0] = 1.0
    if math.isinf(d):
        return out
    for m in range(1, m_max + 1):
        out[m] = out[m - 1] * (2 * m - 1) / (d + 2 * m - 2)
    return out
