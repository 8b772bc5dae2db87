r"""Adaptive Dormand–Prince 5(4) steps for the gradient flow of a finite network.

Solves ``dW/dt = F(t, W)`` for an array ``W`` (the ``N × d`` weights) with the explicit
Runge–Kutta pair of Dormand & Prince (1980): fifth-order solution, embedded fourth-order
error estimate, first-same-as-last (six velocity evaluations per accepted step). The local
error of a step is measured relative to the size of the weights,

.. math::  e = \frac{‖W_5 − W_4‖_F}{\mathrm{tol}\,‖W‖_F},

and a step is accepted when ``e ≤ 1``; the next step is
``h ← h · min(5, max(0.2, 0.9 e^{−1/5}))`` (no growth after a rejection). The integrator
lands exactly on each requested end time (the last step before it is shortened; the step
proposal is kept for the next interval), so the state at the end of an interval does not
depend on how later intervals are chosen, and :meth:`get_state`/:meth:`set_state` resume
a run bit for bit.

Nothing here knows about the physics: the caller supplies ``F``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["DORMAND_PRINCE_TABLEAU", "DormandPrince", "StepSizeError"]

#: Butcher tableau ``(c, a, b5, b4)`` of Dormand–Prince 5(4)
DORMAND_PRINCE_TABLEAU = (
    np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0]),
    (
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
    ),
    np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0]),
    np.array([5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100,
              1 / 40]),
)


class StepSizeError(RuntimeError):
    """The adaptive step fell below the smallest admissible step (non-finite velocity or
    an unreachable tolerance)."""


class DormandPrince:
    r"""Dormand–Prince 5(4) integration of ``dW/dt = F(t, W)`` from ``(t0, W0)``.

    Parameters
    ----------
    velocity : callable
        ``F(t, W) -> ndarray`` of the shape of ``W``.
    W0 : ndarray
        Initial state (copied).
    t0 : float
        Initial time.
    tol : float
        Local error tolerance per step, relative to ``‖W‖_F`` (module docstring).
    first_step : float, optional
        Initial trial step; default ``0.01 ‖W‖/‖F‖`` (capped at 1).

    Attributes
    ----------
    t, W : float, ndarray
        Current time and state.
    n_velocity, n_accepted, n_rejected : int
        Velocity evaluations, accepted and rejected steps so far.
    """

    def __init__(self, velocity: Callable, W0, t0: float, tol: float,
                 first_step: float | None = None):
        self.velocity = velocity
        self.tol = float(tol)
        self.t = float(t0)
        self.W = np.array(W0, dtype=np.float64, copy=True)
        self.F = np.asarray(velocity(self.t, self.W), dtype=np.float64)
        self.n_velocity = 1
        self.n_accepted = 0
        self.n_rejected = 0
        if first_step is None:
            scale = float(np.linalg.norm(self.W))
            speed = float(np.linalg.norm(self.F))
            first_step = 0.01 * scale / speed if speed > 0 and scale > 0 else 1e-3
        self.h = float(min(first_step, 1.0))

    def _error_norm(self, error: np.ndarray, W: np.ndarray) -> float:
        scale = max(float(np.linalg.norm(W)), float(np.linalg.norm(self.W)), 1e-300)
        return float(np.linalg.norm(error)) / (self.tol * scale)

    def trial_step(self, h: float):
        """One Dormand–Prince step of size ``h`` from the current state (not taken).

        Returns ``(W5, F5, error)``: fifth-order solution, its velocity (the next step's
        first stage) and the difference of the fifth- and fourth-order solutions.
        """
        c, a, b5, b4 = DORMAND_PRINCE_TABLEAU
        stages = [self.F]
        for s in range(1, 7):
            Y = self.W.copy()
            for coefficient, K in zip(a[s], stages):
                if coefficient != 0.0:
                    Y += (h * coefficient) * K
            if s == 6:
                W5 = Y  # the last row of a is b5 (first same as last)
            stages.append(np.asarray(self.velocity(self.t + c[s] * h, Y), dtype=np.float64))
        self.n_velocity += 6
        error = np.zeros_like(self.W)
        for weight5, weight4, K in zip(b5, b4, stages):
            if weight5 != weight4:
                error += (h * (weight5 - weight4)) * K
        return W5, stages[6], error

    def advance_to(self, t_end: float) -> None:
        """Take adaptive steps until ``t = t_end`` exactly.

        Raises
        ------
        StepSizeError
            When the step would fall below ``10⁻¹⁴ max(1, |t|)``.
        """
        t_end = float(t_end)
        while self.t < t_end:
            remaining = t_end - self.t
            landing = self.h >= remaining * (1.0 - 1e-12)
            h = remaining if landing else self.h
            W5, F5, error = self.trial_step(h)
            err = self._error_norm(error, W5)
            if not np.isfinite(err):
                err = np.inf
            if err <= 1.0:
                self.W, self.F = W5, F5
                self.t = t_end if landing else self.t + h
                self.n_accepted += 1
                factor = min(5.0, max(0.2, 0.9 * err ** -0.2)) if err > 0 else 5.0
                proposal = h * factor
                # a step shortened to land on t_end does not shrink the next proposal
                self.h = max(proposal, self.h) if landing and h < self.h else proposal
            else:
                self.n_rejected += 1
                self.h = h * max(0.2, 0.9 * err ** -0.2) if np.isfinite(err) else 0.2 * h
            if self.h < 1e-14 * max(1.0, abs(self.t)):
                raise StepSizeError(
                    f"flow step size fell to {self.h:.3g} at t = {self.t:.6g} (non-finite "
                    "velocity, or flow_tol too small for double precision)"
                )

    def advance_fixed(self, t_end: float, n_steps: int) -> None:
        """``n_steps`` equal fifth-order steps to ``t_end`` without error control (for
        order checks)."""
        h = (float(t_end) - self.t) / int(n_steps)
        for _ in range(int(n_steps)):
            self.W, self.F, _ = self.trial_step(h)
            self.t += h
        self.t = float(t_end)

    def get_state(self) -> dict:
        """Everything that determines the rest of the integration (copies)."""
        return {"t": self.t, "W": self.W.copy(), "F": self.F.copy(), "h": self.h,
                "n_velocity": self.n_velocity, "n_accepted": self.n_accepted,
                "n_rejected": self.n_rejected}

    def set_state(self, state: dict) -> None:
        """Restore a state from :meth:`get_state`."""
        self.t = float(state["t"])
        self.W = np.array(state["W"], dtype=np.float64, copy=True)
        self.F = np.array(state["F"], dtype=np.float64, copy=True)
        self.h = float(state["h"])
        self.n_velocity = int(state["n_velocity"])
        self.n_accepted = int(state["n_accepted"])
        self.n_rejected = int(state["n_rejected"])
