# SPDX-License-Identifier: GPL-3.0-or-later
"""Centroids: the SDSS algorithm (quadratic fit to the PSF-smoothed peak, iterated) and first moments.

`sdss_centroid` follows Rubin's ``SdssCentroid``: the image is correlated with a circular Gaussian
of width ``sigma`` (the PSF's determinant radius), a quadratic surface is fitted to the 3×3 values
of the smoothed image around the peak, and its maximum is the centroid. skystack iterates that fit
*at the current sub-pixel estimate* — the 3×3 grid of smoothed values is re-evaluated at
``c + (−1, 0, 1)`` by correlating with Gaussians centred there — and takes Newton steps on the
fitted gradient and Hessian until the step is below ``tol``. The fixed point solves
``S(c + e) = S(c − e)`` along both axes, where ``S`` is the smoothed image: the centre of any
centrally symmetric source, with no pixel-phase bias (unlike a single quadratic fit), and for a
Gaussian PSF the maximum of the matched-filter image, i.e. the PSF-fit position the algorithms
document asks for.

Errors come from the variance plane by linear propagation: the gradient ``g`` of the fit is a
weighted sum of pixels, ``Cov(g) = Σ V w wᵀ``, and ``Cov(c) = H⁻¹ Cov(g) H⁻¹`` with ``H`` the fitted
Hessian (its own noise neglected, valid at S/N ≳ 10).

When the smoothed image has no maximum near the peak (a negative or flat source), or the fit moves
more than ``max_shift`` pixels, the centroid falls back to the first moment of the 3×3 pixels
around the peak (Rubin's ``NaiveCentroid``), and failing that to the peak itself. The returned
flag bits say which of these happened.

Positions are parent pixel coordinates with pixel centres at integers (``image[j, i]`` is pixel
``(i + x0, j + y0)``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from ._inputs import as_image, as_positions, as_variance, check_xy0, per_source

__all__ = [
    "CENTROID_EDGE",
    "CENTROID_FAILED",
    "CENTROID_FALLBACK",
    "CENTROID_MOVED",
    "CENTROID_NOT_CONVERGED",
    "CENTROID_NO_PEAK",
    "CentroidResult",
    "naive_centroid",
    "sdss_centroid",
]

#: Flag bit: the smoothing window was cut by the image edge.
CENTROID_EDGE = 1
#: Flag bit: the smoothed image has no maximum near the peak (negative, flat or saddle).
CENTROID_NO_PEAK = 2
#: Flag bit: the fit moved more than ``max_shift`` pixels from the starting position.
CENTROID_MOVED = 4
#: Flag bit: the first-moment fallback was used.
CENTROID_FALLBACK = 8
#: Flag bit: ``max_iter`` Newton steps did not reach ``tol``.
CENTROID_NOT_CONVERGED = 16
#: Flag bit: no estimate at all; the position is the starting (peak) position.
CENTROID_FAILED = 32


class CentroidResult(NamedTuple):
    """Centroids in parent pixels, their errors and covariance (NaN without variance), flag bits."""

    x: np.ndarray
    y: np.ndarray
    x_err: np.ndarray
    y_err: np.ndarray
    xy_cov: np.ndarray
    flag: np.ndarray


@numba.njit(cache=True, nogil=True)
def _naive_one(
    image: np.ndarray, var: np.ndarray, has_var: bool, ix: int, iy: int, out: np.ndarray
) -> bool:  # pragma: no cover - numba
    """3×3 first moment around pixel ``(ix, iy)`` (array indices) into ``out[x, y, vx, vy, cxy]``."""
    ny, nx = image.shape
    s0 = 0.0
    sx = 0.0
    sy = 0.0
    for j in range(max(iy - 1, 0), min(iy + 1, ny - 1) + 1):
        for i in range(max(ix - 1, 0), min(ix + 1, nx - 1) + 1):
            v = image[j, i]
            if np.isfinite(v):
                s0 += v
                sx += v * (i - ix)
                sy += v * (j - iy)
    if not s0 > 0.0:
        return False
    mx = sx / s0
    my = sy / s0
    vx = 0.0
    vy = 0.0
    cxy = 0.0
    if has_var:
        for j in range(max(iy - 1, 0), min(iy + 1, ny - 1) + 1):
            for i in range(max(ix - 1, 0), min(ix + 1, nx - 1) + 1):
                if np.isfinite(image[j, i]):
                    dx = i - ix - mx
                    dy = j - iy - my
                    vx += var[j, i] * dx * dx
                    vy += var[j, i] * dy * dy
                    cxy += var[j, i] * dx * dy
        vx /= s0 * s0
        vy /= s0 * s0
        cxy /= s0 * s0
    else:
        vx = np.nan
        vy = np.nan
        cxy = np.nan
    out[0] = ix + mx
    out[1] = iy + my
    out[2] = vx
    out[3] = vy
    out[4] = cxy
    return abs(mx) <= 1.0 and abs(my) <= 1.0


@numba.njit(cache=True, nogil=True)
def _gauss_row(g: np.ndarray, start: int, c: float, inv2s2: float) -> None:  # pragma: no cover - numba
    for m in range(g.size):
        d = start + m - c
        g[m] = math.exp(-d * d * inv2s2)


@numba.njit(cache=True, nogil=True)
def _sdss_kernel(
    image: np.ndarray,
    var: np.ndarray,
    has_var: bool,
    xs: np.ndarray,
    ys: np.ndarray,
    sigmas: np.ndarray,
    max_iter: int,
    tol: float,
    max_shift: float,
    out: np.ndarray,
    flags: np.ndarray,
) -> None:  # pragma: no cover - numba
    ny, nx = image.shape
    n = xs.size
    naive = np.empty(5)
    for s in range(n):
        x_init = xs[s]
        y_init = ys[s]
        flag = 0
        if not (np.isfinite(x_init) and np.isfinite(y_init)):
            for q in range(5):
                out[s, q] = np.nan
            flags[s] = CENTROID_FAILED
            continue
        sig = sigmas[s]
        hw = math.ceil(5.0 * sig) + 1
        inv2s2 = 0.5 / (sig * sig)
        size = 2 * hw + 3
        gx = np.empty(size + 2)
        gy = np.empty(size + 2)
        rows = np.empty((3, size))
        cx = float(math.floor(x_init + 0.5))
        cy = float(math.floor(y_init + 0.5))
        ok = False
        stepped_to_max = False
        g_x = 0.0
        g_y = 0.0
        hxx = 0.0
        hyy = 0.0
        hxy = 0.0
        i_lo = 0
        j_lo = 0
        converged = False
        for it in range(max_iter):
            icx = math.floor(cx + 0.5)
            icy = math.floor(cy + 0.5)
            i_lo = icx - hw - 1
            j_lo = icy - hw - 1
            if i_lo < 0 or j_lo < 0 or i_lo + size > nx or j_lo + size > ny:
                flag |= CENTROID_EDGE
            # g[m] = exp(-(start + m - c)^2 / 2s^2) with start = lo - 1: kernel centred at c + a is g[m - a].
            _gauss_row(gx, i_lo - 1, cx, inv2s2)
            _gauss_row(gy, j_lo - 1, cy, inv2s2)
            # rows[a + 1, jj] = sum_i I[j, i] * K(i - cx - a)
            for jj in range(size):
                rows[0, jj] = 0.0
                rows[1, jj] = 0.0
                rows[2, jj] = 0.0
                j = j_lo + jj
                if j < 0 or j >= ny:
                    continue
                for ii in range(size):
                    i = i_lo + ii
                    if i < 0 or i >= nx:
                        continue
                    v = image[j, i]
                    if not np.isfinite(v):
                        continue
                    m = ii + 1
                    rows[0, jj] += v * gx[m + 1]
                    rows[1, jj] += v * gx[m]
                    rows[2, jj] += v * gx[m - 1]
            sm = np.zeros((3, 3))  # sm[a + 1, b + 1] = S(c + (a, b))
            for jj in range(size):
                m = jj + 1
                for a in range(3):
                    r = rows[a, jj]
                    sm[a, 0] += r * gy[m + 1]
                    sm[a, 1] += r * gy[m]
                    sm[a, 2] += r * gy[m - 1]
            g_x = 0.5 * (sm[2, 1] - sm[0, 1])
            g_y = 0.5 * (sm[1, 2] - sm[1, 0])
            hxx = sm[2, 1] - 2.0 * sm[1, 1] + sm[0, 1]
            hyy = sm[1, 2] - 2.0 * sm[1, 1] + sm[1, 0]
            hxy = 0.25 * (sm[2, 2] - sm[2, 0] - sm[0, 2] + sm[0, 0])
            det = hxx * hyy - hxy * hxy
            if not (hxx < 0.0 and hyy < 0.0 and det > 0.0 and sm[1, 1] > 0.0):
                # Not at a maximum: on the first steps move to the brightest of the 3x3 and retry.
                best = sm[1, 1]
                ba = 1
                bb = 1
                for a in range(3):
                    for b in range(3):
                        if sm[a, b] > best:
                            best = sm[a, b]
                            ba = a
                            bb = b
                nx_ = cx + ba - 1
                ny_ = cy + bb - 1
                near = abs(nx_ - x_init) <= max_shift + 0.5 and abs(ny_ - y_init) <= max_shift + 0.5
                if (ba != 1 or bb != 1) and near and best > 0.0 and it < max_iter - 1:
                    cx = nx_
                    cy = ny_
                    continue
                stepped_to_max = True
                break
            dx = -(hyy * g_x - hxy * g_y) / det
            dy = -(-hxy * g_x + hxx * g_y) / det
            dx = min(1.0, max(-1.0, dx))
            dy = min(1.0, max(-1.0, dy))
            cx += dx
            cy += dy
            ok = True
            if abs(dx) < tol and abs(dy) < tol:
                converged = True
                break
        good = ok and not stepped_to_max
        if good and (abs(cx - x_init) > max_shift or abs(cy - y_init) > max_shift):
            flag |= CENTROID_MOVED
            good = False
        if good:
            if not converged:
                flag |= CENTROID_NOT_CONVERGED
            out[s, 0] = cx
            out[s, 1] = cy
            if has_var:
                # Var(g) from the variance plane with the kernels of the last evaluation.
                vxx = 0.0
                vyy = 0.0
                vxy = 0.0
                for jj in range(size):
                    j = j_lo + jj
                    if j < 0 or j >= ny:
                        continue
                    m = jj + 1
                    ky0 = gy[m]
                    dky = 0.5 * (gy[m - 1] - gy[m + 1])
                    a0 = 0.0
                    a1 = 0.0
                    a2 = 0.0
                    for ii in range(size):
                        i = i_lo + ii
                        if i < 0 or i >= nx or not np.isfinite(image[j, i]):
                            continue
                        mm = ii + 1
                        kx0 = gx[mm]
                        dkx = 0.5 * (gx[mm - 1] - gx[mm + 1])
                        vv = var[j, i]
                        a0 += vv * dkx * dkx
                        a1 += vv * kx0 * kx0
                        a2 += vv * kx0 * dkx
                    vxx += ky0 * ky0 * a0
                    vyy += dky * dky * a1
                    vxy += ky0 * dky * a2
                det = hxx * hyy - hxy * hxy
                ixx = hyy / det
                iyy = hxx / det
                ixy = -hxy / det
                # Cov(c) = H^-1 Cov(g) H^-1 (symmetric 2x2 products written out).
                t00 = ixx * vxx + ixy * vxy
                t01 = ixx * vxy + ixy * vyy
                t10 = ixy * vxx + iyy * vxy
                t11 = ixy * vxy + iyy * vyy
                out[s, 2] = t00 * ixx + t01 * ixy
                out[s, 3] = t10 * ixy + t11 * iyy
                out[s, 4] = t00 * ixy + t01 * iyy
            else:
                out[s, 2] = np.nan
                out[s, 3] = np.nan
                out[s, 4] = np.nan
        else:
            if not (flag & CENTROID_MOVED):
                flag |= CENTROID_NO_PEAK
            ix = math.floor(x_init + 0.5)
            iy = math.floor(y_init + 0.5)
            inside = 0 <= ix < nx and 0 <= iy < ny
            if inside and _naive_one(image, var, has_var, ix, iy, naive):
                flag |= CENTROID_FALLBACK
                for q in range(5):
                    out[s, q] = naive[q]
            else:
                flag |= CENTROID_FAILED
                out[s, 0] = x_init
                out[s, 1] = y_init
                out[s, 2] = np.nan
                out[s, 3] = np.nan
                out[s, 4] = np.nan
        flags[s] = flag


@numba.njit(cache=True, nogil=True)
def _naive_kernel(
    image: np.ndarray,
    var: np.ndarray,
    has_var: bool,
    xs: np.ndarray,
    ys: np.ndarray,
    out: np.ndarray,
    flags: np.ndarray,
) -> None:  # pragma: no cover - numba
    ny, nx = image.shape
    buf = np.empty(5)
    for s in range(xs.size):
        if not (np.isfinite(xs[s]) and np.isfinite(ys[s])):
            for q in range(5):
                out[s, q] = np.nan
            flags[s] = CENTROID_FAILED
            continue
        ix = math.floor(xs[s] + 0.5)
        iy = math.floor(ys[s] + 0.5)
        flag = 0
        if ix < 1 or iy < 1 or ix > nx - 2 or iy > ny - 2:
            flag |= CENTROID_EDGE
        if 0 <= ix < nx and 0 <= iy < ny and _naive_one(image, var, has_var, ix, iy, buf):
            for q in range(5):
                out[s, q] = buf[q]
        else:
            flag |= CENTROID_FAILED | CENTROID_NO_PEAK
            out[s, 0] = xs[s]
            out[s, 1] = ys[s]
            out[s, 2] = np.nan
            out[s, 3] = np.nan
            out[s, 4] = np.nan
        flags[s] = flag


def _result(out: np.ndarray, flags: np.ndarray, x0: int, y0: int) -> CentroidResult:
    with np.errstate(invalid="ignore"):
        return CentroidResult(
            out[:, 0] + x0,
            out[:, 1] + y0,
            np.sqrt(out[:, 2]),
            np.sqrt(out[:, 3]),
            out[:, 4].copy(),
            flags,
        )


def sdss_centroid(
    image: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    sigma: npt.ArrayLike,
    *,
    variance: npt.ArrayLike | None = None,
    xy0: tuple[int, int] = (0, 0),
    max_iter: int = 20,
    tol: float = 1e-5,
    max_shift: float = 2.0,
) -> CentroidResult:
    """Centroids of sources by the iterated SDSS quadratic fit on the Gaussian-smoothed image.

    Parameters
    ----------
    image : array_like
        2-d background-subtracted image; ``image[j, i]`` is pixel ``(i + x0, j + y0)``.
    x, y : array_like
        Starting positions (usually footprint peaks) in parent pixels; the search starts at the
        nearest pixel.
    sigma : `float` or array_like
        Width (pixels) of the Gaussian the image is smoothed with, one or one per source; use the
        PSF's determinant radius (``Psf.determinant_radius``).
    variance : array_like, optional
        Variance plane; without it the errors are NaN.
    xy0 : `tuple` [`int`, `int`]
        Parent coordinates of ``image[0, 0]``.
    max_iter : `int`
        Maximum number of fit/step iterations.
    tol : `float`
        Convergence: the last step is smaller than ``tol`` pixels along both axes.
    max_shift : `float`
        Largest accepted distance (pixels, per axis) from the starting position; beyond it the
        fallback is used and `CENTROID_MOVED` set.

    Returns
    -------
    result : `CentroidResult`
        ``x``, ``y``, ``x_err``, ``y_err``, ``xy_cov`` (float64) and ``flag`` (int32 bits
        `CENTROID_EDGE`, `CENTROID_NO_PEAK`, `CENTROID_MOVED`, `CENTROID_FALLBACK`,
        `CENTROID_NOT_CONVERGED`, `CENTROID_FAILED`). The result is usable whenever
        ``flag & (CENTROID_FALLBACK | CENTROID_FAILED) == 0``.

    Raises
    ------
    ValueError, TypeError
        For bad planes, positions, non-positive ``sigma`` or iteration settings.
    """
    img = as_image(image)
    var, has_var = as_variance(variance, img.shape)
    x0, y0 = check_xy0(xy0)
    xs, ys = as_positions(x, y)
    sig = per_source(sigma, xs.size, "sigma")
    if not np.all(np.isfinite(sig) & (sig > 0)):
        raise ValueError(
            "sigma (smoothing width in pixels) must be finite and positive; use psf.determinant_radius()"
        )
    if max_iter < 1 or not tol > 0 or not max_shift > 0:
        raise ValueError(f"need max_iter >= 1, tol > 0 and max_shift > 0; got {max_iter}, {tol}, {max_shift}")
    out = np.empty((xs.size, 5))
    flags = np.zeros(xs.size, dtype=np.int32)
    if xs.size:
        _sdss_kernel(
            img, var, has_var, xs - x0, ys - y0, sig, int(max_iter), float(tol), float(max_shift), out, flags
        )
    return _result(out, flags, x0, y0)


def naive_centroid(
    image: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    variance: npt.ArrayLike | None = None,
    xy0: tuple[int, int] = (0, 0),
) -> CentroidResult:
    """First-moment centroids of the 3×3 pixels around the pixel nearest each position.

    Parameters
    ----------
    image, x, y, variance, xy0
        As for `sdss_centroid`.

    Returns
    -------
    result : `CentroidResult`
        The positions; a source whose 3×3 sum is not positive keeps its input position with
        `CENTROID_FAILED` set. `CENTROID_EDGE` marks 3×3 boxes cut by the image edge.
    """
    img = as_image(image)
    var, has_var = as_variance(variance, img.shape)
    x0, y0 = check_xy0(xy0)
    xs, ys = as_positions(x, y)
    out = np.empty((xs.size, 5))
    flags = np.zeros(xs.size, dtype=np.int32)
    if xs.size:
        _naive_kernel(img, var, has_var, xs - x0, ys - y0, out, flags)
    return _result(out, flags, x0, y0)
