# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of SpherePoint, vectorised sky helpers and region constructors against astropy."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from lsst import sphgeom

from skystack.geom import (
    Angle,
    SpherePoint,
    angular_separation,
    circle_from_radec,
    convex_polygon_from_radec,
    decode_region,
    encode_region,
    radec_to_unit_vectors,
    region_contains,
    unit_vectors_to_radec,
)

MAS = 1.0 / 3.6e6  # degrees


@pytest.fixture(scope="module")
def random_pairs() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(42)
    n = 2000
    ra1, ra2 = rng.uniform(0, 360, n), rng.uniform(0, 360, n)
    dec1 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    dec2 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    # include near-coincident and near-antipodal pairs
    ra2[:100], dec2[:100] = ra1[:100] + 1e-7, dec1[:100]
    ra2[100:200], dec2[100:200] = ra1[100:200] + 180.0, -dec1[100:200] + 1e-6
    return ra1, dec1, ra2, dec2


def test_construction_and_validation() -> None:
    p = SpherePoint.from_degrees(-10.0, 45.0)
    assert p.ra.degrees == pytest.approx(350.0)
    assert SpherePoint.from_radians(np.pi, 0.5).dec.radians == 0.5
    with pytest.raises(ValueError, match=r"declination must be within \[-90, 90\]"):
        SpherePoint.from_degrees(0.0, 90.5)
    with pytest.raises(ValueError, match="must be finite"):
        SpherePoint.from_degrees(np.nan, 0.0)
    with pytest.raises(TypeError, match="from_degrees"):
        SpherePoint(1.0, 2.0)  # type: ignore[arg-type]


def test_sphgeom_round_trip() -> None:
    p = SpherePoint.from_degrees(123.456, -67.89)
    q = SpherePoint.from_unit_vector(p.to_unit_vector())
    r = SpherePoint.from_lon_lat(p.to_lon_lat())
    assert p.separation(q).milliarcseconds < 1e-6
    assert p.separation(r).milliarcseconds < 1e-6
    assert SpherePoint.from_dict(p.to_dict()) == p


def test_separation_and_bearing_vs_astropy(random_pairs: tuple[np.ndarray, ...]) -> None:
    ra1, dec1, ra2, dec2 = random_pairs
    c1 = SkyCoord(ra1 * u.deg, dec1 * u.deg)
    c2 = SkyCoord(ra2 * u.deg, dec2 * u.deg)
    expected_sep = c1.separation(c2).deg
    np.testing.assert_allclose(angular_separation(ra1, dec1, ra2, dec2), expected_sep, atol=1e-3 * MAS)
    expected_pa = c1.position_angle(c2).deg
    for i in range(300, 340):
        p, q = SpherePoint.from_degrees(ra1[i], dec1[i]), SpherePoint.from_degrees(ra2[i], dec2[i])
        assert p.separation(q).degrees == pytest.approx(expected_sep[i], abs=1e-3 * MAS)
        assert p.position_angle_to(q).degrees == pytest.approx(expected_pa[i], abs=1e-9)
        # Rubin bearing: from east towards north
        assert (p.bearing_to(q) - Angle.from_degrees(90.0 - expected_pa[i])).wrap_ctr().degrees == (
            pytest.approx(0.0, abs=1e-9)
        )


def test_offset_inverts_bearing_and_matches_astropy(random_pairs: tuple[np.ndarray, ...]) -> None:
    ra1, dec1, ra2, dec2 = random_pairs
    for i in range(400, 440):
        p, q = SpherePoint.from_degrees(ra1[i], dec1[i]), SpherePoint.from_degrees(ra2[i], dec2[i])
        back = p.offset(p.bearing_to(q), p.separation(q))
        assert back.separation(q).milliarcseconds < 1e-3
    p = SpherePoint.from_degrees(30.0, 40.0)
    # moving north (bearing 90 deg) by 1 deg raises dec by exactly 1 deg
    north = p.offset(Angle.from_degrees(90.0), Angle.from_degrees(1.0))
    assert north.dec.degrees == pytest.approx(41.0, abs=1e-12)
    assert north.ra.degrees == pytest.approx(30.0, abs=1e-12)
    east = p.offset(Angle.from_degrees(0.0), Angle.from_degrees(2.0))
    expected = SkyCoord(30 * u.deg, 40 * u.deg).directional_offset_by(90 * u.deg, 2 * u.deg)
    assert east.ra.degrees == pytest.approx(expected.ra.deg, abs=1e-10)
    assert east.dec.degrees == pytest.approx(expected.dec.deg, abs=1e-10)


def test_unit_vectors_round_trip(random_pairs: tuple[np.ndarray, ...]) -> None:
    ra1, dec1, _, _ = random_pairs
    v = radec_to_unit_vectors(ra1, dec1)
    assert v.shape == (ra1.size, 3)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, rtol=1e-15)
    ra, dec = unit_vectors_to_radec(v)
    np.testing.assert_allclose(angular_separation(ra, dec, ra1, dec1), 0.0, atol=1e-6 * MAS)
    assert ((ra >= 0) & (ra < 360)).all()
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 3\)"):
        unit_vectors_to_radec(np.zeros((4, 2)))


def test_polygon_and_circle_regions() -> None:
    # vertices in clockwise order are accepted (hull)
    poly = convex_polygon_from_radec([10.0, 10.0, 12.0, 12.0], [0.0, 2.0, 2.0, 0.0])
    assert isinstance(poly, sphgeom.ConvexPolygon)
    inside = region_contains(poly, [11.0, 13.0, 10.5], [1.0, 1.0, -0.1])
    assert inside.tolist() == [True, False, False]
    circle = circle_from_radec(100.0, -30.0, Angle.from_degrees(1.0))
    ras = np.array([100.0, 100.0, 100.0])
    decs = np.array([-30.0, -30.0 + 0.999, -30.0 + 1.001])
    assert region_contains(circle, ras, decs).tolist() == [True, True, False]
    assert decode_region(encode_region(poly)) == poly
    assert decode_region(encode_region(circle)) == circle
    with pytest.raises(ValueError, match="do not form a convex polygon"):
        convex_polygon_from_radec([0.0, 1.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="equal length"):
        convex_polygon_from_radec([0.0, 1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="non-negative"):
        circle_from_radec(0.0, 0.0, Angle.from_degrees(-1.0))
    with pytest.raises(ValueError, match="not an encoded sphgeom region"):
        decode_region("not base64!")
