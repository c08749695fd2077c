# SPDX-License-Identifier: GPL-3.0-or-later
"""HEALPix (nested scheme) helpers: the pixels covering a region and the pixel of each position.

Levels follow sphgeom: ``nside = 2**level``. Region coverage uses
`lsst.sphgeom.HealpixPixelization.envelope`; the pixel of many positions is computed in one
vectorised call to `healpy.ang2pix` (same nested numbering).
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from lsst import sphgeom

__all__ = ["MAX_HEALPIX_LEVEL", "healpix_index", "healpix_pixelization", "healpix_ranges", "ranges_to_array"]

MAX_HEALPIX_LEVEL = 29
"""Deepest level supported (``nside = 2**29``, pixels of ~0.4 mas)."""


def _check_level(level: int) -> int:
    if isinstance(level, bool) or not isinstance(level, int | np.integer):
        raise TypeError(f"HEALPix level must be an integer, got {level!r}")
    if not 0 <= int(level) <= MAX_HEALPIX_LEVEL:
        raise ValueError(f"HEALPix level must be within [0, {MAX_HEALPIX_LEVEL}], got {level}")
    return int(level)


@functools.lru_cache(maxsize=64)
def healpix_pixelization(level: int) -> sphgeom.HealpixPixelization:
    """The (cached) sphgeom nested HEALPix pixelization of ``level``."""
    return sphgeom.HealpixPixelization(_check_level(level))


def healpix_ranges(region: sphgeom.Region, level: int, max_ranges: int = 0) -> sphgeom.RangeSet:
    """Nested HEALPix pixel indices at ``level`` whose pixels intersect ``region``.

    Parameters
    ----------
    region : `lsst.sphgeom.Region`
        Any sphgeom region.
    level : `int`
        HEALPix level (``nside = 2**level``), 0 to `MAX_HEALPIX_LEVEL`.
    max_ranges : `int`, optional
        If positive, at most this many half-open ranges are returned, by merging ranges (the
        result then includes some pixels that do not touch the region). 0: no limit.

    Returns
    -------
    ranges : `lsst.sphgeom.RangeSet`
        A superset of the pixels intersecting the region (an envelope).
    """
    if max_ranges < 0:
        raise ValueError(f"healpix_ranges: max_ranges must be >= 0, got {max_ranges}")
    ranges = healpix_pixelization(_check_level(level)).envelope(region)
    if max_ranges == 0 or len(ranges) <= max_ranges:
        return ranges
    # Merge across the smallest gaps (sphgeom's HEALPix envelope does not do it itself).
    arr = ranges_to_array(ranges)
    gaps = arr[1:, 0] - arr[:-1, 1]
    breaks = np.sort(np.argsort(gaps, kind="stable")[len(gaps) - (max_ranges - 1) :])
    starts = np.concatenate([[arr[0, 0]], arr[breaks + 1, 0]])
    ends = np.concatenate([arr[breaks, 1], [arr[-1, 1]]])
    return sphgeom.RangeSet([(int(a), int(b)) for a, b in zip(starts, ends, strict=True)])


def ranges_to_array(ranges: sphgeom.RangeSet) -> np.ndarray:
    """A RangeSet as an ``(n, 2)`` int64 array of half-open ``[begin, end)`` ranges."""
    return np.array(list(ranges.ranges()), dtype=np.int64).reshape(-1, 2)


def healpix_index(ra: npt.ArrayLike, dec: npt.ArrayLike, level: int) -> np.ndarray:
    """Nested HEALPix pixel index at ``level`` containing each position (degrees); vectorised.

    Returns
    -------
    index : `numpy.ndarray`
        int64 array with the broadcast shape of ``ra`` and ``dec``.

    Raises
    ------
    ValueError
        If a declination is outside ``[-90, 90]`` or a coordinate is not finite.
    """
    import healpy  # deferred: importing healpy pulls in matplotlib (~1 s)

    nside = 1 << _check_level(level)
    ra_a = np.asarray(ra, dtype=float)
    dec_a = np.asarray(dec, dtype=float)
    if not (np.isfinite(ra_a).all() and np.isfinite(dec_a).all()):
        raise ValueError("healpix_index: coordinates must be finite")
    if (np.abs(dec_a) > 90.0).any():
        raise ValueError("healpix_index: declinations must be within [-90, 90] degrees")
    return np.asarray(healpy.ang2pix(nside, ra_a % 360.0, dec_a, nest=True, lonlat=True), dtype=np.int64)
