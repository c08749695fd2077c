# SPDX-License-Identifier: GPL-3.0-or-later
"""Pixel-flag aggregation: which mask planes are set in each source's footprint and at its centre.

For every source the mask words of all footprint pixels are OR-ed together (one numba pass over
the spans, no pixel expansion), and separately those of the 3×3 pixels around the centre. The
result is one boolean per flag, named as Rubin's ``PixelFlags`` plugin does (in snake case):

============================  ===================================================================
key                           set when
============================  ===================================================================
``offimage``                  the centre is not on the image
``edge``                      ``EDGE`` or ``NO_DATA`` in the footprint, or the footprint leaves the image
``bad``                       ``BAD`` in the footprint
``saturated``                 ``SAT`` in the footprint
``cr``                        ``CR`` in the footprint
``interpolated``              ``INTRP`` in the footprint
``suspect``                   ``SUSPECT`` in the footprint
``<plane>_center``            the same for the 3×3 centre (saturated, cr, interpolated, suspect, bad)
============================  ===================================================================

Plane names and bits come from the mask's plane dictionary (`skystack.image.Mask.plane_dict`,
`skystack.image.default_plane_dict` by default); a plane missing from the dictionary is never set.
Without footprints the footprint-wide flags use the 3×3 centre too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numba
import numpy as np
import numpy.typing as npt

from skystack.image.footprint import Footprint
from skystack.image.mask import default_plane_dict

from ._inputs import as_positions, check_xy0, signed_bits
from .footprint_spans import FootprintSpans

__all__ = [
    "CENTER_FLAGS",
    "FOOTPRINT_FLAGS",
    "center_mask_or",
    "footprint_mask_or",
    "pixel_flags",
]

#: Footprint-wide flags and the mask planes that set them.
FOOTPRINT_FLAGS: dict[str, tuple[str, ...]] = {
    "edge": ("EDGE", "NO_DATA"),
    "bad": ("BAD",),
    "saturated": ("SAT",),
    "cr": ("CR",),
    "interpolated": ("INTRP",),
    "suspect": ("SUSPECT",),
}
#: Flags that also get a ``_center`` variant (3×3 pixels around the centre).
CENTER_FLAGS: tuple[str, ...] = ("bad", "saturated", "cr", "interpolated", "suspect")


@numba.njit(cache=True, nogil=True)
def _spans_or(
    mask: np.ndarray,
    y: np.ndarray,
    x0: np.ndarray,
    x1: np.ndarray,
    owner: np.ndarray,
    ox: int,
    oy: int,
    words: np.ndarray,
    outside: np.ndarray,
) -> None:  # pragma: no cover - numba
    ny, nx = mask.shape
    for k in range(y.size):
        j = y[k] - oy
        s = owner[k]
        a = x0[k] - ox
        b = x1[k] - ox
        if j < 0 or j >= ny or a < 0 or b >= nx:
            outside[s] = True
        if j < 0 or j >= ny:
            continue
        acc = np.int64(0)
        for i in range(max(a, 0), min(b, nx - 1) + 1):
            acc |= np.int64(mask[j, i])
        words[s] |= acc


@numba.njit(cache=True, nogil=True)
def _center_or(
    mask: np.ndarray, xs: np.ndarray, ys: np.ndarray, half: int, words: np.ndarray, off: np.ndarray
) -> None:  # pragma: no cover - numba
    ny, nx = mask.shape
    for s in range(xs.size):
        if not (np.isfinite(xs[s]) and np.isfinite(ys[s])):
            off[s] = True
            continue
        ix = math.floor(xs[s] + 0.5)
        iy = math.floor(ys[s] + 0.5)
        if ix < 0 or iy < 0 or ix >= nx or iy >= ny:
            off[s] = True
        acc = np.int64(0)
        for j in range(max(iy - half, 0), min(iy + half, ny - 1) + 1):
            for i in range(max(ix - half, 0), min(ix + half, nx - 1) + 1):
                acc |= np.int64(mask[j, i])
        words[s] = acc


def _as_mask(mask: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(mask)
    if arr.ndim != 2 or arr.dtype.kind not in "iu":
        raise TypeError(f"mask must be a 2-d integer array of mask-plane bits, got {arr.dtype} {arr.shape}")
    if arr.dtype == np.uint64:
        arr = arr.view(np.int64)
    return arr


def footprint_mask_or(
    mask: npt.ArrayLike, spans: FootprintSpans, *, xy0: tuple[int, int] = (0, 0)
) -> tuple[np.ndarray, np.ndarray]:
    """OR of the mask words over each footprint's pixels.

    Parameters
    ----------
    mask : array_like
        2-d integer mask plane; ``mask[j, i]`` is pixel ``(i + x0, j + y0)``.
    spans : `FootprintSpans`
        The footprints, one per source.
    xy0 : `tuple` [`int`, `int`]
        Parent coordinates of ``mask[0, 0]``.

    Returns
    -------
    words : `numpy.ndarray`
        int64 OR of the mask words per source (bits of pixels off the image are not included).
    leaves_image : `numpy.ndarray`
        bool per source: some footprint pixel is off the image.
    """
    arr = _as_mask(mask)
    ox, oy = check_xy0(xy0)
    words = np.zeros(spans.n_sources, dtype=np.int64)
    outside = np.zeros(spans.n_sources, dtype=bool)
    if spans.y.size:
        _spans_or(arr, spans.y, spans.x0, spans.x1, spans.owner, ox, oy, words, outside)
    return words, outside


def center_mask_or(
    mask: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    half_size: int = 1,
    xy0: tuple[int, int] = (0, 0),
) -> tuple[np.ndarray, np.ndarray]:
    """OR of the mask words of the ``(2 half_size + 1)²`` pixels around each position.

    Returns
    -------
    words : `numpy.ndarray`
        int64 per source.
    off_image : `numpy.ndarray`
        bool per source: the position's pixel is not on the image (or the position is not finite).
    """
    if half_size < 0:
        raise ValueError(f"half_size must be >= 0, got {half_size}")
    arr = _as_mask(mask)
    ox, oy = check_xy0(xy0)
    xs, ys = as_positions(x, y)
    words = np.zeros(xs.size, dtype=np.int64)
    off = np.zeros(xs.size, dtype=bool)
    if xs.size:
        _center_or(arr, xs - ox, ys - oy, int(half_size), words, off)
    return words, off


def _bits(plane_dict: Mapping[str, int], names: tuple[str, ...]) -> np.int64:
    value = 0
    for name in names:
        if name in plane_dict:
            value |= 1 << int(plane_dict[name])
    return signed_bits(value)


def pixel_flags(
    mask: npt.ArrayLike,
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    footprints: Sequence[Footprint] | FootprintSpans | None = None,
    *,
    plane_dict: Mapping[str, int] | None = None,
    xy0: tuple[int, int] = (0, 0),
) -> dict[str, np.ndarray]:
    """Boolean pixel flags per source from the mask planes (see the module docstring for the keys).

    Parameters
    ----------
    mask : array_like
        2-d integer mask plane.
    x, y : array_like
        Source centres in parent pixels.
    footprints : sequence of `Footprint`, `FootprintSpans` or None
        One footprint per source; without them the footprint-wide flags use the 3×3 centre.
    plane_dict : mapping, optional
        Mask plane name → bit (``Mask.plane_dict``); default `default_plane_dict`.
    xy0 : `tuple` [`int`, `int`]
        Parent coordinates of ``mask[0, 0]``.

    Returns
    -------
    flags : `dict` [`str`, `numpy.ndarray`]
        bool arrays keyed ``offimage``, the `FOOTPRINT_FLAGS` keys and ``<key>_center`` for the
        `CENTER_FLAGS`.

    Raises
    ------
    ValueError
        If the number of footprints differs from the number of positions.
    """
    planes = default_plane_dict() if plane_dict is None else plane_dict
    xs, ys = as_positions(x, y)
    centre, off = center_mask_or(mask, xs, ys, xy0=xy0)
    if footprints is None:
        whole, leaves = centre, off
    else:
        spans = (
            footprints
            if isinstance(footprints, FootprintSpans)
            else FootprintSpans.from_footprints(footprints)
        )
        if spans.n_sources != xs.size:
            raise ValueError(
                f"got {spans.n_sources} footprints for {xs.size} positions; give one footprint per source"
            )
        whole, leaves = footprint_mask_or(mask, spans, xy0=xy0)
    result: dict[str, np.ndarray] = {"offimage": off}
    for key, names in FOOTPRINT_FLAGS.items():
        bits = _bits(planes, names)
        result[key] = (whole & bits) != 0
        if key == "edge":
            result[key] |= leaves | off
    for key in CENTER_FLAGS:
        result[f"{key}_center"] = (centre & _bits(planes, FOOTPRINT_FLAGS[key])) != 0
    return result
