# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of PhotoCalib: known conversions, error propagation vs Monte Carlo, spatial variation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skystack.geom.box import Box2I
from skystack.image.bounded_field import ChebyshevBoundedField, ConstantBoundedField
from skystack.image.photocalib import AB_ZERO_POINT_NJY_MAG, PhotoCalib
from skystack.utils.persist import dump_persistable, dumps_json, load_persistable, loads_json

BBOX = Box2I(0, 0, 2000, 4000)


def test_ab_constant() -> None:
    assert pytest.approx(31.4, abs=1e-4) == AB_ZERO_POINT_NJY_MAG
    assert -2.5 * math.log10(3631e9) + AB_ZERO_POINT_NJY_MAG == pytest.approx(0.0, abs=1e-12)


def test_zero_point_conversions() -> None:
    calib = PhotoCalib.from_zero_point(27.0)
    one_count = 10 ** (-0.4 * (27.0 - AB_ZERO_POINT_NJY_MAG))
    assert calib.calibration_mean == pytest.approx(one_count, rel=1e-14)
    assert calib.instflux_to_njy(1.0) == pytest.approx(one_count, rel=1e-14)
    assert calib.instflux_zero_point() == pytest.approx(27.0, abs=1e-12)
    assert calib.instflux_to_magnitude(1.0) == pytest.approx(27.0, abs=1e-12)
    assert calib.instflux_to_magnitude(100.0) == pytest.approx(22.0, abs=1e-12)
    assert calib.magnitude_to_instflux(22.0) == pytest.approx(100.0, rel=1e-12)
    assert calib.njy_to_instflux(calib.instflux_to_njy(123.0)) == pytest.approx(123.0, rel=1e-14)
    # 3631 Jy is magnitude 0.
    assert PhotoCalib(1.0).instflux_to_magnitude(3631e9) == pytest.approx(0.0, abs=1e-12)
    mags = calib.instflux_to_magnitude(np.array([1.0, 10.0, 0.0, -5.0]))
    np.testing.assert_allclose(mags[:2], [27.0, 24.5])
    assert np.all(np.isnan(mags[2:]))
    zp = PhotoCalib.from_zero_point(25.0, 0.01)
    assert zp.instflux_zero_point_err() == pytest.approx(0.01, rel=1e-12)


def test_error_propagation_formula_and_monte_carlo() -> None:
    calib = PhotoCalib(2.0, 0.04)
    flux, err = calib.instflux_to_njy_with_error(np.array([1000.0, 0.0]), np.array([30.0, 10.0]))
    expected = abs(2000.0) * math.hypot(30.0 / 1000.0, 0.04 / 2.0)
    assert err[0] == pytest.approx(expected, rel=1e-12)
    assert flux[1] == 0.0 and err[1] == pytest.approx(2.0 * 10.0)  # finite at zero flux
    rng = np.random.default_rng(7)
    n = 400_000
    inst = 1000.0 + 30.0 * rng.standard_normal(n)
    cal = 2.0 + 0.04 * rng.standard_normal(n)
    samples = inst * cal
    # MC std of a product includes a tiny second-order term (sigma_i sigma_c)^2; compare to 1 %.
    assert np.std(samples) == pytest.approx(expected, rel=0.01)
    mag, mag_err = calib.instflux_to_magnitude_with_error(1000.0, 30.0)
    assert mag == pytest.approx(-2.5 * math.log10(2000.0) + AB_ZERO_POINT_NJY_MAG)
    assert mag_err == pytest.approx(2.5 / math.log(10) * expected / 2000.0, rel=1e-12)
    mc_mag = -2.5 * np.log10(samples) + AB_ZERO_POINT_NJY_MAG
    assert np.std(mc_mag) == pytest.approx(mag_err, rel=0.01)


def test_spatial_variation() -> None:
    shape = ChebyshevBoundedField(np.array([[1.0, 0.1], [0.05, 0.0]]), BBOX)
    calib = PhotoCalib(3.0, 0.03, field=shape)
    assert not calib.is_constant and calib.bbox == BBOX
    x, y = np.array([0.0, 999.5, 1999.0]), np.array([0.0, 1999.5, 3999.0])
    expected_cal = 3.0 * np.asarray(shape.evaluate(x, y)) / shape.mean()
    np.testing.assert_allclose(calib.calibration(x, y), expected_cal, rtol=1e-14)
    np.testing.assert_allclose(calib.instflux_to_njy(10.0, x, y), 10.0 * expected_cal, rtol=1e-14)
    # The mean of the calibration over the box pixels is calibration_mean.
    assert calib.calibration_image(BBOX).mean() == pytest.approx(3.0, rel=1e-12)
    # Relative calibration error is the same everywhere.
    _, err = calib.instflux_to_njy_with_error(np.full(3, 100.0), np.zeros(3), x, y)
    np.testing.assert_allclose(err / (100.0 * expected_cal), 0.01, rtol=1e-12)
    with pytest.raises(ValueError, match="pass the pixel position"):
        calib.instflux_to_njy(1.0)
    absolute = PhotoCalib.from_field(shape.scaled(2.0))
    assert absolute.calibration(12.0, 34.0) == pytest.approx(2.0 * shape.evaluate(12.0, 34.0), rel=1e-14)


def test_calibrate_image() -> None:
    rng = np.random.default_rng(8)
    box = Box2I(100, 200, 40, 30)
    array = rng.normal(50.0, 5.0, box.shape).astype(np.float32)
    variance = np.full(box.shape, 25.0, dtype=np.float32)
    calib = PhotoCalib(2.0, 0.2)
    image, var = calib.calibrate_image(array, box, variance)
    assert image.dtype == np.float32 and var is not None and var.dtype == np.float32
    np.testing.assert_allclose(image, array * 2.0, rtol=1e-7)
    np.testing.assert_allclose(var, 100.0, rtol=1e-7)
    _, var_with = calib.calibrate_image(array, box, variance, include_calibration_err=True)
    assert var_with is not None
    np.testing.assert_allclose(var_with, 100.0 + (array * 2.0 * 0.1) ** 2, rtol=1e-5)
    field = ChebyshevBoundedField(np.array([[1.0, 0.2], [0.1, 0.0]]), Box2I(0, 0, 500, 500))
    varying = PhotoCalib.from_field(field)
    image, none_var = varying.calibrate_image(array, box)
    assert none_var is None
    yy, xx = np.mgrid[box.min_y : box.end_y, box.min_x : box.end_x]
    np.testing.assert_allclose(image, array * field.evaluate(xx, yy), rtol=1e-6)
    with pytest.raises(ValueError, match="does not match bbox shape"):
        calib.calibrate_image(array, Box2I(0, 0, 3, 3))
    assert calib.calibrate_image(np.ones(box.shape, dtype=np.int32), box)[0].dtype == np.float64


def test_validation_and_round_trip() -> None:
    with pytest.raises(ValueError, match="finite positive"):
        PhotoCalib(0.0)
    with pytest.raises(ValueError, match="non-negative"):
        PhotoCalib(1.0, -1.0)
    with pytest.raises(ValueError, match="non-zero"):
        PhotoCalib(1.0, field=ConstantBoundedField(0.0, BBOX))
    for calib in (
        PhotoCalib(1.5, 0.01),
        PhotoCalib(2.0, 0.0, ChebyshevBoundedField(np.array([[1.0, 0.1]]), BBOX)),
    ):
        restored = load_persistable(loads_json(dumps_json(dump_persistable(calib))), expected=PhotoCalib)
        assert restored == calib
    assert PhotoCalib(1.5) != PhotoCalib(1.5, 0.1)
