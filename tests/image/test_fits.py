# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of skystack.image.fits: Exposure/MaskedImage/Image multi-extension FITS files."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from skystack.geom import Box2I
from skystack.geom.wcs import SkyWcs
from skystack.image import (
    Exposure,
    FitsError,
    Image,
    MaskedImage,
    VisitInfo,
    read_exposure,
    read_exposure_component,
    read_image,
    read_masked_image,
    write_exposure,
    write_image,
    write_masked_image,
)
from skystack.image.apcorr import ApCorrMap
from skystack.image.bounded_field import ConstantBoundedField
from skystack.image.photocalib import PhotoCalib
from skystack.image.psf.gaussian import GaussianPsf
from skystack.utils.persist import PersistenceError, register_persistable

MAS = 1.0 / 3.6e6  # degrees


@register_persistable("TestImagesToyModel")
class ToyModel:
    """A small persistable with an array, standing in for any model component."""

    def __init__(self, coefficients: np.ndarray, label: str) -> None:
        self.coefficients = np.asarray(coefficients)
        self.label = label

    def to_dict(self) -> dict[str, Any]:
        return {"coefficients": self.coefficients, "label": self.label}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToyModel:
        return cls(data["coefficients"], data["label"])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ToyModel)
            and self.label == other.label
            and self.coefficients.dtype == other.coefficients.dtype
            and np.array_equal(self.coefficients, other.coefficients)
        )


def _wcs() -> SkyWcs:
    header = fits.Header(
        {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CRPIX1": 60.5,
            "CRPIX2": 40.25,
            "CRVAL1": 210.3,
            "CRVAL2": -12.7,
            "CD1_1": -5.1e-5,
            "CD1_2": 2.0e-6,
            "CD2_1": 1.5e-6,
            "CD2_2": 5.2e-5,
        }
    )
    return SkyWcs.from_fits_header(header)


def _exposure(dtype: type = np.float32, xy0: tuple[int, int] = (100, -30)) -> Exposure:
    rng = np.random.default_rng(3)
    shape = (64, 96)
    image: np.ndarray
    if np.dtype(dtype).kind == "f":
        image = rng.normal(100, 10, shape).astype(dtype)
        image[3, 4] = np.nan
        image[5, 6] = -np.inf
    else:
        info = np.iinfo(dtype)
        image = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
    mask = rng.integers(0, 1 << 13, shape).astype(np.int32)
    variance = rng.uniform(1, 5, shape).astype(np.float32)
    exposure = Exposure.from_arrays(
        image,
        mask,
        variance,
        xy0=xy0,
        wcs=_wcs(),
        psf=ToyModel(np.array([1.5, 2.25, np.pi]), "psf"),
        photo_calib=ToyModel(np.arange(4, dtype=np.int64), "calib"),
        ap_corr_map=ToyModel(np.zeros(0), "apcorr"),
        visit_info=VisitInfo(exposure_id=7, mjd_tai=60123.123456789, band="i", extra={"N": 1}),
        metadata={"OBJECT": "M31 field", "EXPTIME": 30.5, "GAIN": 1.7},
    )
    exposure.metadata["HISTORY"] = "made by a test"
    exposure.mask.add_plane("A_LONG_PLANE_NAME")
    return exposure


def _assert_same(a: Exposure, b: Exposure) -> None:
    for pa, pb in ((a.image, b.image), (a.mask, b.mask), (a.variance, b.variance)):
        assert pa.bbox == pb.bbox
        assert pa.dtype == pb.dtype and pb.dtype.isnative
        # bit for bit, NaNs included
        assert pa.array.tobytes() == pb.array.tobytes()
    assert dict(a.mask.plane_dict) == dict(b.mask.plane_dict)
    for name in ("psf", "photo_calib", "ap_corr_map", "visit_info"):
        assert getattr(a, name) == getattr(b, name), name


@pytest.mark.parametrize("compression", [None, "lossless"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint16, np.int32])
def test_exposure_round_trip_is_exact(tmp_path: Path, dtype: type, compression: Any) -> None:
    exposure = _exposure(dtype)
    path = tmp_path / "exp.fits"
    write_exposure(path, exposure, compression=compression)
    back = read_exposure(path)
    _assert_same(exposure, back)
    assert back.wcs == exposure.wcs
    assert back.metadata["OBJECT"] == "M31 field" and back.metadata["GAIN"] == 1.7
    assert list(back.metadata["HISTORY"]) == ["made by a test"]
    assert "SKYTYPE" not in back.metadata
    assert os.listdir(tmp_path) == ["exp.fits"]  # no temporary file left


