"""Throughput of the compiled online-SGD kernel against NumPy, SciPy BLAS and PyTorch.

Gaussian-classes problem (MMN18: Δ = 0.5, MMN18 activation), one sample per step, one
thread for every implementation. Each implementation draws its own sample ``x`` (``d``
Gaussians) every step and applies the same update

    h = W x,   e = y − mean σ(h),   W += outer(2 s e σ'(h), x),

* ``numba kernel``: :class:`reducedpde.solvers.particles.kernels.KernelState` (what
  :func:`reducedpde.models.gaussians.simulate_gaussians` runs), many steps per compiled call;
* ``numpy in-place``: the lines above in NumPy (``W += np.outer(...)``);
* ``numpy twin``: :func:`reducedpde.models.gaussians.particles_reference.sgd_step_numpy`
  (new arrays every step);
* ``scipy BLAS``: ``dgemv`` + in-place rank-1 ``dger`` (two passes over ``W``);
* ``torch``: PyTorch CPU, float64, ``torch.set_num_threads(1)``, ``torch.mv`` + in-place
  ``addr_``.

Memory bound: a step must stream the ``N × d`` float64 weights. Two passes (read for
``h = W x``, then read + write for the update: 24 B/weight) is what the NumPy, BLAS and
PyTorch versions do; the kernel fuses the update of each row with the pre-activation of
the next sample (one pass, 16 B/weight) and only reads the rows whose gradient vanishes
(8 B/weight; σ' = 0 outside (0.5, 1.5] for MMN18). The bandwidths come from simple streaming kernels
(a Numba read-only sum and a read–modify–write ``a = s·a + c``) over an array of the same
size as ``W`` (so at the same cache level), measured in the same run, and a DRAM-sized
triad for reference.

Usage::

    python -m benchmarks --only sgd                # the N × d grid
    python -m benchmarks.bench_sgd [--N 800] [--d 320] [--seconds 2] [--beta inf]
"""

from __future__ import annotations

if __package__ in (None, ""):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    __package__ = "benchmarks"
    import benchmarks  # noqa: F401  (one thread everywhere, before NumPy and Numba load)

import argparse
import math
import time

import numba
import numpy as np
from scipy.linalg.blas import dgemv, dger

from reducedpde.activations import get_activation
from reducedpde.models.gaussians.particles_reference import (
    draw_gaussian_classes_numpy,
    sgd_step_numpy,
)
from reducedpde.solvers.particles.kernels import SAMPLER_GAUSSIAN_CLASSES, KernelState

from . import common

GRID_N = (100, 800, 3200)
GRID_D = (40, 320, 1280)


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


def torch_steps(W0, act, delta, eps, beta):
    """PyTorch CPU (float64, one thread): ``torch.mv`` and the in-place rank-1 ``addr_``.

    The piecewise-linear activation is ``σ(t) = c₀ + s₀ t + Σ_j Δs_j (t − t_j)_+`` and
    ``σ'(t) = s₀ + Σ_j Δs_j 1[t > t_j]``, as in :class:`reducedpde.activations.PiecewiseLinear`.
    """
    import torch

    torch.set_num_threads(1)
    W = torch.tensor(W0, dtype=torch.float64)
    gen = torch.Generator().manual_seed(1)
    gen_noise = torch.Generator().manual_seed(2)
    d = W.shape[1]
    knots = [float(k) for k in act.knots]
    jumps = [float(s) for s in act.slope_jumps]
    offset, left = float(act.offset), float(act.left_slope)
    noise = 0.0 if math.isinf(beta) else math.sqrt(4.0 * eps / beta)

    def sigma(h):
        out = offset + left * h
        for tj, ds in zip(knots, jumps):
            out = out + ds * torch.clamp(h - tj, min=0.0)
        return out

    def sigma_prime(h):
        out = torch.full_like(h, left)
        for tj, ds in zip(knots, jumps):
            out = out + ds * (h > tj)
        return out

    def run(n):
        with torch.no_grad():
            for _ in range(n):
                y = 1.0 if torch.rand((), generator=gen).item() < 0.5 else -1.0
                x = torch.randn(d, generator=gen, dtype=torch.float64) * (1.0 + delta * y)
                h = torch.mv(W, x)
                e = y - sigma(h).mean()
                W.addr_((2.0 * eps) * e * sigma_prime(h), x)
                if noise:
                    W.add_(torch.randn(W.shape, generator=gen_noise, dtype=torch.float64),
                           alpha=noise)

    return run


