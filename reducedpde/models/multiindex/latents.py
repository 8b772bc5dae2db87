r"""Laws of the latent ``z ∈ R^k``: Gaussian (tensor Gauss–Hermite rule) or the hypercube
``{±1}^k`` (exact enumeration); expectations ``E_z`` are weighted sums over their nodes."""

from __future__ import annotations

import math

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from ...quadrature import hypercube_points

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

#: default Gauss–Hermite nodes per latent dimension (tensor rule with n^k nodes)
DEFAULT_NODES_PER_DIM = {1: 64, 2: 32, 3: 16, 4: 10}




class GaussianLatent:
    r"""``z ~ N(0, I_k)``; ``E_z`` by a tensor Gauss–Hermite rule with ``n^k`` nodes, or (``k = 1``)
    by a composite Gauss–Legendre rule graded towards ``z = 0``.

    The Gauss–Hermite rule is exact for polynomials of degree ``≤ 2n − 1`` in each coordinate
    (so ``E φ²``, ``E[φ f̄]`` for polynomial parts are exact once ``n`` exceeds the degree).
    The smoothed activations ``σ_r(⟨s, z⟩)`` are entire functions of ``z`` for ``r > 0``;
    the error grows as ``r/|s|`` decreases (a kink appears as ``r → 0``). Use
    :meth:`MultiIndexModel.quadrature_error` for an a-posteriori estimate (difference with
    a finer rule).

    ``rule="graded"``: for ``k = 1`` and an activation whose kinks sit at ``t = 0`` (ReLU)
    every feature ``σ_r(s z)`` has its kink layer, of width ``r/|s|``, at ``z = 0`` whatever
    the neuron. The rule (per coordinate; a tensor rule for ``k > 1``) splits ``[−L, L]``
    (``L`` = :attr:`GRADED_HALF_WIDTH`) into panels of ``GRADED_ORDER`` Gauss–Legendre
    nodes each (weights times the normal density), the panels equal in
    ``ξ(|z|) = ∫_0^{|z|} dz'/min(z' + δ, 1)`` (``δ`` = :attr:`GRADED_FLOOR`):
    geometrically growing from width ``≈ δ`` at ``z = 0`` up to ``|z| = 1``, equal beyond.
    Doubling ``n`` halves every panel in ``ξ``.

    Parameters
    ----------
    k : int
        Latent dimension, ``1 ≤ k ≤ 4``.
    n_per_dim : int, optional
        Nodes per dimension (default 64, 32, 16, 10 for k = 1, 2, 3, 4; graded: 84, even).
    rule : {"gauss-hermite", "graded"}
    """

    kind = "gaussian"
    exact = False
    #: Gauss–Legendre nodes per panel of the graded rule
    GRADED_ORDER = 3
    #: smallest length scale of the graded rule (panel grading stops below it)
    GRADED_FLOOR = 1e-2
    #: the graded rule integrates over ``|z| ≤ L`` (normal mass outside: 1.2e-15)
    GRADED_HALF_WIDTH = 8.0
    #: default nodes per dimension of the graded rule (14 panels per half line)
    GRADED_DEFAULT_NODES = 84

    def __init__(self, k: int, n_per_dim: int | None = None, rule: str = "gauss-hermite"):
        k = _check_k(k)
        if rule not in ("gauss-hermite", "graded"):
            raise ValueError(f"rule must be 'gauss-hermite' or 'graded', got {rule!r}")
        self.k = k
        self.rule = rule
        if rule == "graded":
            n = self.GRADED_DEFAULT_NODES if n_per_dim is None else int(n_per_dim)
            if n < 2 or n % 2:
                raise ValueError(f"the graded latent rule needs an even number >= 2 of nodes "
                                 f"per dimension, got {n_per_dim}")
            x, w = graded_normal_rule(n // 2, self.GRADED_ORDER, self.GRADED_FLOOR,
                                      self.GRADED_HALF_WIDTH)
        else:
            n = DEFAULT_NODES_PER_DIM[k] if n_per_dim is None else int(n_per_dim)
            if n < 1:
                raise ValueError(f"n_per_dim must be >= 1, got {n_per_dim}")
            x, w = hermegauss(n)
            w = w / w.sum()
        self.n_per_dim = n
        grids = np.meshgrid(*([x] * k), indexing="ij")
        wgrids = np.meshgrid(*([w] * k), indexing="ij")
        self.nodes = np.ascontiguousarray(np.stack([g.ravel() for g in grids], axis=1))
        self.weights = np.prod(np.stack([g.ravel() for g in wgrids], axis=1), axis=1)

    def refined(self, factor: float = 1.5) -> GaussianLatent:
        """The same latent law with ``⌈factor · n⌉`` (at least ``n + 4``; graded: even)
        nodes per dimension."""
        n = max(self.n_per_dim + 4, math.ceil(factor * self.n_per_dim))
        if self.rule == "graded":
            n += n % 2
        return GaussianLatent(self.k, n, self.rule)

    def to_config(self) -> dict:
        out = {"kind": self.kind, "k": self.k, "n_per_dim": self.n_per_dim}
        if self.rule != "gauss-hermite":
            out["rule"] = self.rule
        return out


