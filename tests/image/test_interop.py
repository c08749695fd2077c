# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of skystack.image.interop: Exposure ⇄ astropy NDData / CCDData."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData, InverseVariance, NDData, StdDevUncertainty, VarianceUncertainty

from skystack.geom.wcs import SkyWcs
from skystack.image import Exposure, exposure_from_nddata, exposure_to_ccddata, exposure_to_nddata

MAS = 1.0 / 3.6e6


def _exposure() -> Exposure:
    rng = np.random.default_rng(11)
    shape = (30, 40)
    mask = np.zeros(shape, np.int32)
    mask[2, 3] = 1  # BAD
    mask[4, 5] = 1 << 5  # DETECTED
    header = fits.Header(
        {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CRPIX1": 20.5,
            "CRPIX2": 15.5,
            "CRVAL1": 10.0,
            "CRVAL2": 41.0,
            "CD1_1": -1e-4,
            "CD1_2": 0.0,
            "CD2_1": 0.0,
            "CD2_2": 1e-4,
        }
    )
    return Exposure.from_arrays(
        rng.normal(0, 1, shape).astype(np.float32),
        mask,
        rng.uniform(1, 2, shape).astype(np.float32),
        xy0=(7, 9),
        wcs=SkyWcs.from_fits_header(header),
        metadata={"OBJECT": "NGC 1", "BUNIT": "electron"},
    )


def test_to_ccddata_shares_memory_and_maps_everything() -> None:
    exposure = _exposure()
    ccd = exposure_to_ccddata(exposure)
    assert np.shares_memory(ccd.data, exposure.image.array)
    assert isinstance(ccd.uncertainty, VarianceUncertainty)
    assert np.shares_memory(ccd.uncertainty.array, exposure.variance.array)
    assert np.shares_memory(ccd.flags, exposure.mask.array)
    assert ccd.unit == u.electron
    assert ccd.mask[2, 3] and ccd.mask[4, 5] and ccd.mask.sum() == 2
    assert ccd.meta["MP_DETECTED"] == 5 and ccd.meta["LTV1"] == -7 and ccd.meta["OBJECT"] == "NGC 1"
    # astropy pixel (0, 0) is parent pixel (7, 9).
    sky = ccd.wcs.pixel_to_world(3.0, 4.0)
    assert exposure.wcs is not None
    ra, dec = exposure.wcs.pixel_to_sky(10.0, 13.0)
    assert abs(sky.ra.deg - ra) < 1e-3 * MAS and abs(sky.dec.deg - dec) < 1e-3 * MAS
    only_bad = exposure_to_ccddata(exposure, unit="adu", bad_planes=["BAD", "NOT_A_PLANE"])
    assert only_bad.unit == u.adu and only_bad.mask.sum() == 1 and only_bad.mask[2, 3]


def test_ccddata_round_trip_is_exact() -> None:
    exposure = _exposure()
    back = exposure_from_nddata(exposure_to_ccddata(exposure))
    assert back.bbox == exposure.bbox
    assert np.shares_memory(back.image.array, exposure.image.array)
    assert np.shares_memory(back.variance.array, exposure.variance.array)
    assert back.mask == exposure.mask
    assert back.metadata["OBJECT"] == "NGC 1" and back.metadata["BUNIT"] == "electron"
    assert back.wcs is not None and exposure.wcs is not None
    ra, dec = back.wcs.pixel_to_sky(np.array([7.0, 30.0]), np.array([9.0, 20.0]))
    ra0, dec0 = exposure.wcs.pixel_to_sky(np.array([7.0, 30.0]), np.array([9.0, 20.0]))
    np.testing.assert_allclose(ra, ra0, atol=1e-3 * MAS, rtol=0)
    np.testing.assert_allclose(dec, dec0, atol=1e-3 * MAS, rtol=0)


def test_nddata_round_trip() -> None:
    exposure = _exposure()
    nd = exposure_to_nddata(exposure)
    assert type(nd) is NDData
    assert np.shares_memory(nd.meta["skystack_mask"], exposure.mask.array)
    back = exposure_from_nddata(nd)
    assert back.mask == exposure.mask and back.xy0 == exposure.xy0
    np.testing.assert_array_equal(back.variance.array, exposure.variance.array)


def test_ccddata_written_by_astropy_reads_back(tmp_path: Path) -> None:
    exposure = _exposure()
    ccd = exposure_to_ccddata(exposure)
    ccd.flags = None  # CCDData.write cannot store flags
    ccd.write(tmp_path / "ccd.fits")
    read = CCDData.read(tmp_path / "ccd.fits")
    back = exposure_from_nddata(read)
    np.testing.assert_array_equal(back.image.array, exposure.image.array)
    np.testing.assert_allclose(back.variance.array, exposure.variance.array, rtol=1e-6)
    assert back.xy0 == exposure.xy0
    np.testing.assert_array_equal(back.mask.get_plane("BAD"), exposure.mask.array != 0)


def test_plain_nddata_conversions() -> None:
    data = np.arange(12, dtype=np.float64).reshape(3, 4)
    std = NDData(data, uncertainty=StdDevUncertainty(np.full((3, 4), 3.0)), mask=data > 9, unit="Jy")
    exposure = exposure_from_nddata(std)
    np.testing.assert_allclose(exposure.variance.array, 9.0)
    assert exposure.mask.get_plane("BAD").sum() == 2 and exposure.wcs is None
    assert exposure.metadata["BUNIT"] == "Jy"
    ivar = exposure_from_nddata(
        NDData(data, uncertainty=InverseVariance(np.full((3, 4), 4.0))), bad_plane="NO_DATA"
    )
    np.testing.assert_allclose(ivar.variance.array, 0.25)
    bare = exposure_from_nddata(NDData(data.astype(np.int32)))
    assert bare.variance.dtype == np.float32 and not bare.variance.array.any()


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="Exposure needs 2-D data"):
        exposure_from_nddata(NDData(np.zeros(5)))
    with pytest.raises(ValueError, match=r"uncertainty has shape \(2, 2\), data has \(3, 3\)"):
        exposure_from_nddata(NDData(np.zeros((3, 3)), uncertainty=VarianceUncertainty(np.ones((2, 2)))))
