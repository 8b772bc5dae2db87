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
    r"""``z ~ N(0, I_k)``; ``E_z`` by a tensor Gauss–Hermite rule with ``n^k`` nodes.

    The rule is exact for polynomials of degree ``≤ 2n − 1`` in each coordinate (so
    ``E φ²``, ``E[φ f̄]`` for polynomial parts are exact once ``n`` exceeds the degree).
    The smoothed activations ``σ_r(⟨s, z⟩)`` are entire functions of ``z`` for ``r > 0``;
    the error grows as ``r/|s|`` decreases (a kink appears as ``r → 0``). Use
    :meth:`MultiIndexModel.quadrature_error` for an a-posteriori estimate (difference with
    a finer rule).

    Parameters
    ----------
    k : int
        Latent dimension, ``1 ≤ k ≤ 4``.
    n_per_dim : int, optional
        Nodes per dimension (default 64, 32, 16, 10 for k = 1, 2, 3, 4).
    """

    kind = "gaussian"
    exact = False

    def __init__(self, k: int, n_per_dim: int | None = None):
        k = _check_k(k)
        n = DEFAULT_NODES_PER_DIM[k] if n_per_dim is None else int(n_per_dim)
        if n < 1:
            raise ValueError(f"n_per_dim must be >= 1, got {n_per_dim}")
        self.k = k
        self.n_per_dim = n
        x, w = hermegauss(n)
        w = w / w.sum()
        grids = np.meshgrid(*([x] * k), indexing="ij")
        wgrids = np.meshgrid(*([w] * k), indexing="ij")
        self.nodes = np.ascontiguousarray(np.stack([g.ravel() for g in grids], axis=1))
        self.weights = np.prod(np.stack([g.ravel() for g in wgrids], axis=1), axis=1)

    def refined(self, factor: float = 1.5) -> GaussianLatent:
        """The same latent law with ``⌈factor · n⌉`` (at least ``n + 4``) nodes per dimension."""
        return GaussianLatent(self.k, max(self.n_per_dim + 4, math.ceil(factor * self.n_per_dim)))

    def to_config(self) -> dict:
        return {"kind": self.kind, "k": self.k, "n_per_dim": self.n_per_dim}


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
