"""Plain NumPy twins of the compiled finite-volume kernels (readable; used by the tests)."""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_banded

__all__ = ["implicit_euler_step", "sg_operator_matrix", "transport_rate_numpy"]


def transport_rate_numpy(masses, widths, centres, face_velocity, theta):
    """``−(F_{j+1/2} − F_{j−1/2})`` with MUSCL/generalised-minmod upwind fluxes."""
    rho = masses / widths
    slope = np.zeros_like(rho)
    dm = (rho[1:-1] - rho[:-2]) / (centres[1:-1] - centres[:-2])
    dp = (rho[2:] - rho[1:-1]) / (centres[2:] - centres[1:-1])
    dc = (rho[2:] - rho[:-2]) / (centres[2:] - centres[:-2])
    half = 0.5 * widths[1:-1]
    stacked = np.stack([theta * dm, dc, theta * dp, (rho[1:-1] - rho[:-2]) / half,
                        (rho[2:] - rho[1:-1]) / half])
    same_sign = (np.all(stacked > 0, axis=0)) | (np.all(stacked < 0, axis=0))
    slope[1:-1] = np.where(same_sign, np.sign(dc) * np.min(np.abs(stacked), axis=0), 0.0)
    left = rho - 0.5 * widths * slope
    right = rho + 0.5 * widths * slope
    u = face_velocity[1:-1]
    flux = np.where(u > 0, u * right[:-1], u * left[1:])
    full = np.concatenate([[0.0], flux, [0.0]])
    return -(full[1:] - full[:-1])


def _bernoulli(z):
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1e-8
    zs = np.where(small, 1.0, z)
    return np.where(small, 1.0 - 0.5 * z, zs / np.expm1(zs))


def sg_operator_matrix(potential, widths, centres, diffusivity):
    """Dense matrix ``L`` with ``(L m)_j = J_{j−1/2} − J_{j+1/2}`` (Scharfetter–Gummel)."""
    n = potential.size
    delta = np.diff(centres)
    dphi = np.diff(potential)
    a = diffusivity / delta * _bernoulli(dphi) / widths[:-1]
    b = diffusivity / delta * _bernoulli(-dphi) / widths[1:]
    op = np.zeros((n, n))
    for j in range(n - 1):
        # J_{j+1/2} = a_j m_j - b_j m_{j+1} leaves cell j and enters cell j+1
        op[j, j] -= a[j]
        op[j, j + 1] += b[j]
        op[j + 1, j] += a[j]
        op[j + 1, j + 1] -= b[j]
    return op


def implicit_euler_step(potential, widths, centres, diffusivity, dt, masses):
    """Solve ``(I − Δt L) m_new = m`` with a banded solver."""
    op = sg_operator_matrix(potential, widths, centres, diffusivity)
    mat = np.eye(masses.size) - dt * op
    bands = np.zeros((3, masses.size))
    bands[0, 1:] = np.diag(mat, 1)
    bands[1] = np.diag(mat)
    bands[2, :-1] = np.diag(mat, -1)
    return solve_banded((1, 1), bands, masses)
