"""Sparse-parity data on the scaled hypercube.

Inputs are uniform on ``{±1/√d}^d`` (so ``‖z‖ = 1``) and the label of ``z`` is

.. math::  y = \\operatorname{sign}\\Big(\\prod_{i \\le k} z_i\\Big) \\in \\{-1, +1\\},

the parity of the first ``k`` coordinates (``k = 2``: XOR). The product of ``k`` entries
``±1/√d`` is never zero, so the sign is always defined.

A training set holds ``n`` i.i.d. draws. The test set is the whole hypercube (``2^d``
points, so the test error is the exact population error) when ``2^d`` is at most the
requested test size, and otherwise ``n_test`` fresh i.i.d. draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ParityData",
    "hypercube_inputs",
    "hypercube_points",
    "make_parity_data",
    "parity_labels",
]


def hypercube_inputs(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` i.i.d. points uniform on ``{±1/√d}^d``.

    Parameters
    ----------
    n, d : int
        Number of points (``n >= 0``) and dimension (``d >= 1``).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (n, d), float64
    """
    if n < 0:
        raise ValueError(f"parameter 'n' must be an int >= 0, got {n}")
    if d < 1:
        raise ValueError(f"parameter 'd' must be an int >= 1, got {d}")
    signs = rng.integers(0, 2, size=(n, d), dtype=np.int8)
    return (2.0 * signs - 1.0) / np.sqrt(d)


def hypercube_points(d: int) -> np.ndarray:
    """All ``2^d`` points of ``{±1/√d}^d`` (row ``m`` has ``−`` where bit ``i`` of ``m`` is 0).

    Parameters
    ----------
    d : int
        Dimension, ``1 <= d <= 24`` (2^24 points is the limit kept in memory).
    """
    if not 1 <= d <= 24:
        raise ValueError(f"parameter 'd' must be an int in [1, 24] to enumerate the "
                         f"hypercube, got {d}")
    m = np.arange(2**d, dtype=np.int64)
    bits = (m[:, None] >> np.arange(d, dtype=np.int64)[None, :]) & 1
    return (2.0 * bits - 1.0) / np.sqrt(d)


def parity_labels(z: np.ndarray, k: int) -> np.ndarray:
    """Labels ``sign(z_1 ⋯ z_k)`` (float64, ±1) of the rows of ``z``.

    Parameters
    ----------
    z : ndarray, shape (n, d)
        Points with non-zero entries.
    k : int
        Number of relevant coordinates, ``1 <= k <= d``.
    """
    z = np.asarray(z)
    d = z.shape[1]
    if not 1 <= k <= d:
        raise ValueError(f"parameter 'k' must be an int in [1, d={d}], got {k}")
    negatives = np.count_nonzero(z[:, :k] < 0, axis=1)
    return np.where(negatives % 2 == 0, 1.0, -1.0)


@dataclass
class ParityData:
    """A training set and a test set of the ``k``-sparse parity in dimension ``d``.

    Attributes
    ----------
    z_train : ndarray, shape (n, d)
    y_train : ndarray, shape (n,)
    z_test : ndarray, shape (n_test, d)
    y_test : ndarray, shape (n_test,)
    test_exact : bool
        ``True`` when the test set is the whole hypercube (exact population error).
    k : int
    """

    z_train: np.ndarray
    y_train: np.ndarray
    z_test: np.ndarray
    y_test: np.ndarray
    test_exact: bool
    k: int

    @property
    def d(self) -> int:
        return self.z_train.shape[1]


def make_parity_data(d: int, k: int, n: int, rng: np.random.Generator,
                     n_test: int = 10_000) -> ParityData:
    """Draw a training set of ``n`` points; the test set is exact when ``2^d <= n_test``.

    Parameters
    ----------
    d, k : int
        Dimension and parity order, ``1 <= k <= d``.
    n : int
        Training-set size, ``n >= 1``.
    rng : numpy.random.Generator
        Draws the training points first, then (if not exact) the test points.
    n_test : int
        Test-set size when the hypercube is too large to enumerate (``>= 1``).
    """
    if n < 1:
        raise ValueError(f"parameter 'n' must be an int >= 1, got {n}")
    if n_test < 1:
        raise ValueError(f"parameter 'n_test' must be an int >= 1, got {n_test}")
    if not 1 <= k <= d:
        raise ValueError(f"parameter 'k' must be an int in [1, d={d}], got {k}")
    z_train = hypercube_inputs(n, d, rng)
    exact = d <= 24 and 2**d <= n_test
    z_test = hypercube_points(d) if exact else hypercube_inputs(n_test, d, rng)
    return ParityData(z_train, parity_labels(z_train, k), z_test, parity_labels(z_test, k),
                      exact, k)
