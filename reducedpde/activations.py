r"""Activation functions and their Gaussian expectations.

For an activation ``σ`` and ``G ~ N(0, 1)`` the reduced models need

* ``q(a) = E σ(aG)``                          (:meth:`Activation.gaussian_mean`),
* ``h_k(a) = E[σ(aG) He_k(G)]``               (:meth:`Activation.hermite_coefficients`),
  with ``He_k`` the probabilists' Hermite polynomials (``E He_k² = k!``), and ``∂_a h_k``,
* ``E σ(aG)²``, ``E σ(t + rG)²``              (:meth:`Activation.gaussian_second_moment`,
  :meth:`Activation.smoothed_second_moment`),
* ``σ_r(t) = E σ(t + rG)``                    (:meth:`Activation.smoothed`).

Mehler's formula ``E[f(G_1) g(G_2)] = Σ_k c^k E[f He_k] E[g He_k] / k!`` for a pair of
standard Gaussians with correlation ``c`` turns these into the interaction kernels of the
models.

Piecewise-linear activations (the MMN18 activation, ReLU, hard tanh, …) are written as
``σ(t) = c_0 + s_left t + Σ_j Δs_j (t − t_j)_+`` (``Δs_j`` the slope jump at knot ``t_j``),
which gives every expectation above in closed form; for ``k ≥ 2`` Gaussian integration by
parts gives ``h_k(a) = a Σ_j Δs_j He_{k−2}(t_j/a) φ(t_j/a)``. Smooth activations (tanh,
sigmoid) use the composite Gauss–Legendre rule of :func:`reducedpde.quadrature.gaussian_rule`
(accurate to ~1e-14 for the scales used here).

Every activation also exposes ``numba_spec()``: an integer code and a float64 parameter
array understood by the compiled :func:`activation_value` and
:func:`activation_derivative`, so that Numba kernels can evaluate any activation without
Python objects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numba
import numpy as np
from scipy.special import expit, ndtr

from .quadrature import gaussian_rule, hermite_polynomials, standard_normal_pdf

__all__ = [
    "Activation",
    "PiecewiseLinear",
    "ShiftedSigmoid",
    "Tanh",
    "activation_derivative",
    "activation_value",
    "get_activation",
    "list_activations",
    "mmn18",
    "relu",
]

# integer codes understood by the compiled evaluators
CODE_PIECEWISE_LINEAR = 0
CODE_TANH = 1
CODE_SIGMOID = 2


class Activation:
    """Base class: an activation ``σ: R → R`` with its Gaussian expectations.

    Subclasses implement :meth:`value`, :meth:`derivative`, :meth:`numba_spec` and either
    the closed forms or :meth:`_quadrature_rule`; the base class supplies quadrature
    fallbacks for all expectations.
    """

    name = "activation"

    # -- pointwise ---------------------------------------------------------------------
    def value(self, t):
        """``σ(t)`` (vectorised)."""
        raise NotImplementedError

    def derivative(self, t):
        """``σ'(t)`` (vectorised; one-sided choice at kinks)."""
        raise NotImplementedError

    def __call__(self, t):
        return self.value(t)

    def numba_spec(self) -> tuple[int, np.ndarray]:
        """``(code, params)`` for :func:`activation_value` / :func:`activation_derivative`."""
        raise NotImplementedError

    def to_config(self) -> dict:
        """JSON-serialisable description; :func:`get_activation` inverts it."""
        raise NotImplementedError

    # -- Gaussian expectations (quadrature fallbacks) ----------------------------------
    @staticmethod
    def _rule():
        return _GAUSSIAN_RULE

    def gaussian_mean(self, a):
        """``q(a) = E σ(aG)``, ``G ~ N(0,1)``."""
        return self.hermite_coefficients(a, 0)[..., 0]

    def gaussian_second_moment(self, a):
        """``E σ(aG)²`` (``= E σ(0 + |a| G)²``, see :meth:`smoothed_second_moment`)."""
        a = np.abs(np.asarray(a, dtype=float))
        return self.smoothed_second_moment(np.zeros_like(a), a)

    def smoothed_second_moment(self, t, r):
        """``E σ(t + rG)²`` (vectorised, broadcasting ``t`` against ``r``)."""
        t, r = np.broadcast_arrays(np.asarray(t, float), np.asarray(r, float))
        g, w = self._rule()
        vals = self.value(t[..., None] + r[..., None] * g)
        return (vals * vals) @ w

    def hermite_coefficients(self, a, k_max: int) -> np.ndarray:
        """``h_k(a) = E[σ(aG) He_k(G)]`` for ``k = 0 … k_max``.

        Returns an array of shape ``a.shape + (k_max + 1,)``.
        """
        a = np.asarray(a, dtype=float)
        g, w = self._rule()
        he_w = hermite_polynomials(g, k_max) * w  # (k, nodes)
        vals = self.value(a[..., None] * g)  # (..., nodes)
        return vals @ he_w.T

    def hermite_coefficients_derivative(self, a, k_max: int) -> np.ndarray:
        """``∂_a h_k(a) = E[σ'(aG) G He_k(G)]`` for ``k = 0 … k_max``."""
        a = np.asarray(a, dtype=float)
        g, w = self._rule()
        he_w = hermite_polynomials(g, k_max) * (w * g)
        vals = self.derivative(a[..., None] * g)
        return vals @ he_w.T

    def smoothed(self, t, r):
        """``σ_r(t) = E σ(t + rG)`` (vectorised, broadcasting ``t`` against ``r``)."""
        t, r = np.broadcast_arrays(np.asarray(t, float), np.asarray(r, float))
        g, w = self._rule()
        return self.value(t[..., None] + r[..., None] * g) @ w

    def smoothed_derivative(self, t, r):
        """``∂_t σ_r(t) = E σ'(t + rG)``."""
        t, r = np.broadcast_arrays(np.asarray(t, float), np.asarray(r, float))
        g, w = self._rule()
        return self.derivative(t[..., None] + r[..., None] * g) @ w

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_config()})"


