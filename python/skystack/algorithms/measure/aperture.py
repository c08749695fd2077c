# SPDX-License-Identifier: GPL-3.0-or-later
"""Exact circular-aperture photometry (the sep ``sum_circle`` / photutils ``"exact"`` method).

Each pixel contributes its value times the exact area of its overlap with the circle (pixels are
unit squares centred on integer coordinates; ``image[j, i]`` is pixel ``(i + x0, j + y0)``). The
overlap of a pixel ``[xa, xb] × [ya, yb]`` with a circle of radius ``r`` centred at the origin is
the inclusion–exclusion ``F(xb, yb) − F(xa, yb) − F(xb, ya) + F(xa, ya)`` of the corner function
``F(x, y) = area{X ≤ x, Y ≤ y, X² + Y² ≤ r²}``, which has the closed form (``H(t) = ½(t√(r²−t²) +
r² asin(t/r))`` the antiderivative of the half-chord, ``x' = clip(x, −r, r)``,
``w = √(r² − clip(y, −r, r)²)``, ``x'' = clip(x', −w, w)``)::

    F(x, y) = 2 (H(x') − H(−r)) − (H(x'') − H(−w)) + y (x'' + w)     if y ≥ 0
    F(x, y) = H(x'') − H(−w) + y (x'' + w)                            if y < 0

Every ``H`` value depends only on one pixel-edge coordinate, so one ``asin`` per pixel edge per
source (not per pixel) is needed; pixels whose centre lies more than ``√2/2`` inside (outside)
the circle count fully (not at all) without computing an overlap, as sep does. All radii of
`aperture_fluxes` are measured in one pass over the pixels of the largest aperture.

Errors propagate the variance plane exactly, ``σ² = Σ w² V`` for overlap weights ``w``; sep and
photutils use ``Σ w V`` (identical for whole pixels, larger on the boundary). Pixels with any of
``bad_mask_bits`` set, or with non-finite values, are left out of the sums and flagged, as sep
does with its mask; pixels off the image are left out and flagged as truncation.

This is hand-written (numba) rather than delegated to sep because skystack measures all radii in
one pass and needs the same position and mask conventions as its other plugins; sep remains the
reference it is tested and benchmarked against.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from ._inputs import as_image, as_mask, as_positions, as_variance, check_xy0, per_source

__all__ = [
    "APERTURE_INVALID",
    "APERTURE_MASKED",
    "APERTURE_TRUNCATED",
    "ApertureResult",
    "aperture_flux",
    "aperture_fluxes",
    "pixel_circle_overlap",
]

#: Flag bit: part of the aperture lies off the image (the sum covers the part on the image).
APERTURE_TRUNCATED = 1
#: Flag bit: pixels with ``bad_mask_bits`` set or non-finite values were left out of the sum.
APERTURE_MASKED = 2
#: Flag bit: non-finite position or no pixel of the aperture on the image; flux is NaN.
APERTURE_INVALID = 4

_HALF_DIAGONAL = 0.7072  # a little more than sqrt(2)/2, as sep uses


class ApertureResult(NamedTuple):
    """Aperture sums: flux (image units), its error (NaN without a variance plane) and flag bits."""

    flux: np.ndarray
    flux_err: np.ndarray
    flag: np.ndarray


@numba.njit(cache=True, nogil=True, inline="always")
def _half_chord_integral(t: float, r: float) -> float:  # pragma: no cover - numba
    """``H(t) = ∫_0^t √(r² − s²) ds`` for ``|t| ≤ r``."""
    if r <= 0.0:
        return 0.0
    q = t / r
    q = min(1.0, max(-1.0, q))
    return 0.5 * (t * math.sqrt(max(r * r - t * t, 0.0)) + r * r * math.asin(q))


@numba.njit(cache=True, nogil=True, inline="always")
def _corner(
    xp: float, hxp: float, yc: float, w: float, hw: float, quarter: float
) -> float:  # pragma: no cover
    """``F(x, y)`` from the precomputed edge quantities (see the module docstring)."""
    if xp >= w:
        xcc = w
        hxc = hw
    elif xp <= -w:
        xcc = -w
        hxc = -hw
    else:
        xcc = xp
        hxc = hxp
    if yc >= 0.0:
        return 2.0 * (hxp + quarter) - (hxc + hw) + yc * (xcc + w)
    return hxc + hw + yc * (xcc + w)


@numba.njit(cache=True, nogil=True)
def _overlap_many(dx: np.ndarray, dy: np.ndarray, r: float, out: np.ndarray) -> None:  # pragma: no cover
    """Area of unit pixels centred at ``(dx, dy)`` inside the circle of radius ``r`` at the origin."""
    quarter = 0.25 * math.pi * r * r
    for k in range(dx.size):
        total = 0.0
        for ex in range(2):
            t = dx[k] - 0.5 + ex
            xp = min(r, max(-r, t))
            hxp = _half_chord_integral(xp, r)
            for ey in range(2):
                u = dy[k] - 0.5 + ey
                yc = min(r, max(-r, u))
                w = math.sqrt(max(r * r - yc * yc, 0.0))
                hw = _half_chord_integral(w, r)
                sign = 1.0 if ex == ey else -1.0
                total += sign * _corner(xp, hxp, yc, w, hw, quarter)
        out[k] = min(1.0, max(0.0, total))


@numba.njit(cache=True, nogil=True)
def _aperture_kernel(
    image: np.ndarray,
    var: np.ndarray,
    has_var: bool,
    mask: np.ndarray,
    has_mask: bool,
    bad_bits: np.int64,
    xs: np.ndarray,
    ys: np.ndarray,
    radii: np.ndarray,
    max_edges: int,
    flux: np.ndarray,
    var_out: np.ndarray,
    flags: np.ndarray,
) -> None:  # pragma: no cover - numba
    ny, nx = image.shape
    n, nr = radii.shape
    hx = np.empty((nr, max_edges))
    xpv = np.empty((nr, max_edges))
    hw = np.empty((nr, max_edges))
    wv = np.empty((nr, max_edges))
    ycv = np.empty((nr, max_edges))
    ring = np.empty(nr)
    ring_var = np.empty(nr)
    part = np.empty(nr)
    part_var = np.empty(nr)
    lo = np.empty(nr)
    hi = np.empty(nr)
    for s in range(n):
        xc = xs[s]
        yc = ys[s]
        rmax = radii[s, nr - 1]
        if not (np.isfinite(xc) and np.isfinite(yc)):
            for k in range(nr):
                flux[s, k] = np.nan
                var_out[s, k] = np.nan
                flags[s, k] = 4
            continue
        i0 = math.floor(xc - rmax + 0.5)
        i1 = math.floor(xc + rmax + 0.5)
        j0 = math.floor(yc - rmax + 0.5)
        j1 = math.floor(yc + rmax + 0.5)
        ia = max(i0, 0)
        ib = min(i1, nx - 1)
        ja = max(j0, 0)
        jb = min(j1, ny - 1)
        for k in range(nr):
            ring[k] = 0.0
            ring_var[k] = 0.0
            part[k] = 0.0
            part_var[k] = 0.0
            flags[s, k] = 0
            r = radii[s, k]
            lo[k] = r - 0.7072
            hi[k] = r + 0.7072
            # Per radius: does its pixel box reach off the image, or miss it entirely?
            ka = math.floor(xc - r + 0.5)
            kb = math.floor(xc + r + 0.5)
            la = math.floor(yc - r + 0.5)
            lb = math.floor(yc + r + 0.5)
            if ka > nx - 1 or kb < 0 or la > ny - 1 or lb < 0:
                flags[s, k] |= 4
            elif r > 0.0 and (ka < 0 or kb > nx - 1 or la < 0 or lb > ny - 1):
                flags[s, k] |= 1
        if ia > ib or ja > jb:
            for k in range(nr):
                flux[s, k] = np.nan
                var_out[s, k] = np.nan
                flags[s, k] |= 4
            continue
        # Edge quantities, per radius, for the pixel edges of the clipped box.
        for k in range(nr):
            r = radii[s, k]
            for e in range(ib - ia + 2):
                t = (ia + e - 0.5) - xc
                xp = min(r, max(-r, t))
                xpv[k, e] = xp
                hx[k, e] = _half_chord_integral(xp, r)
            for e in range(jb - ja + 2):
                u = (ja + e - 0.5) - yc
                ycl = min(r, max(-r, u))
                w = math.sqrt(max(r * r - ycl * ycl, 0.0))
                ycv[k, e] = ycl
                wv[k, e] = w
                hw[k, e] = _half_chord_integral(w, r)
        hmax = hi[nr - 1]
        for j in range(ja, jb + 1):
            dy = j - yc
            ej = j - ja
            for i in range(ia, ib + 1):
                dx = i - xc
                d = math.sqrt(dx * dx + dy * dy)
                if d >= hmax:
                    continue
                value = image[j, i]
                bad = not np.isfinite(value)
                if has_mask and (mask[j, i] & bad_bits) != 0:
                    bad = True
                v = var[j, i] if has_var else 0.0
                ei = i - ia
                for k in range(nr):
                    if d >= hi[k]:
                        continue
                    if d <= lo[k]:
                        # Fully inside this radius and therefore all larger ones.
                        if bad:
                            for kk in range(k, nr):
                                flags[s, kk] |= 2
                        else:
                            ring[k] += value
                            ring_var[k] += v
                        break
                    r = radii[s, k]
                    quarter = 0.25 * math.pi * r * r
                    xa, ha, xb, hb = xpv[k, ei], hx[k, ei], xpv[k, ei + 1], hx[k, ei + 1]
                    ya, wa, ga = ycv[k, ej], wv[k, ej], hw[k, ej]
                    yb, wb, gb = ycv[k, ej + 1], wv[k, ej + 1], hw[k, ej + 1]
                    area = (
                        _corner(xb, hb, yb, wb, gb, quarter)
                        - _corner(xa, ha, yb, wb, gb, quarter)
                        - _corner(xb, hb, ya, wa, ga, quarter)
                        + _corner(xa, ha, ya, wa, ga, quarter)
                    )
                    if area <= 0.0:
                        continue
                    if area > 1.0:
                        area = 1.0
                    if bad:
                        flags[s, k] |= 2
                    else:
                        part[k] += area * value
                        part_var[k] += area * area * v
        acc = 0.0
        acc_var = 0.0
        for k in range(nr):
            acc += ring[k]
            acc_var += ring_var[k]
            if flags[s, k] & 4:
                flux[s, k] = np.nan
                var_out[s, k] = np.nan
            else:
                flux[s, k] = acc + part[k]
                var_out[s, k] = acc_var + part_var[k] if has_var else np.nan


def pixel_circle_overlap(dx: npt.ArrayLike, dy: npt.ArrayLike, radius: float) -> np.ndarray:
    """Exact area of unit pixels centred at offsets ``(dx, dy)`` from a circle's centre inside it.

    Parameters
    ----------
    dx, dy : array_like
        Pixel-centre offsets from the circle's centre (broadcast together).
    radius : `float`
        Circle radius in pixels (``>= 0``).

    Returns
    -------
    area : `numpy.ndarray`
        Overlap areas in ``[0, 1]``.
    """
    r = float(radius)
    if not (math.isfinite(r) and r >= 0):
        raise ValueError(f"radius must be finite and non-negative (pixels), got {radius!r}")
    bx, by = np.broadcast_arrays(np.asarray(dx, dtype=np.float64), np.asarray(dy, dtype=np.float64))
    out = np.empty(bx.size)
    _overlap_many(np.ascontiguousarray(bx).ravel(), np.ascontiguousarray(by).ravel(), r, out)
    return out.reshape(bx.shape)


def _check_radii(radii: np.ndarray, what: str) -> None:
    bad = ~(np.isfinite(radii) & (radii >= 0))
    if np.any(bad):
        raise ValueError(f"{what} must be finite and non-negative (pixels); got {radii[bad][:3].tolist()}")


def _run(
    image: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    radii: np.ndarray,
    variance: npt.ArrayLike | None,
    mask: npt.ArrayLike | None,
    bad_mask_bits: int,
    xy0: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    img = as_image(image)
    var, has_var = as_variance(variance, img.shape)
    msk, has_mask, bits = as_mask(mask, img.shape, bad_mask_bits)
    x0, y0 = check_xy0(xy0)
    xs, ys = as_positions(x, y)
    n, nr = radii.shape
    flux = np.empty((n, nr))
    var_out = np.empty((n, nr))
    flags = np.zeros((n, nr), dtype=np.int32)
    if n and nr:
        rmax = float(np.max(radii)) if radii.size else 0.0
        max_edges = 2 * math.ceil(rmax) + 4
        # Visit sources in row-major order of 64-row bands so neighbouring apertures share cache lines.
        band = np.where(np.isfinite(ys), np.floor((ys - y0) / 64.0), -1.0)
        order = np.lexsort((xs, band))
        _aperture_kernel(
            img, var, has_var, msk, has_mask, bits, (xs - x0)[order], (ys - y0)[order],
            np.ascontiguousarray(radii[order]), max_edges, flux, var_out, flags,
        )  # fmt: skip
        inverse = np.empty_like(order)
        inverse[order] = np.arange(n)
        flux, var_out, flags = flux[inverse], var_out[inverse], flags[inverse]
    return flux, np.sqrt(var_out), flags


def aperture_flux(
    image: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    radius: npt.ArrayLike,
    *,
    variance: npt.ArrayLike | None = None,
    mask: npt.ArrayLike | None = None,
    bad_mask_bits: int = 0,
    xy0: tuple[int, int] = (0, 0),
) -> ApertureResult:
    """Sum of pixel values inside circles, with exact pixel/circle overlap weights.

    Parameters
    ----------
    image : array_like
        2-d image (background subtracted); ``image[j, i]`` is pixel ``(i + x0, j + y0)``.
    x, y : array_like
        Circle centres in parent pixel coordinates (pixel centres are integers); scalars or 1-d.
    radius : `float` or array_like
        Radius in pixels, one for all sources or one per source.
    variance : array_like, optional
        Variance plane of the image; without it ``flux_err`` is NaN.
    mask : array_like, optional
        Integer mask plane; pixels with any of ``bad_mask_bits`` set are left out (and flagged).
    bad_mask_bits : `int`
        Bit mask of mask planes to leave out (``Mask.get_plane_bitmask("BAD", "SAT", …)``).
    xy0 : `tuple` [`int`, `int`]
        Parent coordinates of ``image[0, 0]``.

    Returns
    -------
    result : `ApertureResult`
        ``flux`` and ``flux_err`` (float64, one per source) and ``flag`` (int32 bits
        `APERTURE_TRUNCATED`, `APERTURE_MASKED`, `APERTURE_INVALID`).

    Raises
    ------
    ValueError, TypeError
        For planes of another shape, radii that are negative or not one per source, or
        positions of different lengths.
    """
    xs, _ = as_positions(x, y)
    r = per_source(radius, xs.size, "radius")
    _check_radii(r, "radius")
    flux, err, flags = _run(image, x, y, r[:, None], variance, mask, bad_mask_bits, xy0)
    return ApertureResult(flux[:, 0], err[:, 0], flags[:, 0])


def aperture_fluxes(
    image: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    radii: npt.ArrayLike,
    *,
    variance: npt.ArrayLike | None = None,
    mask: npt.ArrayLike | None = None,
    bad_mask_bits: int = 0,
    xy0: tuple[int, int] = (0, 0),
) -> ApertureResult:
    """Aperture sums at several radii at once (one pass over the pixels of the largest).

    Parameters
    ----------
    image, x, y, variance, mask, bad_mask_bits, xy0
        As for `aperture_flux`.
    radii : array_like
        1-d radii in pixels, the same for every source (any order), e.g. Rubin's
        ``(3, 4.5, 6, 9, 12, 17, 25)``.

    Returns
    -------
    result : `ApertureResult`
        Arrays of shape ``(n_sources, n_radii)``, columns in the order of ``radii``.

    Raises
    ------
    ValueError, TypeError
        As for `aperture_flux`, or if ``radii`` is not 1-d.
    """
    rad = np.asarray(radii, dtype=np.float64)
    if rad.ndim != 1:
        raise ValueError(f"radii must be a 1-d sequence of radii in pixels, got shape {rad.shape}")
    _check_radii(rad, "radii")
    xs, _ = as_positions(x, y)
    order = np.argsort(rad, kind="stable")
    sorted_r = np.ascontiguousarray(np.broadcast_to(rad[order], (xs.size, rad.size)))
    flux, err, flags = _run(image, x, y, sorted_r, variance, mask, bad_mask_bits, xy0)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return ApertureResult(flux[:, inverse], err[:, inverse], flags[:, inverse])
