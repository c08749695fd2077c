# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the HEALPix helpers: pixel of points vs. sphgeom, coverage of regions."""

from __future__ import annotations

import healpy
import numpy as np
import pytest
from lsst import sphgeom

from skystack.geom import (
    Angle,
    circle_from_radec,
    convex_polygon_from_radec,
    healpix_index,
    healpix_pixelization,
    healpix_ranges,
    ranges_to_array,
)


def test_index_matches_sphgeom_nested() -> None:
    rng = np.random.default_rng(3)
    ra = rng.uniform(-30, 400, 300)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, 300)))
    for level in (0, 5, 12):
        idx = healpix_index(ra, dec, level)
        pix = healpix_pixelization(level)
        lon_lats = [sphgeom.LonLat.fromDegrees(r, d) for r, d in zip(ra, dec, strict=True)]
        expected = [pix.index(sphgeom.UnitVector3d(ll)) for ll in lon_lats]
        np.testing.assert_array_equal(idx, expected)
    assert healpix_index(10.0, 20.0, 3).shape == ()


def test_envelope_contains_every_interior_point() -> None:
    level = 9
    circle = circle_from_radec(45.0, 30.0, Angle.from_degrees(0.7))
    ranges = healpix_ranges(circle, level)
    rng = np.random.default_rng(4)
    # random points inside the circle
    r = 0.7 * np.sqrt(rng.uniform(0, 1, 5000))
    t = rng.uniform(0, 2 * np.pi, 5000)
    dec = 30.0 + r * np.sin(t)
    ra = 45.0 + r * np.cos(t) / np.cos(np.radians(dec))
    keep = np.asarray(circle.contains(np.radians(ra), np.radians(dec)))
    idx = healpix_index(ra[keep], dec[keep], level)
    assert all(ranges.contains(int(i)) for i in np.unique(idx))
    # the envelope is tight: its area is at most a few times the circle's
    arr = ranges_to_array(ranges)
    npix = int((arr[:, 1] - arr[:, 0]).sum())
    pixel_area = healpy.nside2pixarea(2**level, degrees=True)
    assert npix * pixel_area < 3.0 * np.pi * 0.7**2


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"within \[0, 29\]"):
        healpix_index(0.0, 0.0, 30)
    with pytest.raises(ValueError, match=r"declinations must be within \[-90, 90\]"):
        healpix_index([0.0], [91.0], 4)
    with pytest.raises(TypeError, match="must be an integer"):
        healpix_ranges(circle_from_radec(0, 0, Angle.from_degrees(1)), 2.5)  # type: ignore[arg-type]


def test_max_ranges_is_a_superset() -> None:
    poly = convex_polygon_from_radec([0, 5, 5, 0], [0, 0, 5, 5])
    full = healpix_ranges(poly, 10)
    assert len(full) > 4
    limited = healpix_ranges(poly, 10, max_ranges=4)
    assert len(limited) == 4
    assert limited.contains(full)
    assert healpix_ranges(poly, 10, max_ranges=1).contains(full)