_GAUSSIAN_RULE = gaussian_rule()


class PiecewiseLinear(Activation):
    """Continuous piecewise-linear activation through the points ``(knots_j, values_j)``.

    Left of the first knot ``σ`` continues with slope ``left_slope``, right of the last
    knot with slope ``right_slope`` (both 0 by default: a bounded, "clipped" activation).

    Parameters
    ----------
    knots : sequence of float
        Strictly increasing break points ``t_1 < … < t_n`` (``n ≥ 1``).
    values : sequence of float
        ``σ(t_j)``.
    left_slope, right_slope : float
        Slopes of the two unbounded pieces.
    name : str
        Label used in configs and plots.
    """

    def __init__(
        self,
        knots: Sequence[float],
        values: Sequence[float],
        left_slope: float = 0.0,
        right_slope: float = 0.0,
        name: str = "piecewise-linear",
    ):
        knots = np.asarray(knots, dtype=float)
        values = np.asarray(values, dtype=float)
        if knots.ndim != 1 or knots.size < 1:
            raise ValueError("knots must be a non-empty 1-D sequence")
        if values.shape != knots.shape:
            raise ValueError(
                f"values must have the same length as knots ({knots.size}), got {values.size}"
            )
        if not np.all(np.isfinite(knots)) or not np.all(np.isfinite(values)):
            raise ValueError("knots and values must be finite")
        if np.any(np.diff(knots) <= 0):
            raise ValueError("knots must be strictly increasing")
        self.knots = knots
        self.values = values
        self.left_slope = float(left_slope)
        self.right_slope = float(right_slope)
        self.name = name
        inner = np.diff(values) / np.diff(knots)
        slopes = np.concatenate([[self.left_slope], inner, [self.right_slope]])
        #: slope jumps Δs_j at each knot
        self.slope_jumps = np.diff(slopes)
        #: constant in σ(t) = c0 + s_left t + Σ Δs_j (t − t_j)_+
        self.offset = values[0] - self.left_slope * knots[0]

    # -- pointwise ---------------------------------------------------------------------
    def value(self, t):
        t = np.asarray(t, dtype=float)
        out = self.offset + self.left_slope * t
        for tj, ds in zip(self.knots, self.slope_jumps):
            out = out + ds * np.maximum(t - tj, 0.0)
        return out

    def derivative(self, t):
        t = np.asarray(t, dtype=float)
        out = np.full(t.shape, self.left_slope)
        for tj, ds in zip(self.knots, self.slope_jumps):
            out = out + ds * (t > tj)
        return out

    def numba_spec(self):
        n = self.knots.size
        params = np.concatenate(
            [[float(n), self.left_slope, self.right_slope], self.knots, self.values]
        )
        return CODE_PIECEWISE_LINEAR, params

    def to_config(self):
        return {
            "kind": "piecewise-linear",
            "name": self.name,
            "knots": self.knots.tolist(),
            "values": self.values.tolist(),
            "left_slope": self.left_slope,
            "right_slope": self.right_slope,
        }

    # -- closed-form Gaussian expectations ---------------------------------------------
    def smoothed(self, t, r):
        r"""``σ_r(t) = E σ(t + rG) = c_0 + s_left t + Σ_j Δs_j [μ_j Φ(μ_j/r) + r φ(μ_j/r)]``,
        ``μ_j = t − t_j`` (``σ_0 = σ``)."""
        t, r = np.broadcast_arrays(np.asarray(t, float), np.asarray(r, float))
        out = self.offset + self.left_slope * t
        for tj, ds in zip(self.knots, self.slope_jumps):
            out = out + ds * _relu_gaussian_mean(t - tj, r)
        return out

    def smoothed_derivative(self, t, r):
        """``∂_t σ_r(t) = s_left + Σ_j Δs_j Φ((t − t_j)/r)``."""
        t, r = np.broadcast_arrays(np.asarray(t, float), np.asarray(r, float))
        out = np.full(t.shape, self.left_slope)
        for tj, ds in zip(self.knots, self.slope_jumps):
            out = out + ds * _step_gaussian_mean(t - tj, r)
        return out

    def gaussian_mean(self, a):
        a = np.asarray(a, dtype=float)
        return self.smoothed(np.zeros_like(a), np.abs(a))

    def hermite_coefficients(self, a, k_max: int) -> np.ndarray:
        """Closed form: ``h_0 = q(a)``, ``h_1 = a E σ'(aG)``,
        ``h_k = a Σ_j Δs_j He_{k−2}(t_j/a) φ(t_j/a)`` for ``k ≥ 2`` (``a ≠ 0``);
        ``h_k(−a) = (−1)^k h_k(a)`` and ``h_k(0) = σ(0) δ_{k0}``."""
        a = np.asarray(a, dtype=float)
        sign = np.where(a < 0, -1.0, 1.0)
        b = np.abs(a)
        out = np.zeros((*a.shape, k_max + 1))
        out[..., 0] = self.gaussian_mean(b)
        if k_max == 0:
            return out
        pos = b > 0
        bsafe = np.where(pos, b, 1.0)
        h1 = np.full(a.shape, self.left_slope)
        for tj, ds in zip(self.knots, self.slope_jumps):
            x = tj / bsafe
            h1 = h1 + ds * ndtr(-x)
            if k_max >= 2:
                x_safe, pdf = _tail_safe(x)
                he = hermite_polynomials(x_safe, k_max - 2)  # (k_max-1, ...)
                contrib = ds * bsafe * he * pdf
                out[..., 2:] += np.moveaxis(contrib, 0, -1)
        out[..., 1] = bsafe * h1
        out[..., 1:] = np.where(pos[..., None], out[..., 1:], 0.0)
        parity = (-1.0) ** np.arange(k_max + 1)
        return np.where((sign < 0)[..., None], out * parity, out)

    def hermite_coefficients_derivative(self, a, k_max: int) -> np.ndarray:
        """Closed form for ``a > 0`` (``x_j = t_j / a``):
        ``h_0' = Σ_j Δs_j φ(x_j)``, ``h_1' = s_left + Σ_j Δs_j [Φ(−x_j) + x_j φ(x_j)]``,
        ``h_k' = Σ_j Δs_j φ(x_j) [He_{k−2}(x_j) + x_j He_{k−1}(x_j)]`` for ``k ≥ 2``.
        Only ``a ≥ 0`` is supported (the models use ``a = (1 ± Δ) r``)."""
        a = np.asarray(a, dtype=float)
        if np.any(a < 0):
            raise ValueError("hermite_coefficients_derivative needs a >= 0")
        pos = a > 0
        bsafe = np.where(pos, a, 1.0)
        out = np.zeros((*a.shape, k_max + 1))
        if k_max >= 1:
            out[..., 1] = self.left_slope
        for tj, ds in zip(self.knots, self.slope_jumps):
            x = tj / bsafe
            x_safe, pdf = _tail_safe(x)
            he = hermite_polynomials(x_safe, max(k_max - 1, 0))
            out[..., 0] += ds * pdf
            if k_max >= 1:
                out[..., 1] += ds * (ndtr(-x) + x * pdf)
            if k_max >= 2:
                contrib = ds * pdf * (he[: k_max - 1] + x * he[1:k_max])
                out[..., 2:] += np.moveaxis(contrib, 0, -1)
        # a -> 0+: every term carries φ(t_j/a) -> 0 unless t_j = 0; keep the a=0 limit
        # explicit so that a knot at the origin (ReLU) is handled too.
        if np.any(~pos):
            limit = self._derivative_at_zero(k_max)
            out = np.where(pos[..., None], out, limit)
        return out

    def _derivative_at_zero(self, k_max):
        out = np.zeros(k_max + 2)
        # h_1'(0) = E σ'(0·G) with one-sided kinks averaged: slope at 0 from both sides
        out[1] = self.left_slope + sum(
            ds * (1.0 if tj < 0 else 0.5 if tj == 0 else 0.0)
            for tj, ds in zip(self.knots, self.slope_jumps)
        )
        he0 = hermite_polynomials(0.0, max(k_max - 1, 0))
        for tj, ds in zip(self.knots, self.slope_jumps):
            if tj == 0.0:
                out[0] += ds * standard_normal_pdf(0.0)
                if k_max >= 2:
                    out[2 : k_max + 1] += ds * standard_normal_pdf(0.0) * he0[: k_max - 1]
        return out[: k_max + 1]

    def smoothed_second_moment(self, t, r):
        r"""``E σ(t + rG)²`` in closed form from the ReLU expansion of ``σ``.

        With ``X = rG``, ``c = c_0 + s_left t``, ``u_j = t_j − t``, ``x_j = u_j/r``:
        ``σ(t + X) = c + s_left X + Σ_j Δs_j (X − u_j)_+``, ``E(X−u)_+ = rφ(x) − uΦ(−x)``,
        ``E[X(X−u)_+] = r²Φ(−x)``, ``E[(X−u_i)_+(X−u_j)_+] = r²(Φ(−x_m) + x_mφ(x_m))
        − r(u_i+u_j)φ(x_m) + u_iu_jΦ(−x_m)``, ``m = argmax(u_i, u_j)``;
        ``σ(t)²`` for ``r = 0``.
        """
        t, r = np.broadcast_arrays(np.asarray(t, float), np.asarray(r, float))
        pos = r > 0
        b = np.where(pos, r, 1.0)
        c = self.offset + self.left_slope * t
        left = self.left_slope
        total = c * c + left * left * b * b
        for tj, ds in zip(self.knots, self.slope_jumps):
            u = tj - t
            x = u / b
            tail, pdf = ndtr(-x), standard_normal_pdf(x)
            total = total + 2.0 * c * ds * (b * pdf - u * tail) + 2.0 * left * ds * b * b * tail
        for ti, di in zip(self.knots, self.slope_jumps):
            for tj, dj in zip(self.knots, self.slope_jumps):
                ui, uj = ti - t, tj - t
                x = np.maximum(ui, uj) / b
                tail, pdf = ndtr(-x), standard_normal_pdf(x)
                total = total + di * dj * (
                    b * b * (tail + x * pdf) - b * (ui + uj) * pdf + ui * uj * tail
                )
        return np.where(pos, total, self.value(t) ** 2)