def graded_normal_rule(half_nodes: int, order: int, floor: float, half_width: float):
    r"""Nodes and weights of ``E f(G)``, ``G ~ N(0, 1)``, on ``|g| ≤ half_width``, graded
    towards ``g = 0`` (see :class:`GaussianLatent`).

    ``half_nodes`` nodes per half line on ``⌊half_nodes/order⌋`` panels (at least one),
    equal in ``ξ(g) = log((g + δ)/δ)`` for ``g ≤ 1 − δ`` and ``log(1/δ) + (g − 1 + δ)``
    beyond (``δ = floor``), ``order`` Gauss–Legendre nodes each (the remainder adds one
    node to as many innermost panels); the weights are normalised to sum to one.
    Returns ``(nodes, weights)``, symmetric about 0.
    """
    from numpy.polynomial.legendre import leggauss

    if not 0.0 < floor < 1.0 < half_width:
        raise ValueError(f"need 0 < floor < 1 < half_width, got {floor}, {half_width}")
    knee = math.log(1.0 / floor)
    m = int(half_nodes)
    panels = max(1, m // int(order))
    counts = np.full(panels, m // panels)
    counts[: m - counts.sum()] += 1
    xi = np.linspace(0.0, knee + half_width - 1.0 + floor, panels + 1)
    edges = np.where(xi <= knee, floor * np.exp(xi) - floor, xi - knee + 1.0 - floor)
    edges[0], edges[-1] = 0.0, half_width
    gs, ws = [], []
    for lo, hi, q in zip(edges[:-1], edges[1:], counts):
        xg, wg = leggauss(int(q))
        gs.append(0.5 * (lo + hi) + 0.5 * (hi - lo) * xg)
        ws.append(0.5 * (hi - lo) * wg)
    g = np.concatenate(gs)
    w = np.concatenate(ws) * np.exp(-0.5 * g * g)
    nodes = np.concatenate([-g[::-1], g])
    weights = np.concatenate([w[::-1], w])
    return nodes, weights / weights.sum()


class HypercubeLatent:
    """``z`` uniform on ``{±1}^k``: exact expectations by enumerating the ``2^k`` points."""

    kind = "hypercube"
    exact = True

    def __init__(self, k: int):
        self.k = _check_k(k)
        nodes, weights = hypercube_points(self.k)
        self.nodes = np.ascontiguousarray(nodes)
        self.weights = weights

    def refined(self, factor: float = 1.5) -> HypercubeLatent:
        return self

    def to_config(self) -> dict:
        return {"kind": self.kind, "k": self.k}


def _check_k(k) -> int:
    if int(k) != k or not 1 <= k <= 4:
        raise ValueError(f"latent dimension k must be an integer in 1..4, got {k}")
    return int(k)


def _make_latent(latent, k):
    if isinstance(latent, GaussianLatent | HypercubeLatent):
        if k is not None and latent.k != k:
            raise ValueError(f"latent has k={latent.k} but the target needs k={k}")
        return latent
    if k is None:
        raise ValueError("give the latent dimension k (the target does not fix it)")
    if latent == "gaussian":
        return GaussianLatent(k)
    if latent == "hypercube":
        return HypercubeLatent(k)
    raise ValueError(f"latent must be 'gaussian', 'hypercube' or a latent object, got {latent!r}")


# ---------------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------------
