r"""Targets ``y = φ(z)`` of the reduced model: Hermite expansions (Gaussian latents),
monomials (hypercube) and callables; the BMZ23 and ABM22 staircase targets."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping

import numpy as np

from ...quadrature import hermite_polynomials
from .latents import _check_k

_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

#: default Gauss–Hermite nodes per latent dimension (tensor rule with n^k nodes)
DEFAULT_NODES_PER_DIM = {1: 64, 2: 32, 3: 16, 4: 10}




def multi_indices(k: int, max_degree: int) -> list[tuple[int, ...]]:
    """All ``α ∈ N^k`` with ``|α| ≤ max_degree``, ordered by total degree then lexicographically."""
    out = [a for a in itertools.product(range(max_degree + 1), repeat=k) if sum(a) <= max_degree]
    return sorted(out, key=lambda a: (sum(a), tuple(-x for x in a)))


def subsets(k: int) -> list[tuple[int, ...]]:
    """All subsets of ``{0, …, k−1}`` (0-based), ordered by size then lexicographically."""
    return [c for n in range(k + 1) for c in itertools.combinations(range(k), n)]


def _hermite_product(z, alpha) -> np.ndarray:
    """``He_α(z) = Π_j He_{α_j}(z_j)`` for ``z`` of shape (Q, k)."""
    z = np.asarray(z, dtype=float)
    out = np.ones(z.shape[0])
    for j, n in enumerate(alpha):
        if n:
            out = out * hermite_polynomials(z[:, j], n)[n]
    return out


class HermiteTarget:
    r"""``φ(z) = Σ_α c_α He_α(z)``, ``He_α(z) = Π_j He_{α_j}(z_j)`` (probabilists').

    With ``normalized=True`` the basis is ``He_α/√α!`` (orthonormal for ``N(0, I_k)``,
    BMZ23's convention); otherwise ``E[He_α He_β] = α! δ_αβ``.

    Parameters
    ----------
    coeffs : mapping
        ``{α: c_α}`` with ``α`` a tuple of ``k`` non-negative degrees (an ``int`` means
        ``k = 1``).
    normalized : bool
    """

    def __init__(self, coeffs: Mapping, normalized: bool = False):
        if not coeffs:
            raise ValueError("a Hermite target needs at least one coefficient")
        parsed = {}
        for key, c in coeffs.items():
            alpha = (int(key),) if np.isscalar(key) else tuple(int(x) for x in key)
            if any(x < 0 for x in alpha):
                raise ValueError(f"Hermite degrees must be >= 0, got {key!r}")
            parsed[alpha] = parsed.get(alpha, 0.0) + float(c)
        ks = {len(a) for a in parsed}
        if len(ks) != 1:
            raise ValueError(f"all multi-indices must have the same length, got {sorted(ks)}")
        self.k = ks.pop()
        self.normalized = bool(normalized)
        self.coeffs = parsed

    @property
    def degree(self) -> int:
        return max(sum(a) for a in self.coeffs)

    def orthonormal_coefficients(self) -> dict:
        """``{α: c_α √α!}`` (unnormalised input) or the input (normalised)."""
        if self.normalized:
            return dict(self.coeffs)
        return {
            a: c * math.sqrt(math.prod(math.factorial(x) for x in a))
            for a, c in self.coeffs.items()
        }

    def second_moment_gaussian(self) -> float:
        """``E φ(z)²`` for ``z ~ N(0, I_k)`` (exact: ``Σ_α c_α² α!``)."""
        return float(sum(c * c for c in self.orthonormal_coefficients().values()))

    def __call__(self, z) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, dtype=float))
        out = np.zeros(z.shape[0])
        for a, c in self.coeffs.items():
            scale = 1.0
            if self.normalized:
                scale = 1.0 / math.sqrt(math.prod(math.factorial(x) for x in a))
            out = out + c * scale * _hermite_product(z, a)
        return out

    def to_config(self) -> dict:
        return {
            "kind": "hermite",
            "normalized": self.normalized,
            "coeffs": [[list(a), c] for a, c in self.coeffs.items()],
        }


class MonomialTarget:
    r"""``φ(z) = Σ_S c_S Π_{j ∈ S} z_j`` (``S`` a tuple of 0-based coordinates).

    On the hypercube the monomials ``χ_S(z) = Π_{j∈S} z_j`` of distinct sets are the
    orthonormal Fourier–Walsh characters, e.g. ABM22's staircase
    ``{(0,): 1, (0, 1): 1, (0, 1, 2): 1, (0, 1, 2, 3): 1}``.

    Parameters
    ----------
    coeffs : mapping
        ``{S: c_S}``; ``()`` is the constant.
    k : int, optional
        Latent dimension (default: ``1 + max index``).
    """

    def __init__(self, coeffs: Mapping, k: int | None = None):
        parsed = {}
        for key, c in coeffs.items():
            S = (int(key),) if np.isscalar(key) else tuple(sorted(int(x) for x in key))
            if any(x < 0 for x in S):
                raise ValueError(f"coordinate indices are 0-based and >= 0, got {key!r}")
            parsed[S] = parsed.get(S, 0.0) + float(c)
        top = max((max(S) for S in parsed if S), default=-1) + 1
        self.k = max(top, 1) if k is None else int(k)
        if self.k < top:
            raise ValueError(f"k={k} is smaller than the largest coordinate used ({top})")
        self.coeffs = parsed

    @property
    def degree(self) -> int:
        return max(len(S) for S in self.coeffs)

    def __call__(self, z) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, dtype=float))
        out = np.zeros(z.shape[0])
        for S, c in self.coeffs.items():
            out = out + c * np.prod(z[:, list(S)], axis=1)
        return out

    def to_config(self) -> dict:
        return {"kind": "monomial", "coeffs": [[list(S), c] for S, c in self.coeffs.items()]}


class CallableTarget:
    """``φ`` given by a function of ``z`` (array of shape (Q, k) → (Q,))."""

    def __init__(self, fn: Callable, k: int, name: str = "callable"):
        self.fn = fn
        self.k = _check_k(k)
        self.name = name

    def __call__(self, z) -> np.ndarray:
        z = np.atleast_2d(np.asarray(z, dtype=float))
        return np.asarray(self.fn(z), dtype=float).reshape(z.shape[0])

    def to_config(self) -> dict:
        return {"kind": "callable", "name": self.name, "k": self.k}


def _make_target(target, k):
    if isinstance(target, HermiteTarget | MonomialTarget | CallableTarget):
        return target
    if callable(target):
        if k is None:
            raise ValueError("a callable target needs the latent dimension k")
        return CallableTarget(target, k)
    raise ValueError(
        "target must be a HermiteTarget, MonomialTarget, CallableTarget or a callable; "
        f"got {type(target).__name__}"
    )


def staircase_target(k: int = 4) -> MonomialTarget:
    """ABM22's staircase ``h*(z) = z1 + z1 z2 + … + z1 ⋯ zk`` (default ``k = 4``)."""
    return MonomialTarget({tuple(range(n)): 1.0 for n in range(1, k + 1)}, k=k)


def bmz23_target(normalized: bool = True) -> HermiteTarget:
    """BMZ23's ``φ = He_0 − He_1 + (2/3) He_2`` (orthonormal ``He`` by default)."""
    return HermiteTarget({0: 1.0, 1: -1.0, 2: 2.0 / 3.0}, normalized=normalized)


def bmz23_rates(eps: float) -> tuple[float, float]:
    r"""``(ξ_a, ξ_w)`` that make our flow BMZ23's: ``ε ȧ = −m ∂_a R_BMZ``, ``u̇ = −m P ∇_u R_BMZ``.

    BMZ23's risk carries ½, so ``−m ∂_{a_i} R_BMZ = −∂_a Ψ`` and ``−m ∇_u R_BMZ = −∇_u Ψ``;
    ours is ``−2ξ ∇Ψ``. Hence ``ξ_w = 1/2``, ``ξ_a = 1/(2ε)`` and the times coincide.
    """
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    return 0.5 / eps, 0.5


# ---------------------------------------------------------------------------------------
# The (a, s, r) model
# ---------------------------------------------------------------------------------------
