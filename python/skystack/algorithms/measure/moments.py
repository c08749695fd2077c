# SPDX-License-Identifier: GPL-3.0-or-later
"""Adaptive second moments: elliptical Gaussian weights iterated to match the source (HSM / SdssShape).

For a weight ``W(r) = exp(−½ (r − c)ᵀ Mw⁻¹ (r − c))`` the weighted image of a Gaussian source of
covariance ``M`` and centre ``μ`` is a Gaussian of covariance ``Q = (M⁻¹ + Mw⁻¹)⁻¹`` centred at
``Q (M⁻¹ μ + Mw⁻¹ c)``: products of Gaussians add their inverse covariances. Each iteration
measures the weighted central moments ``Q`` and first moment ``m`` and updates

- the weight to the source estimate ``Mw ← (Q⁻¹ − Mw⁻¹)⁻¹``;
- the centre by ``c ← c + (I − Q Mw⁻¹)⁻¹ m`` (``2 m`` for a matched weight, ``m`` for a wide one),

until the ellipticity changes by less than ``tol1`` and the size ``det(Mw)^¼`` by less than the
fraction ``tol2`` (SdssShape's criteria). At the fixed point ``Mw = M`` and ``Q = M / 2``: the
reported moments ``xx, yy, xy`` are those of the best-matching elliptical Gaussian, equal to the
source's moments for a Gaussian source (``σ² + 1/12`` per axis for pixel-integrated Gaussians).

Errors (pixel variances propagated linearly): at fixed weight ``Cov(Q)`` follows from
``δQ = Σ W (d dᵀ − Q) δI / Σ W I``; the fixed-point condition ``Q(Mw; I) = Mw / 2`` with
``∂Q/∂Mw = ¼`` (exact for a Gaussian source at convergence) gives ``δM = 4 δQ``. ``flux`` is the
amplitude of the least-squares fit of the weight to the pixels times the weight's integral,
``Σ W I / Σ W² · 2π √det Mw`` (the total flux of a Gaussian source).

Flags: `MOMENTS_UNCONVERGED` (the weighted flux is not positive or ``Q⁻¹ − Mw⁻¹`` is not positive
definite: the source is not resolved by the noise, results NaN), `MOMENTS_MAXITER` (``max_iter``
reached; last values reported), `MOMENTS_SHIFT` (the centre moved more than ``max_shift`` pixels:
it is reset to the input position and held there), `MOMENTS_EDGE` (the weight window is cut by the
image edge). The window is ``±4`` weight sigmas along each axis, at most ``max_radius`` pixels.
Pixels with ``bad_mask_bits`` set or non-finite values are left out.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from ._inputs import as_image, as_mask, as_positions, as_variance, check_xy0, per_source

__all__ = [
    "MOMENTS_EDGE",
    "MOMENTS_MAXITER",
    "MOMENTS_SHIFT",
    "MOMENTS_UNCONVERGED",
    "MomentsResult",
    "adaptive_moments",
]

#: Flag bit: no valid estimate (non-positive weighted flux or moments); values are NaN.
MOMENTS_UNCONVERGED = 1
#: Flag bit: ``max_iter`` iterations without convergence; the last iterate is reported.
MOMENTS_MAXITER = 2
#: Flag bit: the centre moved more than ``max_shift`` pixels and was reset to the input position.
MOMENTS_SHIFT = 4
#: Flag bit: the weight window was cut by the image edge.
MOMENTS_EDGE = 8

_N_OUT = 11  # x, y, xx, yy, xy, var_xx, var_yy, var_xy, flux, var_flux, n_iter


class MomentsResult(NamedTuple):
    """Adaptive moments per source (see the module docstring for their meaning)."""

    x: np.ndarray
    y: np.ndarray
    xx: np.ndarray
    yy: np.ndarray
    xy: np.ndarray
    xx_err: np.ndarray
    yy_err: np.ndarray
    xy_err: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    n_iter: np.ndarray
    flag: np.ndarray


@numba.njit(cache=True, nogil=True)
def _moments_kernel(
    image: np.ndarray,
    var: np.ndarray,
    has_var: bool,
    mask: np.ndarray,
    has_mask: bool,
    bad_bits: np.int64,
    xs: np.ndarray,
    ys: np.ndarray,
    init: np.ndarray,
    max_iter: int,
    tol1: float,
    tol2: float,
    max_shift: float,
    max_radius: float,
    out: np.ndarray,
    flags: np.ndarray,
) -> None:  # pragma: no cover - numba
    ny, nx = image.shape
    for s in range(xs.size):
        x_init = xs[s]
        y_init = ys[s]
        wxx = init[s, 0]
        wyy = init[s, 1]
        wxy = init[s, 2]
        for q in range(_N_OUT):
            out[s, q] = np.nan
        flag = 0
        if not (np.isfinite(x_init) and np.isfinite(y_init)):
            flags[s] = MOMENTS_UNCONVERGED
            continue
        cx = x_init
        cy = y_init
        hold_centre = False
        e1_old = 1e30
        e2_old = 1e30
        size_old = 1e30
        converged = False
        failed = False
        it = 0
        s0 = 0.0
        qxx = 0.0
        qyy = 0.0
        qxy = 0.0
        mx = 0.0
        my = 0.0
        while it < max_iter:
            it += 1
            det_w = wxx * wyy - wxy * wxy
            if not (det_w > 0.0 and wxx > 0.0 and wyy > 0.0):
                failed = True
                break
            iw_xx = wyy / det_w
            iw_yy = wxx / det_w
            iw_xy = -wxy / det_w
            hx = min(4.0 * math.sqrt(wxx), max_radius)
            hy = min(4.0 * math.sqrt(wyy), max_radius)
            i0 = math.floor(cx - hx)
            i1 = math.ceil(cx + hx)
            j0 = math.floor(cy - hy)
            j1 = math.ceil(cy + hy)
            if i0 < 0 or j0 < 0 or i1 > nx - 1 or j1 > ny - 1:
                flag |= MOMENTS_EDGE
            s0 = 0.0
            sx = 0.0
            sy = 0.0
            sxx = 0.0
            syy = 0.0
            sxy = 0.0
            for j in range(max(j0, 0), min(j1, ny - 1) + 1):
                dy = j - cy
                for i in range(max(i0, 0), min(i1, nx - 1) + 1):
                    v = image[j, i]
                    if not np.isfinite(v):
                        continue
                    if has_mask and (mask[j, i] & bad_bits) != 0:
                        continue
                    dx = i - cx
                    u = iw_xx * dx * dx + 2.0 * iw_xy * dx * dy + iw_yy * dy * dy
                    if u > 32.0:
                        continue
                    wv = math.exp(-0.5 * u) * v
                    s0 += wv
                    sx += wv * dx
                    sy += wv * dy
                    sxx += wv * dx * dx
                    syy += wv * dy * dy
                    sxy += wv * dx * dy
            if not s0 > 0.0:
                failed = True
                break
            mx = sx / s0
            my = sy / s0
            qxx = sxx / s0 - mx * mx
            qyy = syy / s0 - my * my
            qxy = sxy / s0 - mx * my
            det_q = qxx * qyy - qxy * qxy
            if not (det_q > 0.0 and qxx > 0.0):
                failed = True
                break
            # Source estimate N = (Q^-1 - Mw^-1)^-1.
            nxx = qyy / det_q - iw_xx
            nyy = qxx / det_q - iw_yy
            nxy = -qxy / det_q - iw_xy
            det_n = nxx * nyy - nxy * nxy
            if not (det_n > 0.0 and nxx > 0.0):
                failed = True
                break
            mxx = nyy / det_n
            myy = nxx / det_n
            mxy = -nxy / det_n
            # Centre step (I - Q Mw^-1)^-1 m.
            if not hold_centre:
                a00 = 1.0 - (qxx * iw_xx + qxy * iw_xy)
                a01 = -(qxx * iw_xy + qxy * iw_yy)
                a10 = -(qxy * iw_xx + qyy * iw_xy)
                a11 = 1.0 - (qxy * iw_xy + qyy * iw_yy)
                det_a = a00 * a11 - a01 * a10
                if det_a != 0.0:
                    cx += (a11 * mx - a01 * my) / det_a
                    cy += (-a10 * mx + a00 * my) / det_a
                if abs(cx - x_init) > max_shift or abs(cy - y_init) > max_shift:
                    flag |= MOMENTS_SHIFT
                    hold_centre = True
                    cx = x_init
                    cy = y_init
            tr = mxx + myy
            e1 = (mxx - myy) / tr
            e2 = 2.0 * mxy / tr
            size = math.sqrt(math.sqrt(mxx * myy - mxy * mxy))
            done = abs(e1 - e1_old) < tol1 and abs(e2 - e2_old) < tol1 and abs(size / size_old - 1.0) < tol2
            e1_old = e1
            e2_old = e2
            size_old = size
            wxx = mxx
            wyy = myy
            wxy = mxy
            if done:
                converged = True
                break
        if failed:
            flags[s] = flag | MOMENTS_UNCONVERGED
            out[s, 10] = it
            continue
        if not converged:
            flag |= MOMENTS_MAXITER
        # Final pass with the final weight: flux, and errors at fixed weight.
        det_w = wxx * wyy - wxy * wxy
        iw_xx = wyy / det_w
        iw_yy = wxx / det_w
        iw_xy = -wxy / det_w
        hx = min(4.0 * math.sqrt(wxx), max_radius)
        hy = min(4.0 * math.sqrt(wyy), max_radius)
        i0 = math.floor(cx - hx)
        i1 = math.ceil(cx + hx)
        j0 = math.floor(cy - hy)
        j1 = math.ceil(cy + hy)
        s0 = 0.0
        sx = 0.0
        sy = 0.0
        sxx = 0.0
        syy = 0.0
        sxy = 0.0
        sw2 = 0.0
        for j in range(max(j0, 0), min(j1, ny - 1) + 1):
            dy = j - cy
            for i in range(max(i0, 0), min(i1, nx - 1) + 1):
                v = image[j, i]
                if not np.isfinite(v):
                    continue
                if has_mask and (mask[j, i] & bad_bits) != 0:
                    continue
                dx = i - cx
                u = iw_xx * dx * dx + 2.0 * iw_xy * dx * dy + iw_yy * dy * dy
                if u > 32.0:
                    continue
                w = math.exp(-0.5 * u)
                wv = w * v
                s0 += wv
                sx += wv * dx
                sy += wv * dy
                sxx += wv * dx * dx
                syy += wv * dy * dy
                sxy += wv * dx * dy
                sw2 += w * w
        if not (s0 > 0.0 and sw2 > 0.0):
            flags[s] = flag | MOMENTS_UNCONVERGED
            out[s, 10] = it
            continue
        mx = sx / s0
        my = sy / s0
        qxx = sxx / s0 - mx * mx
        qyy = syy / s0 - my * my
        qxy = sxy / s0 - mx * my
        norm = 2.0 * math.pi * math.sqrt(det_w) / sw2
        vqxx = 0.0
        vqyy = 0.0
        vqxy = 0.0
        vflux = 0.0
        if has_var:
            for j in range(max(j0, 0), min(j1, ny - 1) + 1):
                dy = j - cy - my
                for i in range(max(i0, 0), min(i1, nx - 1) + 1):
                    if not np.isfinite(image[j, i]):
                        continue
                    if has_mask and (mask[j, i] & bad_bits) != 0:
                        continue
                    ddx = i - cx
                    ddy = j - cy
                    u = iw_xx * ddx * ddx + 2.0 * iw_xy * ddx * ddy + iw_yy * ddy * ddy
                    if u > 32.0:
                        continue
                    w = math.exp(-0.5 * u)
                    vw2 = var[j, i] * w * w
                    dx = i - cx - mx
                    a = dx * dx - qxx
                    b = dy * dy - qyy
                    c = dx * dy - qxy
                    vqxx += vw2 * a * a
                    vqyy += vw2 * b * b
                    vqxy += vw2 * c * c
                    vflux += vw2
            scale = 16.0 / (s0 * s0)
            vqxx *= scale
            vqyy *= scale
            vqxy *= scale
            vflux *= norm * norm
        else:
            vqxx = np.nan
            vqyy = np.nan
            vqxy = np.nan
            vflux = np.nan
        out[s, 0] = cx
        out[s, 1] = cy
        out[s, 2] = wxx
        out[s, 3] = wyy
        out[s, 4] = wxy
        out[s, 5] = vqxx
        out[s, 6] = vqyy
        out[s, 7] = vqxy
        out[s, 8] = s0 * norm
        out[s, 9] = vflux
        out[s, 10] = it
        flags[s] = flag


def adaptive_moments(
    image: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    variance: npt.ArrayLike | None = None,
    mask: npt.ArrayLike | None = None,
    bad_mask_bits: int = 0,
    xy0: tuple[int, int] = (0, 0),
    initial_xx: npt.ArrayLike = 4.0,
    initial_yy: npt.ArrayLike = 4.0,
    initial_xy: npt.ArrayLike = 0.0,
    max_iter: int = 100,
    tol1: float = 1e-5,
    tol2: float = 1e-4,
    max_shift: float = 2.0,
    max_radius: float = 50.0,
) -> MomentsResult:
    """Adaptive (elliptical Gaussian-weighted) second moments of sources.

    Parameters
    ----------
    image : array_like
        2-d background-subtracted image; ``image[j, i]`` is pixel ``(i + x0, j + y0)``.
    x, y : array_like
        Starting centres in parent pixels (usually the centroid).
    variance : array_like, optional
        Variance plane; without it the errors are NaN.
    mask : array_like, optional
        Integer mask plane; pixels with any of ``bad_mask_bits`` are left out.
    bad_mask_bits : `int`
        Bits of the mask planes to leave out.
    xy0 : `tuple` [`int`, `int`]
        Parent coordinates of ``image[0, 0]``.
    initial_xx, initial_yy, initial_xy : `float` or array_like
        Starting weight moments (pixels²), one or one per source; the PSF's moments are a good
        start. Must be positive definite.
    max_iter : `int`
        Maximum number of iterations.
    tol1 : `float`
        Convergence tolerance on the change of the ellipticity components ``e1, e2``.
    tol2 : `float`
        Convergence tolerance on the fractional change of the size ``det(M)^¼``.
    max_shift : `float`
        Largest move of the centre (pixels, per axis) before it is reset and held.
    max_radius : `float`
        Largest half-size (pixels) of the weight window.

    Returns
    -------
    result : `MomentsResult`
        ``x, y`` (final weight centre), ``xx, yy, xy`` (pixels²) and their errors, ``flux`` and
        ``flux_err`` (image units), ``n_iter`` and ``flag`` (bits `MOMENTS_UNCONVERGED`,
        `MOMENTS_MAXITER`, `MOMENTS_SHIFT`, `MOMENTS_EDGE`).

    Raises
    ------
    ValueError, TypeError
        For bad planes or positions, a starting weight that is not positive definite, or
        non-positive iteration settings.
    """
    img = as_image(image)
    var, has_var = as_variance(variance, img.shape)
    msk, has_mask, bits = as_mask(mask, img.shape, bad_mask_bits)
    x0, y0 = check_xy0(xy0)
    xs, ys = as_positions(x, y)
    n = xs.size
    init = np.stack(
        [
            per_source(initial_xx, n, "initial_xx"),
            per_source(initial_yy, n, "initial_yy"),
            per_source(initial_xy, n, "initial_xy"),
        ],
        axis=1,
    )
    finite = np.all(np.isfinite(init), axis=1)
    det = init[:, 0] * init[:, 1] - init[:, 2] ** 2
    if not np.all(finite & (init[:, 0] > 0) & (det > 0)):
        raise ValueError(
            "initial_xx/yy/xy must be positive-definite moments (pixels²); start from the PSF shape, "
            "e.g. psf.compute_shape(x, y)"
        )
    if max_iter < 1 or not (tol1 > 0 and tol2 > 0 and max_shift > 0 and max_radius > 0):
        raise ValueError("max_iter, tol1, tol2, max_shift and max_radius must be positive")
    out = np.empty((n, _N_OUT))
    flags = np.zeros(n, dtype=np.int32)
    if n:
        _moments_kernel(
            img, var, has_var, msk, has_mask, bits, xs - x0, ys - y0, init,
            int(max_iter), float(tol1), float(tol2), float(max_shift), float(max_radius), out, flags,
        )  # fmt: skip
    with np.errstate(invalid="ignore"):
        return MomentsResult(
            out[:, 0] + x0,
            out[:, 1] + y0,
            out[:, 2].copy(),
            out[:, 3].copy(),
            out[:, 4].copy(),
            np.sqrt(out[:, 5]),
            np.sqrt(out[:, 6]),
            np.sqrt(out[:, 7]),
            out[:, 8].copy(),
            np.sqrt(out[:, 9]),
            np.nan_to_num(out[:, 10], nan=0.0).astype(np.int32),
            flags,
        )
