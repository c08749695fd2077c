# SPDX-License-Identifier: GPL-3.0-or-later
"""Pixel masks made during ISR: saturation (with bleed-trail growth along columns), defects, NaNs.

All functions return boolean arrays of the detector image's shape; the caller sets them in the
mask planes (``SAT``, ``BAD``, ``SUSPECT``, ``UNMASKEDNAN``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from skystack.geom import Box2I

from .geometry import DetectorLike

__all__ = ["defect_mask", "grow_mask", "level_mask", "nan_mask"]


def level_mask(raw_image: np.ndarray, detector: DetectorLike, fraction: float = 1.0) -> np.ndarray:
    """Pixels at or above ``fraction × saturation`` of their amplifier (raw ADU, bias included).

    Parameters
    ----------
    raw_image : `numpy.ndarray`
        Assembled raw image (ADU, before any subtraction).
    detector : `DetectorLike`
        Gives each amplifier's box and ``saturation`` level.
    fraction : `float`
        1 for saturation; below 1 for a "suspect" level (the non-linear top of the range).

    Returns
    -------
    mask : `numpy.ndarray`
        Boolean mask.
    """
    mask = np.zeros(raw_image.shape, dtype=bool)
    for amp in detector.amplifiers:
        sl = amp.bbox.slices()
        np.greater_equal(raw_image[sl], fraction * amp.saturation, out=mask[sl])
    return mask


def grow_mask(mask: np.ndarray, along_columns: int = 0, radius: int = 0) -> np.ndarray:
    """Grow ``mask`` by ``along_columns`` pixels up and down each column, then by a square ``radius``.

    Bleed trails run along columns and fade out gradually, so their ends are grown further than
    their sides. Returns a new array (the input is unchanged); a no-op when both are 0.

    Raises
    ------
    ValueError
        If a growth is negative.
    """
    if along_columns < 0 or radius < 0:
        raise ValueError(f"mask growth must be >= 0, got along_columns={along_columns}, radius={radius}")
    out = mask
    if along_columns and out.any():
        out = ndimage.binary_dilation(out, structure=np.ones((2 * along_columns + 1, 1), dtype=bool))
    if radius and out.any():
        out = ndimage.binary_dilation(out, structure=np.ones((2 * radius + 1, 2 * radius + 1), dtype=bool))
    return out if out is not mask else mask.copy()


def defect_mask(shape: tuple[int, int], defects: Sequence[Box2I]) -> np.ndarray:
    """True inside the defect boxes (detector pixel coordinates; parts off the image are ignored)."""
    mask = np.zeros(shape, dtype=bool)
    full = Box2I(0, 0, shape[1], shape[0])
    for box in defects:
        if not isinstance(box, Box2I):
            raise TypeError(f"defects must be Box2I boxes, got {type(box).__name__} {box!r}")
        inter = box.intersection(full)
        if not inter.is_empty:
            mask[inter.slices()] = True
    return mask


def nan_mask(image: np.ndarray) -> np.ndarray:
    """True where ``image`` is not finite (NaN or infinity)."""
    return ~np.isfinite(image)