# beyond |x| = 38, φ(x) < 1e-313: such knots contribute exactly nothing in float64, while
# He_n(x) would overflow for large n (inf · 0 = NaN)
_TAIL_CUTOFF = 38.0


def _tail_safe(x):
    """``(x', φ(x))`` with ``x' = 0`` wherever ``φ(x)`` is negligible (``|x| > 38``)."""
    far = np.abs(x) > _TAIL_CUTOFF
    pdf = np.where(far, 0.0, standard_normal_pdf(np.where(far, 0.0, x)))
    return np.where(far, 0.0, x), pdf


def _relu_gaussian_mean(mu, r):
    """``E (μ + rG)_+ = μ Φ(μ/r) + r φ(μ/r)`` (``= max(μ, 0)`` for ``r = 0``)."""
    pos = r > 0
    rs = np.where(pos, r, 1.0)
    z = mu / rs
    return np.where(pos, mu * ndtr(z) + rs * standard_normal_pdf(z), np.maximum(mu, 0.0))


def _step_gaussian_mean(mu, r):
    """``P(μ + rG > 0) = Φ(μ/r)`` (``= 1{μ > 0}`` for ``r = 0``)."""
    pos = r > 0
    rs = np.where(pos, r, 1.0)
    return np.where(pos, ndtr(mu / rs), (mu > 0).astype(float))


