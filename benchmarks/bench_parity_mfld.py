"""Steps per second of the sparse-parity MFLD particle update: Numba kernel vs NumPy and
PyTorch.

The update (seed 000, :mod:`reducedpde.models.parity.network`) of ``M`` particles
``x = (x_1, x_2, x_3) ∈ R^{d+2}`` on ``n`` training samples, full batch, logistic loss,
scaled prior, one step:

    P = Z x_1ᵀ + x_2 (n × M),   T = tanh P,   f = (R̄/3M)(Σ_j T + 2 Σ_j tanh x_3),
    g = ℓ'(y f) y / n,   W = g (1 − T²),
    x_1 −= η((R̄/3) Wᵀ Z + 2c x_1),  x_2 −= η((R̄/3) Σ_i W + 2c x_2),
    x_3 −= η((2R̄/3)(1 − tanh² x_3) Σ_i g + 2c x_3),   x += √(2λη) ξ.

* ``numba kernel``: :func:`reducedpde.models.parity.mfld_steps_hypercube` as the simulator
  runs it (the products by sign-code table reads, :func:`~reducedpde.models.parity.sign_codes`;
  normals drawn by NumPy's generator into a reused buffer, many steps per compiled call);
* ``numba blas``: :func:`reducedpde.models.parity.mfld_steps`, the same compiled step with
  the two products in BLAS (what the kernel gains from compilation alone);
* ``numpy``: the lines above with preallocated buffers (``out=``), BLAS for the products;
* ``numpy twin``: :func:`reducedpde.models.parity.mfld_step_numpy` (new arrays each step);
* ``torch``: PyTorch CPU, float64, ``torch.set_num_threads(1)``, the same lines with its own
  normal generator.

Each implementation's step is first checked against the NumPy twin with the same noise
(the largest deviation is reported). One thread everywhere.

Usage::

    python -m benchmarks --only parity
    python -m benchmarks.bench_parity_mfld [--seconds 2] [--quick]
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

import numpy as np

from reducedpde.models.parity import (
    code_work_arrays,
    make_parity_data,
    mfld_step_numpy,
    mfld_steps,
    mfld_steps_hypercube,
    sign_codes,
    work_arrays,
)

from . import common

#: (d, n, M): the parity-mfld default in the middle.
SIZES = ((10, 200, 200), (20, 500, 1000), (40, 1000, 1000))
QUICK_SIZES = ((10, 200, 200),)
ETA, RBAR, LAM_PRIME, LAM = 0.05, 15.0, 0.1, 0.1


def _rate(run_steps, seconds):
    """Best steps/s of ``run_steps(n)`` over repeated calls lasting ``seconds`` in total."""
    run_steps(2)  # compile / warm up
    n, best, spent = 4, math.inf, 0.0
    while spent < seconds:
        start = time.perf_counter()
        run_steps(n)
        elapsed = time.perf_counter() - start
        spent += elapsed
        best = min(best, elapsed / n)
        if elapsed < 0.2:
            n *= 2
    return 1.0 / best


class NumbaStepper:
    """The simulator's path: NumPy normals for a block of steps, then one compiled call of
    the sign-code kernel."""

    def __init__(self, X, z, y, chunk=50):
        self.X = X.copy()
        self.codes = sign_codes(z)
        self.y = y
        self.work = (*work_arrays(X.shape[0], y.size, z.shape[1]),
                     *code_work_arrays(X.shape[0], self.codes[1]))
        self.noise = np.empty((chunk, *X.shape))
        self.rng = np.random.default_rng(1)

    def _steps(self, noise, count):
        mfld_steps_hypercube(self.X, *self.codes, self.y, noise, np.full(count, LAM), ETA,
                             RBAR, LAM_PRIME, True, *self.work)

    def step_with(self, noise):
        self._steps(noise[None], 1)
        return self.X

    def run(self, n):
        while n > 0:
            count = min(n, self.noise.shape[0])
            noise = self.noise[:count]
            self.rng.standard_normal(out=noise)
            self._steps(noise, count)
            n -= count


class NumbaBlasStepper(NumbaStepper):
    """The same compiled step with the products in BLAS (:func:`mfld_steps`)."""

    def __init__(self, X, z, y, chunk=50):
        super().__init__(X, z, y, chunk)
        self.Z = np.ascontiguousarray(z)
        self.work = work_arrays(X.shape[0], y.size, z.shape[1])

    def _steps(self, noise, count):
        mfld_steps(self.X, self.Z, self.y, noise, np.full(count, LAM), ETA, RBAR, LAM_PRIME,
                   True, *self.work)


class NumpyStepper:
    """Plain NumPy with preallocated buffers."""

    def __init__(self, X, z, y):
        self.X = X.copy()
        self.z, self.y = z, y
        n, M = y.size, X.shape[0]
        self.P = np.empty((n, M))
        self.W = np.empty((n, M))
        self.G = np.empty((M, z.shape[1]))
        self.noise = np.empty_like(X)
        self.rng = np.random.default_rng(1)

    def step_with(self, noise):
        X, z, y, P, W = self.X, self.z, self.y, self.P, self.W
        n, d = z.shape
        M = X.shape[0]
        c3, coef = RBAR / 3.0, LAM * LAM_PRIME
        np.matmul(z, X[:, :d].T, out=P)
        P += X[:, d]
        np.tanh(P, out=P)
        t3 = np.tanh(X[:, d + 1])
        f = c3 / M * (P.sum(axis=1) + 2.0 * t3.sum())
        g = -y / (n * (1.0 + np.exp(y * f)))  # ℓ'(m) = −1/(1 + e^m)
        np.multiply(P, P, out=W)
        np.subtract(1.0, W, out=W)
        W *= g[:, None]
        np.matmul(W.T, z, out=self.G)
        G = self.G
        G *= c3
        s2 = c3 * W.sum(axis=0)
        s3 = 2.0 * c3 * (1.0 - t3 * t3) * g.sum()
        X *= 1.0 - 2.0 * ETA * coef
        X[:, :d] -= ETA * G
        X[:, d] -= ETA * s2
        X[:, d + 1] -= ETA * s3
        X += math.sqrt(2.0 * LAM * ETA) * noise
        return X

    def run(self, n):
        for _ in range(n):
            self.rng.standard_normal(out=self.noise)
            self.step_with(self.noise)


class NumpyTwinStepper:
    """:func:`mfld_step_numpy`, the readable reference (new arrays each step)."""

    def __init__(self, X, z, y):
        self.X = X.copy()
        self.z, self.y = z, y
        self.rng = np.random.default_rng(1)

    def step_with(self, noise):
        self.X = mfld_step_numpy(self.X, self.z, self.y, noise, LAM, ETA, RBAR, LAM_PRIME)
        return self.X

    def run(self, n):
        for _ in range(n):
            self.step_with(self.rng.standard_normal(self.X.shape))


class TorchStepper:
    """PyTorch CPU, float64, one thread."""

    def __init__(self, X, z, y):
        import torch

        torch.set_num_threads(1)
        self.torch = torch
        self.X = torch.tensor(X, dtype=torch.float64)
        self.z = torch.tensor(z, dtype=torch.float64)
        self.y = torch.tensor(y, dtype=torch.float64)
        self.noise = torch.empty_like(self.X)
        self.gen = torch.Generator().manual_seed(1)

    def step_with(self, noise):
        torch = self.torch
        X, z, y = self.X, self.z, self.y
        n, d = z.shape
        M = X.shape[0]
        c3, coef = RBAR / 3.0, LAM * LAM_PRIME
        with torch.no_grad():
            T = torch.tanh(torch.addmm(X[:, d], z, X[:, :d].T))
            t3 = torch.tanh(X[:, d + 1])
            f = c3 / M * (T.sum(dim=1) + 2.0 * t3.sum())
            g = -y / (n * (1.0 + torch.exp(y * f)))
            W = g[:, None] * (1.0 - T * T)
            G = c3 * (W.T @ z)
            s2 = c3 * W.sum(dim=0)
            s3 = 2.0 * c3 * (1.0 - t3 * t3) * g.sum()
            X.mul_(1.0 - 2.0 * ETA * coef)
            X[:, :d].sub_(ETA * G)
            X[:, d].sub_(ETA * s2)
            X[:, d + 1].sub_(ETA * s3)
            X.add_(noise, alpha=math.sqrt(2.0 * LAM * ETA))
        return X

    def run(self, n):
        torch = self.torch
        for _ in range(n):
            torch.randn(self.noise.shape, generator=self.gen, dtype=torch.float64,
                        out=self.noise)
            self.step_with(self.noise)


IMPLEMENTATIONS = {
    "numba kernel": NumbaStepper,
    "numba blas": NumbaBlasStepper,
    "numpy": NumpyStepper,
    "numpy twin": NumpyTwinStepper,
    "torch": TorchStepper,
}


def measure(d, n, M, seconds, implementations):
    """Steps/s of every implementation on one problem, and its deviation from the twin."""
    rng = np.random.default_rng(0)
    data = make_parity_data(d, 2, n, rng)
    X0 = rng.standard_normal((M, d + 2))
    noise = rng.standard_normal(X0.shape)
    ref = mfld_step_numpy(X0, data.z_train, data.y_train, noise, LAM, ETA, RBAR, LAM_PRIME)
    rates, deviation = {}, {}
    for name, cls in implementations.items():
        check = cls(X0, data.z_train, data.y_train)
        arg = noise if name != "torch" else check.torch.tensor(noise)
        out = np.asarray(check.step_with(arg))
        deviation[name] = float(np.abs(out - ref).max() / np.abs(ref).max())
        stepper = cls(X0, data.z_train, data.y_train)
        rates[name] = _rate(stepper.run, seconds)
    kernel = rates["numba kernel"]
    return {
        "d": d, "n": n, "M": M,
        "steps_per_s": rates,
        "ratios": {name: kernel / r for name, r in rates.items() if name != "numba kernel"},
        "max_relative_deviation_from_twin": deviation,
    }


#: reduced particles vs full simulation: d, n, M, rounds, steps per round, seeds
REDUCED_VS_FULL = {"d": 100, "n": 1000, "M": 200, "rounds": 2, "round_steps": 250,
                   "seeds": 4}
QUICK_REDUCED_VS_FULL = {"d": 100, "n": 300, "M": 100, "rounds": 1, "round_steps": 100,
                         "seeds": 3}


def reduced_vs_full(settings, log=print):
    """Wall time of the reduced particles ``(u, r, x2, x3)`` against the full simulation
    at equal Monte-Carlo error.

    Both are runs of ``M`` particles; the Monte-Carlo error of an observable is its
    seed-to-seed standard deviation ``σ`` (particles, noise, and for the full simulation
    the training set), here of the final mean ``‖x_1[:k]‖``. Since ``σ² ∝ 1/M`` and the
    wall time ``∝ M``, the reduced run matches the full run's error with
    ``M (σ_red/σ_full)²`` particles, and the ratio at equal error is
    ``(T_full/T_red)·(σ_full/σ_red)²``.
    """
    from reducedpde.models.parity import simulate_parity_mfld
    from reducedpde.models.parity.reduced import simulate_reduced_parity

    cfg = {k: v for k, v in settings.items() if k != "seeds"}
    cfg["record_every"] = cfg["round_steps"]
    out = {}
    for name, fn in (("full", simulate_parity_mfld), ("reduced", simulate_reduced_parity)):
        finals, times = [], []
        for seed in range(settings["seeds"]):
            start = time.perf_counter()
            res = fn({**cfg, "seed": seed}, progress=False)
            times.append(time.perf_counter() - start)
            finals.append(float(np.ravel(res.extra["relevant_norm"])[-1]))
        out[name] = {"wall_s": float(np.mean(times)), "final_relevant_norm": finals,
                     "mc_sd": float(np.std(finals, ddof=1))}
        log(f"  {name}: {out[name]['wall_s']:.2f} s per run, final mean |u| "
            f"{np.mean(finals):.4g} ± {out[name]['mc_sd']:.2g}")
    time_ratio = out["full"]["wall_s"] / out["reduced"]["wall_s"]
    error_factor = (out["full"]["mc_sd"] / out["reduced"]["mc_sd"]) ** 2
    return {"settings": settings, **out, "time_ratio_equal_M": time_ratio,
            "ratio_equal_error": time_ratio * error_factor}


def run(quick=False, log=print):
    implementations = dict(IMPLEMENTATIONS)
    skipped = {}
    try:
        import torch  # noqa: F401
    except ImportError:
        implementations.pop("torch")
        skipped["torch"] = "not installed"
    result = {"machine": common.machine(), "quick": quick, "skipped": skipped,
              "implementations": list(implementations), "rows": []}
    for d, n, M in QUICK_SIZES if quick else SIZES:
        log(f"  parity MFLD d = {d}, n = {n}, M = {M}")
        result["rows"].append(measure(d, n, M, 0.3 if quick else 2.0, implementations))
    log("  reduced particles vs full simulation")
    result["reduced_vs_full"] = reduced_vs_full(
        QUICK_REDUCED_VS_FULL if quick else REDUCED_VS_FULL, log)
    return result


def markdown(result) -> str:
    impls = result["implementations"]
    peers = [i for i in impls if i != "numba kernel"]
    lines = [
        "## Sparse-parity MFLD: compiled particle update vs NumPy and PyTorch",
        "",
        "Full-batch MFLD step of M particles on n training samples (logistic loss, tanh "
        "neurons, scaled prior, Langevin noise; `reducedpde.models.parity`), float64, one "
        "thread; steps per second, each implementation drawing its own normals. Cost per "
        "step: 2nMd multiply–adds and nM tangents (the kernel reads the products from "
        "sign-code tables: ⌈d/5⌉ reads and adds per sample and particle each way; `numba "
        "blas` is the same compiled step with BLAS products). Every implementation's step "
        "is checked against the NumPy twin with the same noise (largest relative deviation "
        "shown).",
        "",
        "| d | n | M | " + " | ".join(f"{i} (steps/s)" for i in impls)
        + " | " + " | ".join(f"kernel / {o}" for o in peers) + " | max deviation |",
        "|---|---|---|" + "---|" * (len(impls) + len(peers) + 1),
    ]
    for r in result["rows"]:
        rates = " | ".join(f"{r['steps_per_s'][i]:,.1f}" for i in impls)
        ratios = " | ".join(common.fmt_ratio(r["ratios"][o]) for o in peers)
        dev = max(r["max_relative_deviation_from_twin"].values())
        lines.append(f"| {r['d']} | {r['n']} | {r['M']} | {rates} | {ratios} | {dev:.1e} |")
    rvf = result.get("reduced_vs_full")
    if rvf:
        st = rvf["settings"]
        lines += [
            "",
            f"Reduced particles (u, r, x2, x3) vs the full simulation at d = {st['d']} "
            f"(n = {st['n']}, M = {st['M']}, {st['rounds']} × {st['round_steps']} steps, "
            f"{st['seeds']} seeds each): {rvf['full']['wall_s']:.2f} s against "
            f"{rvf['reduced']['wall_s']:.2f} s per run "
            f"({common.fmt_ratio(rvf['time_ratio_equal_M'])} at equal M); Monte-Carlo "
            f"error (seed-to-seed sd of the final mean ‖u‖) {rvf['full']['mc_sd']:.2g} "
            f"against {rvf['reduced']['mc_sd']:.2g}, so at equal Monte-Carlo error the "
            f"reduced particles take 1/{rvf['ratio_equal_error']:.3g} of the full "
            "simulation's wall time (σ² ∝ 1/M, time ∝ M). With "
            f"{st['seeds']} seeds each standard deviation is known to about "
            f"{100 / math.sqrt(2 * (st['seeds'] - 1)):.0f}%, so this ratio only to a "
            "factor of about 2; the ratio at equal M is the firm number.",
        ]
    if result.get("skipped"):
        lines += ["", "Skipped: " + ", ".join(f"{k} ({v})" for k, v in
                                              result["skipped"].items()) + "."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="timing budget per implementation and size")
    parser.add_argument("--quick", action="store_true", help="smallest size only")
    args = parser.parse_args(argv)
    implementations = dict(IMPLEMENTATIONS)
    try:
        import torch  # noqa: F401
    except ImportError:
        implementations.pop("torch")
    rows = [measure(d, n, M, args.seconds, implementations)
            for d, n, M in (QUICK_SIZES if args.quick else SIZES)]
    print(markdown({"implementations": list(implementations), "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