def test_methods_wrap_functions(tmp_path: Path) -> None:
    exposure = _exposure()
    exposure.write_fits(tmp_path / "e.fits")
    back = Exposure.read_fits(tmp_path / "e.fits", bbox=Box2I(110, -20, 5, 5))
    assert back.bbox == Box2I(110, -20, 5, 5)
    np.testing.assert_array_equal(back.image.array, exposure.image[back.bbox].array)


def test_file_is_standard_fits_for_astropy_and_ds9(tmp_path: Path) -> None:
    exposure = _exposure()
    path = tmp_path / "exp.fits"
    write_exposure(path, exposure)
    x0, y0 = exposure.xy0
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == [
            "PRIMARY",
            "IMAGE",
            "MASK",
            "VARIANCE",
            "PSF",
            "PHOTOCALIB",
            "APCORR",
            "VISITINFO",
        ]
        np.testing.assert_array_equal(hdul["IMAGE"].data, exposure.image.array)
        header = hdul["IMAGE"].header
        assert (header["LTV1"], header["LTV2"]) == (-x0, -y0)
        assert hdul["MASK"].header["MP_CR"] == 3
        assert hdul["MASK"].header["MP_A_LONG_PLANE_NAME"] == exposure.mask.get_plane_bit("A_LONG_PLANE_NAME")
        assert hdul["VISITINFO"].header["OBJTYPE"] == "VisitInfo"
        for extname in ("IMAGE", "MASK", "VARIANCE"):
            file_wcs = WCS(hdul[extname].header)
            # File pixel (i, j) is parent pixel (i + x0, j + y0).
            ra, dec = file_wcs.all_pix2world([0.0, 17.0], [0.0, 9.0], 0)
            assert exposure.wcs is not None
            ra2, dec2 = exposure.wcs.pixel_to_sky(np.array([x0, x0 + 17.0]), np.array([y0, y0 + 9.0]))
            np.testing.assert_allclose(ra, ra2, atol=1e-3 * MAS, rtol=0)
            np.testing.assert_allclose(dec, dec2, atol=1e-3 * MAS, rtol=0)
        physical = WCS(header, key="A")
        np.testing.assert_allclose(physical.all_pix2world([[0.0, 0.0]], 0), [[x0, y0]])


@pytest.mark.parametrize("compression", [None, "lossless"])
def test_sub_box_read_matches_slicing(tmp_path: Path, compression: Any) -> None:
    exposure = _exposure(np.float64)
    path = tmp_path / "exp.fits"
    write_exposure(path, exposure, compression=compression)
    for box in (Box2I(100, -30, 1, 1), Box2I(117, -11, 23, 40), Box2I(195, 33, 1, 1), exposure.bbox):
        part = read_exposure(path, bbox=box)
        _assert_same(exposure[box], part)
        assert part.wcs == exposure.wcs
        np.testing.assert_array_equal(read_image(path, bbox=box).array, exposure.image[box].array)
    with pytest.raises(ValueError, match=r"Requested bbox .* is not inside the bbox Box2I\(min_x=100"):
        read_exposure(path, bbox=Box2I(0, 0, 10, 10))


def test_components_read_without_pixels(tmp_path: Path) -> None:
    exposure = _exposure()
    path = tmp_path / "exp.fits"
    write_exposure(path, exposure)
    assert read_exposure_component(path, "bbox") == exposure.bbox
    assert read_exposure_component(path, "wcs") == exposure.wcs
    assert read_exposure_component(path, "psf") == exposure.psf
    assert read_exposure_component(path, "photo_calib") == exposure.photo_calib
    assert read_exposure_component(path, "ap_corr_map") == exposure.ap_corr_map
    assert read_exposure_component(path, "visit_info") == exposure.visit_info
    assert read_exposure_component(path, "metadata")["EXPTIME"] == 30.5
    assert read_exposure_component(path, "mask_plane_dict") == dict(exposure.mask.plane_dict)
    with pytest.raises(ValueError, match="Unknown exposure component 'psff'; choose one of wcs, psf"):
        read_exposure_component(path, "psff")
    # Damage the pixel data: component reads do not touch it.
    with fits.open(path) as hdul:
        image_end = hdul["IMAGE"].fileinfo()["datLoc"]
    with open(path, "r+b") as stream:
        stream.seek(image_end)
        stream.write(b"\xff" * 64)
    assert read_exposure_component(path, "visit_info") == exposure.visit_info


