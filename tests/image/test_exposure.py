# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of skystack.image.exposure: VisitInfo, Observatory and Exposure."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import EarthLocation
from astropy.io import fits
from astropy.time import Time

from skystack.geom import Box2I
from skystack.geom.wcs import SkyWcs
from skystack.image import Exposure, MaskedImage, Observatory, VisitInfo
from skystack.utils.persist import dump_persistable, dumps_json, load_persistable, loads_json


def _visit_info() -> VisitInfo:
    return VisitInfo(
        exposure_id=2024031500123,
        mjd_tai=Time("2024-03-15T03:04:05.5", scale="utc").tai.mjd,
        exposure_time=30.0,
        dark_time=31.2,
        airmass=1.21,
        boresight_ra_deg=150.1,
        boresight_dec_deg=2.2,
        boresight_rot_angle_deg=45.0,
        instrument="SimCam",
        detector_id=12,
        detector_name="R01_S12",
        physical_filter="r_sim",
        band="r",
        seeing_fwhm_arcsec=0.8,
        observatory=Observatory(-70.7366, -30.2407, 2663.0),
        extra={"OBSTYPE": "science", "SNAP": 0, "DOME_OPEN": True},
    )


def _wcs() -> SkyWcs:
    header = fits.Header(
        {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CRPIX1": 50.5,
            "CRPIX2": 40.5,
            "CRVAL1": 150.1,
            "CRVAL2": 2.2,
            "CD1_1": -5.0e-5,
            "CD1_2": 1.0e-6,
            "CD2_1": 1.2e-6,
            "CD2_2": 5.0e-5,
        }
    )
    return SkyWcs.from_fits_header(header)


def test_visit_info_round_trips_through_persistence() -> None:
    info = _visit_info()
    text = dumps_json(dump_persistable(info))
    back = load_persistable(loads_json(text), expected=VisitInfo)
    assert back == info
    assert back.observatory == info.observatory
    assert back.extra == {"OBSTYPE": "science", "SNAP": 0, "DOME_OPEN": True}


def test_visit_info_time_and_location() -> None:
    info = _visit_info()
    time = info.time
    assert time is not None and time.scale == "tai"
    assert abs((time - Time("2024-03-15T03:04:05.5", scale="utc")).to_value(u.us)) < 2
    assert VisitInfo().time is None
    assert info.observatory is not None
    location = info.observatory.earth_location
    expected = EarthLocation.from_geodetic(-70.7366 * u.deg, -30.2407 * u.deg, 2663.0 * u.m)
    assert abs(location.x - expected.x) < 1 * u.mm


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"airmass": 0.9}, ValueError, "airmass must be >= 1"),
        ({"exposure_time": -1.0}, ValueError, "exposure_time must be >= 0"),
        ({"boresight_dec_deg": 91.0}, ValueError, r"boresight_dec_deg must be in \[-90, 90\]"),
        ({"seeing_fwhm_arcsec": 0.0}, ValueError, "seeing_fwhm_arcsec must be > 0"),
        ({"band": 3}, TypeError, "VisitInfo.band must be str"),
        ({"exposure_id": 1.5}, TypeError, "VisitInfo.exposure_id must be int"),
        ({"exposure_id": True}, TypeError, "exposure_id"),
        ({"extra": {"a": [1]}}, TypeError, r"extra\['a'\]"),
    ],
)
def test_visit_info_validation(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        VisitInfo(**kwargs)


def test_visit_info_from_dict_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match=r"Unknown VisitInfo fields \['colour'\]"):
        VisitInfo.from_dict({"colour": "red"})
    with pytest.raises(ValueError, match="latitude_deg"):
        Observatory(0.0, 95.0, 0.0)


def test_visit_info_is_frozen() -> None:
    info = VisitInfo(band="g")
    with pytest.raises(AttributeError):
        info.band = "r"  # type: ignore[misc]


def test_exposure_components_and_subset_view() -> None:
    wcs = _wcs()
    info = _visit_info()
    exposure = Exposure.from_arrays(
        np.arange(80 * 100, dtype=np.float32).reshape(80, 100),
        xy0=(10, 20),
        wcs=wcs,
        visit_info=info,
        metadata={"OBJECT": "field 1", "EXPTIME": 30.0},
    )
    assert exposure.band == "r" and exposure.physical_filter == "r_sim"
    assert isinstance(exposure.metadata, fits.Header) and exposure.metadata["OBJECT"] == "field 1"
    box = Box2I(30, 40, 16, 8)
    sub = exposure[box]
    assert sub.bbox == box and np.shares_memory(sub.image.array, exposure.image.array)
    assert sub.wcs is wcs and sub.visit_info is info
    # Same WCS in parent coordinates: a parent pixel maps to the same sky place from both.
    assert sub.image.array[0, 0] == exposure.image.array[40 - 20, 30 - 10]
    sub.metadata["OBJECT"] = "changed"
    assert exposure.metadata["OBJECT"] == "field 1"
    copy = exposure.copy()
    assert not np.shares_memory(copy.image.array, exposure.image.array) and copy.wcs is wcs


def test_exposure_defaults_and_errors() -> None:
    exposure = Exposure.from_bbox(Box2I(0, 0, 4, 3), dtype=np.float64)
    assert exposure.dtype == np.float64 and exposure.wcs is None and exposure.band is None
    assert len(exposure.metadata) == 0
    with pytest.raises(TypeError, match="Exposure needs a MaskedImage"):
        Exposure(np.zeros((2, 2)))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wrap an astropy WCS with SkyWcs"):
        Exposure(MaskedImage.from_bbox(Box2I(0, 0, 2, 2)), wcs=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="visit_info must be a VisitInfo"):
        Exposure(MaskedImage.from_bbox(Box2I(0, 0, 2, 2)), visit_info={"band": "r"})  # type: ignore[arg-type]
    assert "components=[]" in repr(exposure)
