# SPDX-License-Identifier: GPL-3.0-or-later
"""Local background: a sigma-clipped median of the pixels in an annulus around each source.

The annulus holds the pixels whose centres lie at ``inner_radius <= d < outer_radius`` from the
source position (Rubin's ``LocalBackground`` plugin uses 7 and 15 pixels). Pixels with
``bad_mask_bits`` set (e.g. ``BAD``, ``SAT``, ``NO_DATA``, and ``DETECTED`` to skip other sources)
or non-finite values are left out. The clipping repeats up to ``max_iter`` times: the median and
the Gaussian-equivalent scale ``1.4826 × MAD`` of the kept values are computed and values further
than ``n_sigma`` scales from the median are dropped, until nothing more is dropped.

Reported per source: ``background`` (the final median, image units per pixel), ``background_err``
(its standard error, ``√(π/2) σ / √n`` for Gaussian noise), ``sigma`` (the per-pixel scatter of the
kept values, ``1.4826 × MAD``), the number of pixels kept and flag bits. For a background that is a
plane across the annulus the median is the value at the centre (the values are symmetric about
it), so gradients do not bias it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from ._inputs import as_image, as_mask, as_positions, check_xy0

__all__ = [
    "LOCAL_BACKGROUND_EDGE",
    "LOCAL_BACKGROUND_NO_GOOD_PIXELS",
    "LocalBackgroundResult",
    "local_background",
]

#: Flag bit: the annulus is cut by the image edge.
LOCAL_BACKGROUND_EDGE = 1
#: Flag bit: no usable pixel in the annulus (or a non-finite position); values are NaN.
LOCAL_BACKGROUND_NO_GOOD_PIXELS = 2

_MAD_TO_SIGMA = 1.482602218505602
_MEDIAN_EFFICIENCY = math.sqrt(math.pi / 2.0)


class LocalBackgroundResult(NamedTuple):
    """Annulus background level and error (image units per pixel), pixel scatter, count, flags."""

    background: np.ndarray
    background_err: np.ndarray
    sigma: np.ndarray
    n_pixels: np.ndarray
    flag: np.ndarray


@numba.njit(cache=True, nogil=True)
def _annulus_kernel(
    image: np.ndarray,
    mask: np.ndarray,
    has_mask: bool,
    bad_bits: np.int64,
    xs: np.ndarray,
    ys: np.ndarray,
    r_in: float,
    r_out: float,
    n_sigma: float,
    max_iter: int,
    out: np.ndarray,
    flags: np.ndarray,
) -> None:  # pragma: no cover - numba
    ny, nx = image.shape
    side = 2 * math.ceil(r_out) + 3
    buf = np.empty(side * side)
    tmp = np.empty(side * side)
    r_in2 = r_in * r_in
    r_out2 = r_out * r_out
    for s in range(xs.size):
        cx = xs[s]
        cy = ys[s]
        out[s, 0] = np.nan
        out[s, 1] = np.nan
        out[s, 2] = np.nan
        out[s, 3] = 0
        if not (np.isfinite(cx) and np.isfinite(cy)):
            flags[s] = LOCAL_BACKGROUND_NO_GOOD_PIXELS
            continue
        i0 = math.ceil(cx - r_out)
        i1 = math.floor(cx + r_out)
        j0 = math.ceil(cy - r_out)
        j1 = math.floor(cy + r_out)
        flag = 0
        if i0 < 0 or j0 < 0 or i1 > nx - 1 or j1 > ny - 1:
            flag |= LOCAL_BACKGROUND_EDGE
        n = 0
        for j in range(max(j0, 0), min(j1, ny - 1) + 1):
            dy = j - cy
            for i in range(max(i0, 0), min(i1, nx - 1) + 1):
                dx = i - cx
                d2 = dx * dx + dy * dy
                if d2 < r_in2 or d2 >= r_out2:
                    continue
                v = image[j, i]
                if not np.isfinite(v) or (has_mask and (mask[j, i] & bad_bits) != 0):
                    continue
                buf[n] = v
                n += 1
        if n == 0:
            flags[s] = flag | LOCAL_BACKGROUND_NO_GOOD_PIXELS
            continue
        med = np.median(buf[:n])
        for k in range(n):
            tmp[k] = abs(buf[k] - med)
        scale = _MAD_TO_SIGMA * np.median(tmp[:n])
        for _ in range(max_iter):
            cut = n_sigma * scale
            m = 0
            for k in range(n):
                if abs(buf[k] - med) <= cut:
                    buf[m] = buf[k]
                    m += 1
            if m == n or m == 0:
                break
            n = m
            med = np.median(buf[:n])
            for k in range(n):
                tmp[k] = abs(buf[k] - med)
            scale = _MAD_TO_SIGMA * np.median(tmp[:n])
        out[s, 0] = med
        out[s, 1] = _MEDIAN_EFFICIENCY * scale / math.sqrt(n)
        out[s, 2] = scale
        out[s, 3] = n
        flags[s] = flag


def local_background(
    image: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    inner_radius: float = 7.0,
    outer_radius: float = 15.0,
    mask: npt.ArrayLike | None = None,
    bad_mask_bits: int = 0,
    xy0: tuple[int, int] = (0, 0),
    n_sigma: float = 3.0,
    max_iter: int = 3,
) -> LocalBackgroundResult:
    """Sigma-clipped median of the pixels in an annulus around each source.

    Parameters
    ----------
    image : array_like
        2-d image; ``image[j, i]`` is pixel ``(i + x0, j + y0)``.
    x, y : array_like
        Annulus centres in parent pixels.
    inner_radius, outer_radius : `float`
        Annulus radii in pixels: pixel centres with ``inner <= d < outer`` are used.
    mask : array_like, optional
        Integer mask plane; pixels with any of ``bad_mask_bits`` are left out.
    bad_mask_bits : `int`
        Bits of the mask planes to leave out.
    xy0 : `tuple` [`int`, `int`]
        Parent coordinates of ``image[0, 0]``.
    n_sigma : `float`
        Clipping threshold in units of the robust scale.
    max_iter : `int`
        Maximum number of clipping passes (0: plain median).

    Returns
    -------
    result : `LocalBackgroundResult`
        ``background``, ``background_err``, ``sigma``, ``n_pixels`` and ``flag`` (bits
        `LOCAL_BACKGROUND_EDGE`, `LOCAL_BACKGROUND_NO_GOOD_PIXELS`).

    Raises
    ------
    ValueError, TypeError
        For bad planes or positions, radii with ``0 <= inner < outer`` violated, or a
        non-positive ``n_sigma``.
    """
    if not (0 <= inner_radius < outer_radius and math.isfinite(outer_radius)):
        raise ValueError(
            f"need 0 <= inner_radius < outer_radius (pixels), got inner={inner_radius}, outer={outer_radius}"
        )
    if not n_sigma > 0 or max_iter < 0:
        raise ValueError(f"n_sigma must be positive and max_iter >= 0, got {n_sigma}, {max_iter}")
    img = as_image(image)
    msk, has_mask, bits = as_mask(mask, img.shape, bad_mask_bits)
    x0, y0 = check_xy0(xy0)
    xs, ys = as_positions(x, y)
    out = np.empty((xs.size, 4))
    flags = np.zeros(xs.size, dtype=np.int32)
    if xs.size:
        _annulus_kernel(
            img, msk, has_mask, bits, xs - x0, ys - y0, float(inner_radius), float(outer_radius),
            float(n_sigma), int(max_iter), out, flags,
        )  # fmt: skip
    return LocalBackgroundResult(
        out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy(), out[:, 3].astype(np.int32), flags
    )