class Tanh(Activation):
    """``σ(t) = tanh(t)``; Gaussian expectations by composite Gauss–Legendre quadrature."""

    name = "tanh"

    def __init__(self):
        pass

    def value(self, t):
        return np.tanh(t)

    def derivative(self, t):
        return 1.0 - np.tanh(t) ** 2

    def numba_spec(self):
        return CODE_TANH, np.zeros(2)

    def to_config(self):
        return {"kind": "tanh"}


class ShiftedSigmoid(Activation):
    """``σ(t) = 1/(1 + exp(−(t − shift))) − offset``.

    The default (``shift = 0``, ``offset = 1/2``) is the centred logistic function
    ``tanh(t/2)/2``.
    """

    name = "shifted-sigmoid"

    def __init__(self, shift: float = 0.0, offset: float = 0.5):
        self.shift = float(shift)
        self.offset = float(offset)

    def value(self, t):
        return expit(np.asarray(t, float) - self.shift) - self.offset

    def derivative(self, t):
        s = expit(np.asarray(t, float) - self.shift)
        return s * (1.0 - s)

    def numba_spec(self):
        return CODE_SIGMOID, np.array([self.shift, self.offset])

    def to_config(self):
        return {"kind": "shifted-sigmoid", "shift": self.shift, "offset": self.offset}


