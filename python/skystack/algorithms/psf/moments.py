# SPDX-License-Identifier: GPL-3.0-or-later
"""Adaptive (Gaussian-weighted) centroids and second moments of star stamps (numba).

Each stamp is weighted by a circular Gaussian ``W = exp(-|r - c|² / 2 s²)`` whose centre ``c`` is
the weighted centroid and whose width follows the weighted moments, ``s² = trace(M)`` with ``M``
the weighted second-moment matrix, until both converge (for a Gaussian of width ``sigma`` the
fixed point is ``s = sigma``; the iteration contracts by 1/2 per step). The object's moments are
then the weighted ones with the weight deconvolved exactly for a Gaussian profile,
``C = (M^-1 - I / s²)^-1`` — the adaptive-moment estimate of SExtractor's windowed and HSM's
adaptive moments, good for the sizes and centroids that star selection and PSF recentring need.
A windowed centroid is unbiased for any symmetric profile.

Written by hand (a few dozen numba lines) because it runs on the stamps the PSF determiner already
holds; galsim's HSM would need one Python call per star.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["AdaptiveMoments", "adaptive_moments"]


@numba.njit(cache=True, nogil=True)
def _adaptive(
    stamps: np.ndarray,
    x0: np.ndarray,
    y0: np.ndarray,
    sigma0: float,
    max_iter: int,
    tol: float,
    out: np.ndarray,
) -> None:  # pragma: no cover - numba
    n, ny, nx = stamps.shape
    s2_min = 0.04
    s2_max = (0.25 * min(nx, ny)) ** 2
    wx = np.empty(nx)
    wy = np.empty(ny)
    for k in range(n):
        xc = x0[k]
        yc = y0[k]
        s2 = sigma0 * sigma0
        ok = False
        sum0 = mxx = myy = mxy = 0.0
        for _ in range(max_iter):
            for i in range(nx):
                d = i - xc
                wx[i] = math.exp(-0.5 * d * d / s2)
            for j in range(ny):
                d = j - yc
                wy[j] = math.exp(-0.5 * d * d / s2)
            sum0 = sx = sy = sxx = syy = sxy = 0.0
            for j in range(ny):
                dy = j - yc
                for i in range(nx):
                    v = stamps[k, j, i]
                    if not math.isfinite(v):
                        continue
                    w = wx[i] * wy[j] * v
                    dx = i - xc
                    sum0 += w
                    sx += w * dx
                    sy += w * dy
                    sxx += w * dx * dx
                    syy += w * dy * dy
                    sxy += w * dx * dy
            if not sum0 > 0:
                break
            ddx = sx / sum0
            ddy = sy / sum0
            mxx = sxx / sum0 - ddx * ddx
            myy = syy / sum0 - ddy * ddy
            mxy = sxy / sum0 - ddx * ddy
            xc += ddx
            yc += ddy
            if xc < 0 or yc < 0 or xc > nx - 1 or yc > ny - 1 or not (mxx > 0 and myy > 0):
                break
            s2_new = min(max(mxx + myy, s2_min), s2_max)
            converged = abs(ddx) < tol and abs(ddy) < tol and abs(s2_new - s2) < tol * s2
            s2 = s2_new
            if converged:
                ok = True
                break
        out[k, 0] = xc
        out[k, 1] = yc
        out[k, 5] = sum0
        # Deconvolve the circular weight: C = (M^-1 - I / s2)^-1.
        det = mxx * myy - mxy * mxy
        if ok and det > 0:
            a = myy / det - 1.0 / s2
            b = -mxy / det
            c = mxx / det - 1.0 / s2
            det_c = a * c - b * b
            if a > 0 and c > 0 and det_c > 0:
                out[k, 2] = c / det_c
                out[k, 3] = a / det_c
                out[k, 4] = -b / det_c
                out[k, 6] = 1.0
                continue
        out[k, 2] = 2.0 * mxx
        out[k, 3] = 2.0 * myy
        out[k, 4] = 2.0 * mxy
        out[k, 6] = 0.0


@dataclass(frozen=True)
class AdaptiveMoments:
    """Adaptive centroids and second moments of a batch of stamps (all ``(n,)`` arrays).

    Attributes
    ----------
    x, y : `numpy.ndarray`
        Centroids in stamp pixel indices (``stamp[j, i]`` is at ``(i, j)``).
    ixx, iyy, ixy : `numpy.ndarray`
        Second moments in pixels² (weight deconvolved; the Gaussian-equivalent moments).
    weighted_sum : `numpy.ndarray`
        ``sum(W * stamp)`` of the final weight (a crude flux proxy).
    converged : `numpy.ndarray`
        Boolean: the iteration converged and the deconvolution was defined; where False the
        moments are twice the weighted ones and the centroid is the last iterate.
    """

    x: np.ndarray
    y: np.ndarray
    ixx: np.ndarray
    iyy: np.ndarray
    ixy: np.ndarray
    weighted_sum: np.ndarray
    converged: np.ndarray

    @property
    def determinant_radius(self) -> np.ndarray:
        """``(ixx iyy - ixy²)^(1/4)`` in pixels (sigma of a circular Gaussian); NaN where undefined."""
        det = self.ixx * self.iyy - self.ixy * self.ixy
        with np.errstate(invalid="ignore"):
            return np.where(det > 0, np.abs(det) ** 0.25, np.nan)


def adaptive_moments(
    stamps: np.ndarray,
    x0: npt.ArrayLike | None = None,
    y0: npt.ArrayLike | None = None,
    sigma0: float = 2.0,
    max_iter: int = 50,
    tol: float = 1e-5,
) -> AdaptiveMoments:
    """Adaptive Gaussian-weighted centroids and second moments of background-subtracted stamps.

    Parameters
    ----------
    stamps : `numpy.ndarray`
        ``(n, height, width)`` background-subtracted stamps; non-finite pixels are ignored.
    x0, y0 : array_like, optional
        Starting centroids in stamp indices; default the central pixel.
    sigma0 : `float`, optional
        Starting weight width in pixels (``> 0``).
    max_iter : `int`, optional
        Maximum number of iterations (``>= 1``).
    tol : `float`, optional
        Convergence tolerance on the centroid step (pixels) and the relative change of ``s²``.

    Returns
    -------
    moments : `AdaptiveMoments`

    Raises
    ------
    ValueError
        If ``stamps`` is not 3-D, or the parameters are out of range.
    """
    arr = np.asarray(stamps, dtype=np.float64)
    if arr.ndim != 3:
        raise ValueError(f"adaptive_moments: stamps must be (n, height, width), got shape {arr.shape}")
    if not (math.isfinite(sigma0) and sigma0 > 0) or max_iter < 1 or not tol > 0:
        raise ValueError(
            f"adaptive_moments: need sigma0 > 0, max_iter >= 1 and tol > 0, got {sigma0}, {max_iter}, {tol}"
        )
    n, ny, nx = arr.shape
    xs = np.full(n, float(nx // 2)) if x0 is None else np.asarray(x0, dtype=float).reshape(n)
    ys = np.full(n, float(ny // 2)) if y0 is None else np.asarray(y0, dtype=float).reshape(n)
    out = np.zeros((n, 7))
    _adaptive(
        arr, np.ascontiguousarray(xs), np.ascontiguousarray(ys), float(sigma0), int(max_iter), float(tol), out
    )
    return AdaptiveMoments(
        x=out[:, 0],
        y=out[:, 1],
        ixx=out[:, 2],
        iyy=out[:, 3],
        ixy=out[:, 4],
        weighted_sum=out[:, 5],
        converged=out[:, 6] > 0,
    )
