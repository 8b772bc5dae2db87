"""Throughput of the compiled online-SGD kernel against the plain NumPy update.

Gaussian-classes problem (MMN18 setting by default: N = 800, d = 320, Δ = 0.5), one core,
one sample per step. Reports SGD steps per second of the Numba kernel and of three NumPy/SciPy
versions of the same update with the same sampler (straightforward in-place NumPy, the
allocating NumPy twin :func:`reducedpde.sgd.sgd_step_numpy`, and two in-place BLAS calls),
the ratios, and the memory throughput of the kernel's sweep over the ``N × d`` weights.

The kernel visits each weight row once per step: it updates the row and, in the same visit,
computes the row's pre-activation for the next sample (16 bytes per weight: one read, one
write). A two-pass implementation (pre-activations, then update) moves 24 bytes per weight;
both figures are printed.

Usage::

    python benchmarks/bench_sgd.py [--N 800] [--d 320] [--seconds 2] [--beta inf]
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from scipy.linalg.blas import dgemv, dger  # noqa: E402

from reducedpde.activations import get_activation  # noqa: E402
from reducedpde.sgd.kernels import SAMPLER_GAUSSIAN_CLASSES, KernelState  # noqa: E402
from reducedpde.sgd.reference import (  # noqa: E402
    draw_gaussian_classes_numpy,
    sgd_step_numpy,
)


def _rate(run_steps, seconds):
    """Best steps/s of ``run_steps(n)`` over repeated calls lasting ``seconds`` in total."""
    run_steps(4)  # compile / warm up
    n, best, spent = 8, math.inf, 0.0
    while spent < seconds:
        start = time.perf_counter()
        run_steps(n)
        elapsed = time.perf_counter() - start
        spent += elapsed
        best = min(best, elapsed / n)
        if elapsed < 0.2:
            n *= 2
    return 1.0 / best


def numba_steps(W0, act, delta, eps, beta):
    """The compiled kernel."""
    state = KernelState(
        W0,
        None,
        act,
        SAMPLER_GAUSSIAN_CLASSES,
        np.random.default_rng(1),
        np.random.default_rng(2),
        beta=beta,
        delta=delta,
    )
    return lambda n: state.advance(np.full(n, eps))


def twin_steps(W0, act, delta, eps, beta):
    """The NumPy twin of the kernel (:func:`sgd_step_numpy`, new arrays every step)."""
    W, A = W0.copy(), np.ones(W0.shape[0])
    rng_x, rng_noise = np.random.default_rng(1), np.random.default_rng(2)

    def run(n):
        nonlocal W
        for _ in range(n):
            X, Y = draw_gaussian_classes_numpy(rng_x, W.shape[1], delta)
            W, _ = sgd_step_numpy(W, A, X, Y, eps, act, beta=beta, rng_noise=rng_noise)

    return run


def inplace_steps(W0, act, delta, eps, beta):
    """Straightforward in-place NumPy: ``h = W x``, ``W += outer(2 s e σ'(h), x) + noise``."""
    W = W0.copy()
    rng_x, rng_noise = np.random.default_rng(1), np.random.default_rng(2)
    noise = 0.0 if math.isinf(beta) else math.sqrt(4.0 * eps / beta)

    def run(n):
        nonlocal W
        for _ in range(n):
            X, Y = draw_gaussian_classes_numpy(rng_x, W.shape[1], delta)
            x, y = X[0], Y[0]
            h = W @ x
            e = y - act.value(h).mean()
            W += np.outer((2.0 * eps * e) * act.derivative(h), x)
            if noise:
                W += noise * rng_noise.standard_normal(W.shape)

    return run


def blas_steps(W0, act, delta, eps, beta):
    """Two BLAS passes: ``dgemv`` for the pre-activations, in-place rank-1 ``dger``."""
    W = np.asfortranarray(W0)
    rng_x, rng_noise = np.random.default_rng(1), np.random.default_rng(2)
    noise = 0.0 if math.isinf(beta) else math.sqrt(4.0 * eps / beta)

    def run(n):
        nonlocal W
        for _ in range(n):
            X, Y = draw_gaussian_classes_numpy(rng_x, W.shape[1], delta)
            x, y = X[0], Y[0]
            h = dgemv(1.0, W, x)
            e = y - act.value(h).mean()
            W = dger(1.0, (2.0 * eps * e) * act.derivative(h), x, a=W, overwrite_a=True)
            if noise:
                W += noise * rng_noise.standard_normal(W.shape)

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=800)
    parser.add_argument("--d", type=int, default=320)
    parser.add_argument("--delta", type=float, default=0.5)
    parser.add_argument("--kappa", type=float, default=0.4)
    parser.add_argument("--eps", type=float, default=1e-4)
    parser.add_argument("--beta", type=float, default=math.inf)
    parser.add_argument("--activation", default="mmn18")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="time spent measuring each implementation"
    )
    args = parser.parse_args(argv)

    act = get_activation(args.activation)
    rng = np.random.default_rng(0)
    W0 = (args.kappa / math.sqrt(args.d)) * rng.standard_normal((args.N, args.d))
    setup = (W0, act, args.delta, args.eps, args.beta)
    rates = {
        "numba kernel": _rate(numba_steps(*setup), args.seconds),
        "numpy in-place": _rate(inplace_steps(*setup), args.seconds),
        "numpy twin": _rate(twin_steps(*setup), args.seconds),
        "scipy BLAS": _rate(blas_steps(*setup), args.seconds),
    }
    n_weights = args.N * args.d
    numba_rate = rates["numba kernel"]
    print(
        f"online SGD, Gaussian classes: N = {args.N}, d = {args.d}, activation = "
        f"{act.name}, beta = {args.beta:g}, batch = 1, one thread"
    )
    for name, rate in rates.items():
        ratio = "" if name == "numba kernel" else f"   numba / this = {numba_rate / rate:5.2f} x"
        print(f"  {name:15s}: {rate:9.0f} steps/s ({1e6 / rate:8.1f} us/step){ratio}")
    print("  numpy in-place = h = W x; W += outer(2 s e σ'(h), x)  (the straightforward update)")
    print("  numpy twin     = reducedpde.sgd.sgd_step_numpy (allocates new arrays each step)")
    print("  scipy BLAS     = dgemv + in-place dger (two passes over W)")
    print(
        f"  numba weight sweep: {16 * n_weights * numba_rate / 1e9:6.1f} GB/s (one fused pass, "
        f"16 B/weight), {24 * n_weights * numba_rate / 1e9:6.1f} GB/s two-pass equivalent "
        f"(24 B/weight)"
    )


if __name__ == "__main__":
    main()
