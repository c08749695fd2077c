# SPDX-License-Identifier: GPL-3.0-or-later
"""The gnomonic projection agrees with a TAN SkyWcs and inverts exactly."""

from __future__ import annotations

import numpy as np

from skystack.algorithms.astrometry import gnomonic_inverse, gnomonic_project
from skystack.geom import Point2D, SpherePoint
from skystack.geom.wcs import SkyWcs


def test_projection_is_the_tan_wcs_with_an_identity_cd() -> None:
    """With CD = 1 deg/pixel and CRPIX 0, TAN pixel coordinates are the standard coordinates."""
    for ra0, dec0 in [(0.0, 0.0), (359.9, -45.0), (150.0, 89.5), (12.0, -89.0)]:
        wcs = SkyWcs.from_tan(SpherePoint.from_degrees(ra0, dec0), Point2D(0.0, 0.0), np.eye(2))
        rng = np.random.default_rng(1)
        xi, eta = rng.uniform(-2.0, 2.0, (2, 1000))
        ra, dec = wcs.pixel_to_sky(xi, eta)
        pxi, peta = gnomonic_project(ra, dec, ra0, dec0)
        np.testing.assert_allclose(pxi, xi, rtol=0, atol=1e-10)
        np.testing.assert_allclose(peta, eta, rtol=0, atol=1e-10)
        ira, idec = gnomonic_inverse(xi, eta, ra0, dec0)
        np.testing.assert_allclose(idec, dec, rtol=0, atol=1e-10)
        np.testing.assert_allclose((ira - ra + 180.0) % 360.0 - 180.0, 0.0, atol=1e-10)


def test_directions_and_far_side() -> None:
    xi, eta = gnomonic_project([10.1, 10.0, 190.0], [0.0, 0.1, 0.0], 10.0, 0.0)
    assert xi[0] > 0 and abs(eta[0]) < 1e-12  # east is +xi
    assert eta[1] > 0 and abs(xi[1]) < 1e-12  # north is +eta
    assert np.isnan(xi[2]) and np.isnan(eta[2])  # the antipode has no projection