def test_missing_components_are_none(tmp_path: Path) -> None:
    exposure = Exposure.from_arrays(np.ones((4, 5), np.float32))
    write_exposure(tmp_path / "bare.fits", exposure)
    back = read_exposure(tmp_path / "bare.fits")
    assert back.wcs is back.psf is back.photo_calib is back.visit_info is back.ap_corr_map is None
    assert read_exposure_component(tmp_path / "bare.fits", "psf") is None


def test_real_components_round_trip(tmp_path: Path) -> None:
    exposure = _exposure()
    exposure.psf = GaussianPsf(2.1)
    exposure.photo_calib = PhotoCalib.from_zero_point(27.3, 0.01)
    exposure.ap_corr_map = ApCorrMap({"base_PsfFlux": ConstantBoundedField(0.98, exposure.bbox)})
    write_exposure(tmp_path / "e.fits", exposure, compression="lossless")
    back = read_exposure(tmp_path / "e.fits")
    assert isinstance(back.psf, GaussianPsf) and back.psf == exposure.psf
    assert back.photo_calib == exposure.photo_calib
    assert back.ap_corr_map == exposure.ap_corr_map


def test_masked_image_and_image_files(tmp_path: Path) -> None:
    exposure = _exposure()
    write_masked_image(tmp_path / "mi.fits", exposure.masked_image, wcs=exposure.wcs)
    mi = read_masked_image(tmp_path / "mi.fits")
    assert isinstance(mi, MaskedImage) and mi.bbox == exposure.bbox
    assert mi.mask == exposure.mask
    assert read_exposure_component(tmp_path / "mi.fits", "wcs") == exposure.wcs
    image = Image(np.arange(12, dtype=np.uint16).reshape(3, 4) + 65000, (-4, 9))
    write_image(tmp_path / "im.fits", image, metadata=fits.Header({"FILTER": "g"}), compression="lossless")
    back = read_image(tmp_path / "im.fits")
    assert back.bbox == image.bbox and back.dtype == np.uint16
    np.testing.assert_array_equal(back.array, image.array)
    as_exposure = read_exposure(tmp_path / "im.fits")
    assert not as_exposure.mask.array.any() and as_exposure.metadata["FILTER"] == "g"
    with pytest.raises(FitsError, match="holds an IMAGE, not a MaskedImage"):
        read_masked_image(tmp_path / "im.fits")
    assert read_exposure_component(tmp_path / "im.fits", "mask_plane_dict") == {}


def test_overwrite_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "exp.fits"
    first = _exposure()
    write_exposure(path, first)
    before = path.read_bytes()

    def explode(self: fits.HDUList, *args: Any, **kwargs: Any) -> None:
        args[0].write(b"SIMPLE  = partial garbage")
        raise KeyboardInterrupt("interrupted mid-write")

    monkeypatch.setattr(fits.HDUList, "writeto", explode)
    with pytest.raises(KeyboardInterrupt):
        write_exposure(path, _exposure(np.float64))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["exp.fits"]


def test_write_errors(tmp_path: Path) -> None:
    exposure = _exposure()
    with pytest.raises(ValueError, match="compression must be None or 'lossless'"):
        write_exposure(tmp_path / "x.fits", exposure, compression="lossy")  # type: ignore[arg-type]
    exposure.psf = object()
    with pytest.raises(PersistenceError, match="not a registered persistable"):
        write_exposure(tmp_path / "x.fits", exposure)
    assert not (tmp_path / "x.fits").exists()


# -- bad files ---------------------------------------------------------------------------------
def test_not_fits(tmp_path: Path) -> None:
    path = tmp_path / "notes.fits"
    path.write_text("these are not pixels\n" * 300)
    with pytest.raises(FitsError, match=r"notes.fits: not a FITS file"):
        read_exposure(path)
    empty = tmp_path / "empty.fits"
    empty.write_bytes(b"")
    with pytest.raises(FitsError, match=r"empty.fits: file is truncated or not FITS"):
        read_exposure(empty)
    with pytest.raises(FileNotFoundError, match="No such FITS file"):
        read_exposure(tmp_path / "absent.fits")


@pytest.mark.parametrize("keep", [0.97, 0.6, 0.2, 0.001])
def test_truncated_file(tmp_path: Path, keep: float) -> None:
    path = tmp_path / "exp.fits"
    write_exposure(path, _exposure())
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(FitsError, match=r"exp.fits: file is truncated"):
        read_exposure(path)
    with pytest.raises(FitsError, match="truncated"):
        read_exposure_component(path, "visit_info")


