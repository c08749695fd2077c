# SPDX-License-Identifier: GPL-3.0-or-later
"""Interpolation over masked pixels along rows (numba).

Each run of consecutive masked pixels in a row is replaced by the straight line joining the mean
of up to ``n_average`` good pixels on its left and on its right (their mean positions are the
line's anchors), so the fill carries the local level and slope without copying single noisy
pixels. A run touching the image edge takes the level of its one good side; a row with no good
pixel is left unchanged and reported. Interpolating along rows suits the defects of CCDs (bad
columns, bleed trails), which run along columns.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["interpolate_rows"]


@numba.njit(cache=True, nogil=True)
def _interp_rows(image: np.ndarray, mask: np.ndarray, n_average: int) -> int:  # pragma: no cover - numba
    ny, nx = image.shape
    unfilled = 0
    for y in range(ny):
        x = 0
        while x < nx:
            if not mask[y, x]:
                x += 1
                continue
            start = x
            while x < nx and mask[y, x]:
                x += 1
            stop = x  # run is [start, stop)
            # left anchor
            sl = 0.0
            pl = 0.0
            nl = 0
            xx = start - 1
            while xx >= 0 and nl < n_average:
                if not mask[y, xx]:
                    sl += image[y, xx]
                    pl += xx
                    nl += 1
                xx -= 1
            sr = 0.0
            pr = 0.0
            nr = 0
            xx = stop
            while xx < nx and nr < n_average:
                if not mask[y, xx]:
                    sr += image[y, xx]
                    pr += xx
                    nr += 1
                xx += 1
            if nl == 0 and nr == 0:
                unfilled += stop - start
                continue
            if nl == 0:
                for k in range(start, stop):
                    image[y, k] = sr / nr
            elif nr == 0:
                for k in range(start, stop):
                    image[y, k] = sl / nl
            else:
                vl = sl / nl
                vr = sr / nr
                xl = pl / nl
                xr = pr / nr
                slope = (vr - vl) / (xr - xl)
                for k in range(start, stop):
                    image[y, k] = vl + slope * (k - xl)
    return unfilled


def interpolate_rows(image: np.ndarray, mask: np.ndarray, n_average: int = 2) -> int:
    """Replace pixels where ``mask`` is True by linear interpolation along their row, in place.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-d floating-point image (modified; must be C-contiguous or a row-major view).
    mask : `numpy.ndarray`
        Boolean mask of the same shape: the pixels to replace.
    n_average : `int`
        Good pixels averaged on each side of a masked run to define its end points.

    Returns
    -------
    n_unfilled : `int`
        Masked pixels left unchanged because their whole row is masked.

    Raises
    ------
    ValueError
        If shapes differ, the image is not floating point or ``n_average`` < 1.
    """
    if image.shape != mask.shape or image.ndim != 2:
        raise ValueError(
            f"interpolate_rows: image {image.shape} and mask {mask.shape} must be equal 2-d shapes"
        )
    if image.dtype.kind != "f":
        raise ValueError(f"interpolate_rows needs a floating-point image, got {image.dtype}")
    if n_average < 1:
        raise ValueError(f"interpolate_rows: n_average must be >= 1, got {n_average}")
    return int(_interp_rows(image, np.ascontiguousarray(mask, dtype=np.bool_), int(n_average)))