IMPLEMENTATIONS = {
    "numba kernel": numba_steps,
    "numpy in-place": inplace_steps,
    "scipy BLAS": blas_steps,
    "torch": torch_steps,
}


# ----------------------------------------------------------------------------------------
# streaming bandwidth
# ----------------------------------------------------------------------------------------


@numba.njit(cache=True, fastmath=True)
def _stream_read(a):
    acc = 0.0
    for i in range(a.size):
        acc += a[i]
    return acc


@numba.njit(cache=True, fastmath=True)
def _stream_rmw(a, s, c):
    for i in range(a.size):
        a[i] = s * a[i] + c


@numba.njit(cache=True, fastmath=True)
def _triad(a, b, c, s):
    for i in range(a.size):
        a[i] = b[i] + s * c[i]


def _best_seconds(fn, seconds):
    fn()
    best, spent = math.inf, 0.0
    while spent < seconds:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        spent += elapsed
        best = min(best, elapsed)
    return best


def stream_bandwidth(n_values, seconds=0.3):
    """GB/s of a read-only pass (8 B/value) and of a read–modify–write pass (16 B/value)
    over ``n_values`` float64 (repeated so that each timing lasts ≥ 0.5 ms)."""
    a = np.random.default_rng(0).standard_normal(n_values)
    reps = max(1, int(60_000 // max(n_values, 1)))

    def read():
        for _ in range(reps):
            _stream_read(a)

    def rmw():
        for _ in range(reps):
            _stream_rmw(a, 0.999999, 1e-9)

    t_read = _best_seconds(read, seconds)
    t_rmw = _best_seconds(rmw, seconds)
    return 8.0 * n_values * reps / t_read / 1e9, 16.0 * n_values * reps / t_rmw / 1e9


def dram_triad_bandwidth(n_values=16_000_000, seconds=1.0):
    """GB/s of ``a = b + s·c`` over three arrays of ``n_values`` float64 (24 B/value)."""
    rng = np.random.default_rng(0)
    a, b, c = np.empty(n_values), rng.standard_normal(n_values), rng.standard_normal(n_values)
    t = _best_seconds(lambda: _triad(a, b, c, 0.5), seconds)
    return 24.0 * n_values / t / 1e9


# ----------------------------------------------------------------------------------------
# grid
# ----------------------------------------------------------------------------------------


def measure(N, d, seconds, implementations, delta=0.5, kappa=0.4, eps=1e-4, beta=math.inf,
            activation="mmn18"):
    act = get_activation(activation)
    W0 = (kappa / math.sqrt(d)) * np.random.default_rng(0).standard_normal((N, d))
    rates = {}
    for name, factory in implementations.items():
        rates[name] = _rate(factory(W0, act, delta, eps, beta), seconds)
    bw_read, bw_rmw = stream_bandwidth(N * d)
    weights = N * d
    bound_two_pass = 1.0 / (weights * (8.0 / (bw_read * 1e9) + 16.0 / (bw_rmw * 1e9)))
    bound_one_pass = 1.0 / (weights * 16.0 / (bw_rmw * 1e9))
    kernel = rates["numba kernel"]
    return {
        "N": N,
        "d": d,
        "steps_per_s": rates,
        "stream_read_GBps": bw_read,
        "stream_rmw_GBps": bw_rmw,
        "bound_two_pass_steps_per_s": bound_two_pass,
        "bound_one_pass_steps_per_s": bound_one_pass,
        "kernel_fraction_of_two_pass_bound": kernel / bound_two_pass,
        "kernel_fraction_of_one_pass_bound": kernel / bound_one_pass,
        "ratios": {name: kernel / r for name, r in rates.items() if not name.startswith("numba")},
    }


def run(quick=False, log=print):
    implementations = dict(IMPLEMENTATIONS)
    skipped = {}
    try:
        import torch  # noqa: F401
    except ImportError:
        implementations.pop("torch")
        skipped["torch"] = "not installed"
    sizes = [(100, 40)] if quick else [(N, d) for N in GRID_N for d in GRID_D]
    seconds = 0.3 if quick else 1.0
    result = {"machine": common.machine(), "quick": quick, "skipped": skipped,
              "implementations": list(implementations), "rows": []}
    result["dram_triad_GBps"] = dram_triad_bandwidth(2_000_000 if quick else 16_000_000)
    for N, d in sizes:
        log(f"  SGD N = {N}, d = {d}")
        result["rows"].append(measure(N, d, seconds, implementations))
    return result


def markdown(result) -> str:
    impls = result["implementations"]
    peers = [i for i in impls if not i.startswith("numba")]
    lines = [
        "## Online SGD: compiled kernel vs NumPy, SciPy BLAS and PyTorch",
        "",
        "Gaussian classes (Δ = 0.5, MMN18 activation), batch 1, one thread, float64; "
        "steps per second (each implementation samples its own x every step). Bound: two "
        "passes over the weights (read for h = Wx, read + write for the update: 24 B/weight) "
        "at the bandwidth of streaming kernels over an array of the size of W, measured in "
        "the same run; the kernel itself needs one pass (16 B/weight, and only 8 for the rows "
        "whose gradient vanishes: σ' = 0 outside (0.5, 1.5] for MMN18), so it can beat the "
        "two-pass bound. DRAM triad bandwidth in the same run: "
        f"{result['dram_triad_GBps']:.1f} GB/s.",
        "",
        "| N | d | " + " | ".join(f"{i} (steps/s)" for i in impls)
        + " | " + " | ".join(f"kernel / {o}" for o in peers)
        + " | stream GB/s (read, rmw) | two-pass bound (steps/s) | kernel / bound "
        "| kernel / one-pass bound |",
        "|---|---|" + "---|" * (len(impls) + len(peers) + 4),
    ]
    for r in result["rows"]:
        rates = " | ".join(f"{r['steps_per_s'][i]:,.0f}" for i in impls)
        ratios = " | ".join(common.fmt_ratio(r["ratios"][o]) for o in peers)
        lines.append(
            f"| {r['N']} | {r['d']} | {rates} | {ratios} | "
            f"{r['stream_read_GBps']:.0f}, {r['stream_rmw_GBps']:.0f} | "
            f"{r['bound_two_pass_steps_per_s']:,.0f} | "
            f"{100 * r['kernel_fraction_of_two_pass_bound']:.0f}% | "
            f"{100 * r['kernel_fraction_of_one_pass_bound']:.0f}% |"
        )
    for name, why in result.get("skipped", {}).items():
        lines.append(f"\n{name}: skipped ({why}).")
    return "\n".join(lines)


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

    implementations = {**IMPLEMENTATIONS, "numpy twin": twin_steps}
    try:
        import torch  # noqa: F401
    except ImportError:
        implementations.pop("torch")
    row = measure(args.N, args.d, args.seconds, implementations, args.delta, args.kappa,
                  args.eps, args.beta, args.activation)
    rates = row["steps_per_s"]
    numba_rate = rates["numba kernel"]
    print(
        f"online SGD, Gaussian classes: N = {args.N}, d = {args.d}, activation = "
        f"{args.activation}, beta = {args.beta:g}, batch = 1, one thread"
    )
    for name, rate in rates.items():
        ratio = "" if name == "numba kernel" else f"   numba / this = {numba_rate / rate:5.2f} x"
        print(f"  {name:15s}: {rate:9.0f} steps/s ({1e6 / rate:8.1f} us/step){ratio}")
    print(
        f"  streaming over {8 * args.N * args.d / 1e6:.2f} MB: read {row['stream_read_GBps']:.1f}"
        f" GB/s, read-modify-write {row['stream_rmw_GBps']:.1f} GB/s"
    )
    print(
        f"  two-pass bound {row['bound_two_pass_steps_per_s']:.0f} steps/s: kernel at "
        f"{100 * row['kernel_fraction_of_two_pass_bound']:.0f}%; one-pass bound "
        f"{row['bound_one_pass_steps_per_s']:.0f} steps/s: kernel at "
        f"{100 * row['kernel_fraction_of_one_pass_bound']:.0f}%"
    )


if __name__ == "__main__":
    main()
