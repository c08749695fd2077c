# SPDX-License-Identifier: GPL-3.0-or-later
"""Validation of the plain-array inputs shared by the measurement algorithms.

Every algorithm of `skystack.algorithms.measure` takes an image, optional variance and mask
planes of the same shape, the parent position ``xy0`` of ``image[0, 0]`` and source positions.
These helpers check them once, with messages that name the argument and say how to fix it, and
turn ``None`` planes into 1×1 dummies so the numba kernels see one signature.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["as_image", "as_mask", "as_positions", "as_variance", "check_xy0", "per_source", "signed_bits"]


def as_image(image: Any, what: str = "image") -> np.ndarray:
    """A 2-d float32/float64 array in native byte order (no copy when it already is one).

    Raises
    ------
    TypeError
        If ``image`` is not a 2-d real array.
    """
    arr = np.asarray(image)
    if arr.ndim != 2:
        raise TypeError(f"{what} must be a 2-d array (rows = y, columns = x), got shape {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{what} must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr


def as_variance(variance: Any, shape: tuple[int, ...]) -> tuple[np.ndarray, bool]:
    """The variance plane (or a 1×1 dummy) and whether one was given.

    Raises
    ------
    TypeError, ValueError
        If the variance is not a 2-d real array of the image's shape.
    """
    if variance is None:
        return np.zeros((1, 1), dtype=np.float64), False
    arr = as_image(variance, "variance")
    if arr.shape != shape:
        raise ValueError(
            f"variance shape {arr.shape} differs from the image shape {shape}; pass matching planes"
        )
    return arr, True


def as_mask(mask: Any, shape: tuple[int, ...], bad_mask_bits: int) -> tuple[np.ndarray, bool, np.int64]:
    """The mask plane as int64-compatible integers (or a 1×1 dummy), whether to use it, and the bits.

    The mask is used only if given and ``bad_mask_bits`` is non-zero.

    Raises
    ------
    TypeError, ValueError
        If the mask is not a 2-d integer array of the image's shape or the bits are negative.
    """
    bits = int(bad_mask_bits)
    if bits < 0:
        raise ValueError(f"bad_mask_bits must be a non-negative bit mask, got {bad_mask_bits}")
    if mask is None:
        return np.zeros((1, 1), dtype=np.int32), False, np.int64(0)
    arr = np.asarray(mask)
    if arr.ndim != 2 or arr.dtype.kind not in "iu":
        raise TypeError(f"mask must be a 2-d integer array of mask-plane bits, got {arr.dtype} {arr.shape}")
    if arr.shape != shape:
        raise ValueError(f"mask shape {arr.shape} differs from the image shape {shape}; pass matching planes")
    if arr.dtype == np.uint64:
        arr = arr.view(np.int64)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if bits >= 2**64:
        raise ValueError(f"bad_mask_bits {bad_mask_bits:#x} does not fit a 64-bit mask word")
    return arr, bits != 0, signed_bits(bits)


def signed_bits(bits: int) -> np.int64:
    """A 64-bit mask as the int64 with the same bits (bit 63 becomes the sign), as numba kernels take it."""
    return np.int64(bits - (1 << 64) if bits >= 1 << 63 else bits)


def check_xy0(xy0: Any) -> tuple[int, int]:
    """``(x0, y0)`` as two Python integers.

    Raises
    ------
    ValueError
        If ``xy0`` is not a pair of integers.
    """
    try:
        x0, y0 = xy0
    except (TypeError, ValueError):
        raise ValueError(f"xy0 must be a pair (x0, y0) of integers, got {xy0!r}") from None
    if int(x0) != x0 or int(y0) != y0:
        raise ValueError(f"xy0 must be integers (parent pixel of image[0, 0]), got {xy0!r}")
    return int(x0), int(y0)


def as_positions(x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Source positions as two 1-d float64 arrays of one length (scalars become length 1).

    Raises
    ------
    ValueError
        If ``x`` and ``y`` differ in length.
    """
    xa = np.atleast_1d(np.asarray(x, dtype=np.float64)).ravel()
    ya = np.atleast_1d(np.asarray(y, dtype=np.float64)).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    return xa, ya


def per_source(value: npt.ArrayLike, n: int, what: str) -> np.ndarray:
    """A scalar or length-``n`` value broadcast to a length-``n`` float64 array.

    Raises
    ------
    ValueError
        If ``value`` is an array of another length.
    """
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    arr = arr.ravel()
    if arr.size != n:
        raise ValueError(f"{what} must be a scalar or have one value per source ({n}), got {arr.size}")
    return arr