def test_missing_extension(tmp_path: Path) -> None:
    path = tmp_path / "exp.fits"
    write_exposure(path, _exposure())
    with fits.open(path) as hdul:
        kept = fits.HDUList([hdul[0].copy(), hdul["IMAGE"].copy(), hdul["VARIANCE"].copy()])
        kept[0].header["SKYNHDU"] = 3
        kept[0].header["SKYCOMP"] = ""
        kept.writeto(tmp_path / "nomask.fits")
    with pytest.raises(
        FitsError, match=r"nomask.fits: missing extension MASK \(HDUs present: PRIMARY, IMAGE, VARIANCE\)"
    ):
        read_exposure(tmp_path / "nomask.fits")


def test_hdu_count_mismatch_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "exp.fits"
    write_exposure(path, _exposure())
    with fits.open(path) as hdul:
        fits.HDUList([h.copy() for h in hdul[:-1]]).writeto(tmp_path / "short.fits")
    with pytest.raises(FitsError, match="it holds 7 HDUs, its header says 8"):
        read_exposure(tmp_path / "short.fits")


def test_foreign_fits_and_wrong_types(tmp_path: Path) -> None:
    plain = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.zeros((3, 3), np.float32)).writeto(plain)
    with pytest.raises(FitsError, match="not a skystack image file"):
        read_exposure(plain)
    path = tmp_path / "exp.fits"
    write_exposure(path, _exposure())
    with fits.open(path) as hdul:
        hdul["MASK"].data = hdul["MASK"].data.astype(np.float32)
        hdul.writeto(tmp_path / "floatmask.fits")
        hdul["MASK"].data = np.zeros((3, 3), np.int32)
        hdul.writeto(tmp_path / "badshape.fits")
    with pytest.raises(
        FitsError, match=r"floatmask.fits: invalid MASK or VARIANCE extension .*Mask pixel type float32"
    ):
        read_exposure(tmp_path / "floatmask.fits")
    with pytest.raises(FitsError, match=r"extension MASK is not a 2-D image of shape \(64, 96\)"):
        read_exposure(tmp_path / "badshape.fits")


def test_corrupt_component(tmp_path: Path) -> None:
    path = tmp_path / "exp.fits"
    write_exposure(path, _exposure())
    text = b'{"type":"NoSuchType"}'
    for label, width in (("unknown", len(text)), ("cut", len(text) - 1)):
        with fits.open(path) as hdul:
            column = fits.Column(name="JSON", format=f"{width}A", array=np.array([text]))
            hdul["PSF"] = fits.BinTableHDU.from_columns([column], name="PSF")
            hdul.writeto(tmp_path / f"{label}.fits")
    with pytest.raises(
        FitsError, match=r"unknown.fits: cannot rebuild the psf from extension PSF .*'NoSuchType'"
    ):
        read_exposure(tmp_path / "unknown.fits")
    with pytest.raises(FitsError, match=r"cut.fits: cannot rebuild the psf from extension PSF \(Expecting"):
        read_exposure_component(tmp_path / "cut.fits", "psf")


# -- real data ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["feder_apogee_B_sip-wcs.fit", "feder_eyuma_r_thumbnail.fit.gz"])
def test_real_frame_round_trip_and_wcs_agreement(tmp_path: Path, real_data_dir: Path, name: str) -> None:
    """A real TAN-SIP frame keeps its pixels bit for bit and its WCS to < 0.1 mas vs astropy."""
    source = real_data_dir / "single_frames" / name
    with fits.open(source) as hdul:
        data = hdul[0].data
        header = hdul[0].header
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        reference = WCS(header)
        wcs = SkyWcs.from_fits_header(header)
    exposure = Exposure.from_arrays(data, xy0=(0, 0), wcs=wcs, metadata={"ORIGIN": name})
    big = Exposure(exposure.masked_image.with_xy0((1000, 2000)), wcs=wcs.shifted_pixel_origin(-1000, -2000))
    for exp, label in ((exposure, "a"), (big, "b")):
        path = tmp_path / f"{label}.fits"
        write_exposure(path, exp, compression="lossless" if label == "b" else None)
        back = read_exposure(path)
        assert back.image.array.tobytes() == data.astype(data.dtype.newbyteorder("=")).tobytes()
        assert back.dtype == data.dtype
        x0, y0 = back.xy0
        yy, xx = np.mgrid[0 : data.shape[0] : 7, 0 : data.shape[1] : 7]
        ra_ref, dec_ref = reference.all_pix2world(xx.ravel(), yy.ravel(), 0)
        assert back.wcs is not None
        ra, dec = back.wcs.pixel_to_sky(xx.ravel() + x0, yy.ravel() + y0)
        dra = (ra - ra_ref + 180.0) % 360.0 - 180.0
        assert np.max(np.hypot(dra * np.cos(np.radians(dec_ref)), dec - dec_ref)) < 0.1 * MAS