def mmn18(t1: float = 0.5, t2: float = 1.5, s1: float = -2.5, s2: float = 7.5):
    """The MMN18 piecewise-linear activation: ``s1`` for ``t ≤ t1``, ``s2`` for ``t ≥ t2``,
    linear in between (defaults ``t1 = 0.5, t2 = 1.5, s1 = −2.5, s2 = 7.5``)."""
    if not t1 < t2:
        raise ValueError(f"mmn18 activation needs t1 < t2, got t1={t1}, t2={t2}")
    return PiecewiseLinear([t1, t2], [s1, s2], name="mmn18")


def relu():
    """``σ(t) = max(t, 0)``."""
    return PiecewiseLinear([0.0], [0.0], left_slope=0.0, right_slope=1.0, name="relu")


_FACTORIES = {
    "mmn18": mmn18,
    "relu": relu,
    "tanh": Tanh,
    "shifted-sigmoid": ShiftedSigmoid,
    "sigmoid": ShiftedSigmoid,
}


def list_activations() -> list[str]:
    """Names accepted by :func:`get_activation`."""
    return sorted(_FACTORIES)


def get_activation(spec) -> Activation:
    """Build an activation from a name, a config dict (see ``to_config``) or an instance.

    Examples
    --------
    >>> get_activation("relu")(np.array([-1.0, 2.0]))
    array([0., 2.])
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key not in _FACTORIES:
            raise ValueError(
                f"activation must be one of {list_activations()} (or a config dict), "
                f"got {spec!r}"
            )
        return _FACTORIES[key]()
    if isinstance(spec, dict):
        cfg = dict(spec)
        kind = cfg.pop("kind", None)
        factories = {"piecewise-linear": PiecewiseLinear, **_FACTORIES}
        if kind not in factories:
            raise ValueError(
                f"unknown activation kind {kind!r} in {spec!r}; "
                f"valid kinds: {', '.join(sorted(factories))}"
            )
        if kind == "piecewise-linear":
            cfg.setdefault("name", "piecewise-linear")
        try:
            return factories[kind](**cfg)
        except TypeError as exc:
            raise ValueError(f"invalid activation config {spec!r}: {exc}") from None
    raise ValueError(f"activation must be a name, a dict or an Activation, got {type(spec)}")


# -- compiled evaluators for Numba kernels ---------------------------------------------


@numba.njit(cache=True, inline="always")
def activation_value(code, params, t):
    """``σ(t)`` for the activation described by ``(code, params)`` (see ``numba_spec``).

    Piecewise-linear layout: ``params = [n, left_slope, right_slope, knots(n), values(n)]``;
    indices are used instead of array slices (this runs once per neuron per SGD step).
    """
    if code == CODE_PIECEWISE_LINEAR:
        n = int(params[0])
        k0 = 3
        v0 = 3 + n
        if t <= params[k0]:
            return params[v0] + params[1] * (t - params[k0])
        if t >= params[k0 + n - 1]:
            return params[v0 + n - 1] + params[2] * (t - params[k0 + n - 1])
        j = 0
        while t > params[k0 + j + 1]:
            j += 1
        frac = (t - params[k0 + j]) / (params[k0 + j + 1] - params[k0 + j])
        return params[v0 + j] + frac * (params[v0 + j + 1] - params[v0 + j])
    if code == CODE_TANH:
        return math.tanh(t)
    # CODE_SIGMOID: 1/(1 + e^{-x}) (one exp: four times faster than tanh; e^{-x} = inf
    # gives 0 exactly)
    return 1.0 / (1.0 + math.exp(params[0] - t)) - params[1]


@numba.njit(cache=True, inline="always")
def activation_derivative(code, params, t):
    """``σ'(t)`` for ``(code, params)``; at a kink the left slope is returned."""
    if code == CODE_PIECEWISE_LINEAR:
        n = int(params[0])
        k0 = 3
        v0 = 3 + n
        if t <= params[k0]:
            return params[1]
        if t > params[k0 + n - 1]:
            return params[2]
        j = 0
        while t > params[k0 + j + 1]:
            j += 1
        return (params[v0 + j + 1] - params[v0 + j]) / (params[k0 + j + 1] - params[k0 + j])
    if code == CODE_TANH:
        th = math.tanh(t)
        return 1.0 - th * th
    s = 1.0 / (1.0 + math.exp(params[0] - t))
    return s * (1.0 - s)
