# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the Angle value type."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skystack.geom import ARCMINUTES, ARCSECONDS, DEGREES, MILLIARCSECONDS, RADIANS, Angle


def test_units_and_accessors() -> None:
    a = Angle.from_degrees(1.5)
    assert a.radians == pytest.approx(math.radians(1.5), rel=1e-15)
    assert a.arcminutes == pytest.approx(90.0, rel=1e-14)
    assert a.arcseconds == pytest.approx(5400.0, rel=1e-14)
    assert a.milliarcseconds == pytest.approx(5.4e6, rel=1e-14)
    assert Angle.from_arcminutes(90.0).degrees == pytest.approx(1.5, rel=1e-14)
    assert Angle.from_arcseconds(3600.0).degrees == pytest.approx(1.0, rel=1e-14)
    assert Angle.from_milliarcseconds(3.6e6).degrees == pytest.approx(1.0, rel=1e-14)
    assert (1.5 * DEGREES + 36.0 * ARCSECONDS).degrees == pytest.approx(1.51, rel=1e-14)
    assert (2 * ARCMINUTES).as_unit(ARCSECONDS) == pytest.approx(120.0)
    assert (1.0 * RADIANS).as_unit(MILLIARCSECONDS) == pytest.approx(206264806.247, rel=1e-12)
    assert (np.float32(2.0) * DEGREES).degrees == pytest.approx(2.0)  # type: ignore[operator]


def test_arithmetic_and_order() -> None:
    a, b = Angle.from_degrees(30.0), Angle.from_degrees(10.0)
    assert (a + b).degrees == pytest.approx(40.0)
    assert (a - b).degrees == pytest.approx(20.0)
    assert (-a).degrees == pytest.approx(-30.0)
    assert (a * 2).degrees == pytest.approx(60.0)
    assert (2 * a).degrees == pytest.approx(60.0)
    assert (a / 3).degrees == pytest.approx(10.0)
    assert a / b == pytest.approx(3.0)
    assert abs(Angle.from_degrees(-5.0)).degrees == pytest.approx(5.0)
    assert b < a and max(a, b) == a
    with pytest.raises(TypeError):
        _ = a + 1.0
    with pytest.raises(TypeError, match="as_unit needs an AngleUnit"):
        a.as_unit(3.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="number of radians"):
        Angle("x")  # type: ignore[arg-type]


@pytest.mark.parametrize("deg", [-725.0, -360.0, -180.0, -1e-14, 0.0, 179.999, 180.0, 359.9, 360.0, 1000.0])
def test_wrapping(deg: float) -> None:
    a = Angle.from_degrees(deg)
    w = a.wrap()
    assert 0.0 <= w.radians < 2 * math.pi
    assert math.isclose(math.cos(w.radians), math.cos(a.radians), abs_tol=1e-12)
    assert math.isclose(math.sin(w.radians), math.sin(a.radians), abs_tol=1e-12)
    c = a.wrap_ctr()
    assert -math.pi <= c.radians < math.pi
    assert math.isclose(math.sin(c.radians), math.sin(a.radians), abs_tol=1e-12)
    ref = Angle.from_degrees(720.0)
    n = a.wrap_near(ref)
    assert ref.radians - math.pi <= n.radians < ref.radians + math.pi + 1e-12
    assert math.isclose(math.cos(n.radians), math.cos(a.radians), abs_tol=1e-12)


def test_separation_and_sphgeom_round_trip() -> None:
    a, b = Angle.from_degrees(359.0), Angle.from_degrees(1.0)
    assert a.separation(b).degrees == pytest.approx(-2.0)
    assert a.is_close(b, Angle.from_degrees(2.0 + 1e-9))
    assert not a.is_close(b, Angle.from_degrees(1.9))
    assert Angle.from_sphgeom(a.to_sphgeom()) == a
    assert Angle.from_dict(a.to_dict()) == a
