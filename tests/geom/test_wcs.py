# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of SkyWcs against astropy on astropy's test headers and real survey files."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import astropy.wcs
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from lsst import sphgeom

from skystack.geom import Angle, Box2D, Point2D, SkyWcs, SpherePoint, angular_separation, make_cd_matrix
from skystack.utils.persist import dump_persistable, dumps_json, load_persistable, loads_json

MAS = 1.0 / 3.6e6  # degrees
ASTROPY_DATA = Path(astropy.wcs.__file__).parent / "tests" / "data"
ASTROPY_HEADERS = [
    "maps/1904-66_TAN.hdr",
    "irac_sip.hdr",
    "siponly.hdr",
    "maps/1904-66_SIN.hdr",
    "maps/1904-66_ZEA.hdr",
]
DECAM_TPV = (
    "legacypipe_testcases/testcase6/images/decam/CP/V4.8.2a/CP20171112/c4d_171113_061941_ooi_r_ls9.S4.fits"
)


def _astropy_header(name: str) -> fits.Header:
    return fits.Header.fromstring((ASTROPY_DATA / name).read_bytes())


def _real_header(path: Path) -> fits.Header:
    with fits.open(path) as hdul:
        for hdu in hdul:
            if "CTYPE1" in hdu.header:
                return hdu.header.copy()
    raise AssertionError(f"no WCS in {path}")


def _headers(real_data_dir: Path) -> dict[str, fits.Header]:
    out = {name: _astropy_header(name) for name in ASTROPY_HEADERS}
    for rel in [
        "single_frames/feder_apogee_B_sip-wcs.fit",
        "single_frames/feder_eyuma_r_thumbnail.fit.gz",
        DECAM_TPV,
    ]:
        out[rel] = _real_header(real_data_dir / rel)
    out["sfft_decam_i"] = _real_header(real_data_dir / "sfft_decam_i/input_data/DEC-OBS04a.mini.fits")
    return out


@pytest.fixture(scope="module")
def headers(real_data_dir: Path) -> dict[str, fits.Header]:
    return _headers(real_data_dir)


def _grid(header: fits.Header, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    nx, ny = int(header.get("NAXIS1", 200)), int(header.get("NAXIS2", 200))
    rng = np.random.default_rng(7)
    return rng.uniform(-0.5, nx - 0.5, n * n), rng.uniform(-0.5, ny - 0.5, n * n)


def _sky_error_mas(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray, dec2: np.ndarray) -> float:
    return float(np.nanmax(angular_separation(ra1, dec1, ra2, dec2)) / MAS)


@pytest.mark.parametrize("name", [*ASTROPY_HEADERS, "real"])
def test_pixel_to_sky_agrees_with_astropy(name: str, headers: dict[str, fits.Header]) -> None:
    names = [n for n in headers if n not in ASTROPY_HEADERS] if name == "real" else [name]
    for key in names:
        header = headers[key]
        wcs = SkyWcs.from_fits_header(header)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = WCS(header, relax=True)
        x, y = _grid(header)
        ra, dec = wcs.pixel_to_sky(x, y)
        ra_ref, dec_ref = ref.all_pix2world(x, y, 0)
        assert _sky_error_mas(ra, dec, ra_ref, dec_ref) < 0.1, key
        # inverse: back to the same pixels (to 1e-6 px)
        xb, yb = wcs.sky_to_pixel(ra, dec)
        np.testing.assert_allclose(xb, x, atol=1e-6, err_msg=key)
        np.testing.assert_allclose(yb, y, atol=1e-6, err_msg=key)


def test_fast_path_is_used_for_tan_and_sip(headers: dict[str, fits.Header]) -> None:
    for key in [
        "maps/1904-66_TAN.hdr",
        "irac_sip.hdr",
        "siponly.hdr",
        "single_frames/feder_apogee_B_sip-wcs.fit",
    ]:
        assert SkyWcs.from_fits_header(headers[key]).has_fast_path, key
    for key in ["maps/1904-66_SIN.hdr", DECAM_TPV]:
        assert not SkyWcs.from_fits_header(headers[key]).has_fast_path, key


def test_non_default_lonpole_tan() -> None:
    header = _astropy_header("maps/1904-66_TAN.hdr")
    header["LONPOLE"] = 150.0
    header["CRVAL2"] = 30.0
    wcs = SkyWcs.from_fits_header(header)
    assert wcs.has_fast_path
    x, y = _grid(header)
    ref = WCS(header)
    ra_ref, dec_ref = ref.all_pix2world(x, y, 0)
    ra, dec = wcs.pixel_to_sky(x, y)
    assert _sky_error_mas(ra, dec, ra_ref, dec_ref) < 1e-3
    xr, yr = ref.all_world2pix(ra_ref, dec_ref, 0)
    xs, ys = wcs.sky_to_pixel(ra_ref, dec_ref)
    np.testing.assert_allclose(xs, xr, atol=1e-8)
    np.testing.assert_allclose(ys, yr, atol=1e-8)


def test_scalars_and_sky_points(headers: dict[str, fits.Header]) -> None:
    wcs = SkyWcs.from_fits_header(headers["irac_sip.hdr"])
    ra, dec = wcs.pixel_to_sky(10.0, 20.0)
    assert isinstance(ra, float) and isinstance(dec, float)
    p = wcs.pixel_to_sky_point(10.0, 20.0)
    assert p == SpherePoint.from_degrees(ra, dec)
    back = wcs.sky_point_to_pixel(p)
    assert back.x == pytest.approx(10.0, abs=1e-8) and back.y == pytest.approx(20.0, abs=1e-8)
    # beyond 90 degrees from a TAN tangent point: NaN, and pixel_to_sky_point names it
    tan = SkyWcs.from_tan(
        SpherePoint.from_degrees(0, 0), Point2D(0, 0), make_cd_matrix(Angle.from_degrees(1))
    )
    x, y = tan.sky_to_pixel(180.0, 0.0)
    assert np.isnan(x) and np.isnan(y)


@pytest.mark.parametrize(
    "key", ["irac_sip.hdr", "single_frames/feder_eyuma_r_thumbnail.fit.gz", DECAM_TPV, "maps/1904-66_SIN.hdr"]
)
def test_fits_header_and_dict_round_trips_are_exact(key: str, headers: dict[str, fits.Header]) -> None:
    wcs = SkyWcs.from_fits_header(headers[key])
    header = wcs.to_fits_header()
    if wcs.astropy_wcs.sip is not None:
        assert header["CTYPE1"].endswith("-SIP") and "A_ORDER" in header and "B_ORDER" in header
        assert any(k.startswith("AP_") for k in header) or wcs.astropy_wcs.sip.ap is None
    again = SkyWcs.from_fits_header(fits.Header.fromstring(header.tostring()))
    assert again == wcs
    np.testing.assert_array_equal(again.astropy_wcs.wcs.crval, wcs.astropy_wcs.wcs.crval)
    np.testing.assert_array_equal(again.astropy_wcs.wcs.get_pc(), wcs.astropy_wcs.wcs.get_pc())
    x, y = _grid(headers[key], 20)
    ra1, dec1 = wcs.pixel_to_sky(x, y)
    ra2, dec2 = again.pixel_to_sky(x, y)
    assert _sky_error_mas(ra1, dec1, ra2, dec2) < 1e-6
    # persistence through JSON
    restored = load_persistable(loads_json(dumps_json(dump_persistable(wcs))), SkyWcs)
    assert restored == wcs
    ra3, dec3 = restored.pixel_to_sky(x, y)
    np.testing.assert_array_equal(ra3, ra1)
    np.testing.assert_array_equal(dec3, dec1)


@pytest.mark.parametrize("key", [*ASTROPY_HEADERS, "real"])
def test_header_text_parse_equals_full_parse(key: str, headers: dict[str, fits.Header]) -> None:
    """from_header_text (wcslib + Sip for TAN/TAN-SIP) gives the WCS astropy's parser gives."""
    names = [n for n in headers if n not in ASTROPY_HEADERS] if key == "real" else [key]
    for name in names:
        full = SkyWcs.from_fits_header(headers[name])
        fast = SkyWcs.from_header_text(headers[name].tostring())
        assert fast == full, name
        x, y = _grid(headers[name], 20)
        ra1, dec1 = full.pixel_to_sky(x, y)
        ra2, dec2 = fast.pixel_to_sky(x, y)
        np.testing.assert_array_equal(ra1, ra2)
        np.testing.assert_array_equal(dec1, dec2)
        for a, b in zip(full.sky_to_pixel(ra1, dec1), fast.sky_to_pixel(ra1, dec1), strict=True):
            np.testing.assert_array_equal(a, b)


def test_full_precision_values_survive() -> None:
    cd = make_cd_matrix(Angle.from_arcseconds(0.2), Angle.from_degrees(33.3333333333333))
    wcs = SkyWcs.from_tan(
        SpherePoint.from_degrees(316.83664572741234, -65.96615744051234), Point2D(1234.5678901234, 98.7), cd
    )
    again = SkyWcs.from_fits_header(wcs.to_fits_header())
    np.testing.assert_array_equal(again.astropy_wcs.wcs.crval, wcs.astropy_wcs.wcs.crval)
    np.testing.assert_array_equal(again.astropy_wcs.wcs.crpix, wcs.astropy_wcs.wcs.crpix)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the exact cards are valid FITS
        fits.Header.fromstring(wcs.to_fits_header().tostring()).tostring()


def test_shifted_pixel_origin(headers: dict[str, fits.Header]) -> None:
    for key in ["irac_sip.hdr", DECAM_TPV]:
        wcs = SkyWcs.from_fits_header(headers[key])
        shifted = wcs.shifted_pixel_origin(17.0, -5.0)
        x, y = _grid(headers[key], 10)
        ra1, dec1 = shifted.pixel_to_sky(x, y)
        ra2, dec2 = wcs.pixel_to_sky(x + 17.0, y - 5.0)
        assert _sky_error_mas(ra1, dec1, ra2, dec2) < 1e-6


@pytest.mark.parametrize("key", ["irac_sip.hdr", DECAM_TPV, "maps/1904-66_TAN.hdr"])
def test_local_affine_matches_finite_differences(key: str, headers: dict[str, fits.Header]) -> None:
    wcs = SkyWcs.from_fits_header(headers[key])
    x0, y0 = 37.3, 61.8
    affine = wcs.local_affine(x0, y0)
    h = 1e-3
    ra, dec = wcs.pixel_to_sky(np.array([x0 + h, x0 - h, x0, x0]), np.array([y0, y0, y0 + h, y0 - h]))
    d_ra = (np.array([ra[0] - ra[1], ra[2] - ra[3]]) + 180.0) % 360.0 - 180.0
    expected = np.array([d_ra, [dec[0] - dec[1], dec[2] - dec[3]]]) / (2 * h)
    np.testing.assert_allclose(affine.matrix, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    ra_c, dec_c = affine.apply(x0, y0)
    assert ra_c == pytest.approx(affine.sky.ra.degrees, abs=1e-12)
    assert dec_c == pytest.approx(affine.sky.dec.degrees, abs=1e-12)
    # one pixel away the linear model is good to a small fraction of a pixel
    ra1, dec1 = wcs.pixel_to_sky(x0 + 1.0, y0 + 1.0)
    ra_l, dec_l = affine.apply(x0 + 1.0, y0 + 1.0)
    scale = wcs.pixel_scale(x0, y0).degrees
    assert angular_separation(ra1, dec1, ra_l, dec_l) < 1e-2 * scale


def test_pixel_scale(headers: dict[str, fits.Header]) -> None:
    header = headers["single_frames/feder_eyuma_r_thumbnail.fit.gz"]
    # astrometry.net records its solution's scale in the header comments
    comment = next(str(c) for c in header["COMMENT"] if str(c).startswith("scale:"))
    recorded = float(re.search(r"scale: ([0-9.]+) arcsec/pix", comment).group(1))  # type: ignore[union-attr]
    wcs = SkyWcs.from_fits_header(header)
    assert wcs.pixel_scale().arcseconds == pytest.approx(recorded, abs=1e-5)
    # an analytic TAN: scale at the tangent point is the CD scale, and shrinks as cos^2 off-axis
    s = Angle.from_arcseconds(0.2)
    tan = SkyWcs.from_tan(
        SpherePoint.from_degrees(10, 80), Point2D(0, 0), make_cd_matrix(s, Angle.from_degrees(20))
    )
    assert tan.pixel_scale().arcseconds == pytest.approx(0.2, rel=1e-12)
    theta = np.arctan(10000 * s.radians)
    # radial scale cos^2(theta), tangential cos(theta): area scale cos^3
    assert tan.pixel_scale(10000.0, 0.0).arcseconds == pytest.approx(0.2 * np.cos(theta) ** 1.5, rel=1e-9)
    with pytest.raises(ValueError, match="both x and y"):
        tan.pixel_scale(1.0, None)


def test_make_cd_matrix_orientation() -> None:
    cd = make_cd_matrix(Angle.from_arcseconds(1.0))
    assert cd[0, 0] < 0 and cd[1, 1] > 0 and cd[0, 1] == 0.0
    tan = SkyWcs.from_tan(
        SpherePoint.from_degrees(50, 10),
        Point2D(0, 0),
        make_cd_matrix(Angle.from_arcseconds(1.0), Angle.from_degrees(30)),
    )
    center = tan.pixel_to_sky_point(0, 0)
    up = tan.pixel_to_sky_point(0, 100)
    assert center.position_angle_to(up).degrees == pytest.approx(30.0, abs=1e-6)
    with pytest.raises(ValueError, match="positive Angle"):
        make_cd_matrix(Angle(0.0))


def test_pixel_region(headers: dict[str, fits.Header]) -> None:
    tan = SkyWcs.from_tan(
        SpherePoint.from_degrees(50, 10), Point2D(50, 50), make_cd_matrix(Angle.from_arcseconds(1.0))
    )
    box = Box2D(-0.5, -0.5, 99.5, 99.5)
    poly = tan.pixel_region(box)
    assert isinstance(poly, sphgeom.ConvexPolygon)
    rng = np.random.default_rng(5)
    x, y = rng.uniform(-20, 120, 2000), rng.uniform(-20, 120, 2000)
    ra, dec = tan.pixel_to_sky(x, y)
    inside = np.asarray(poly.contains(np.radians(ra), np.radians(dec)))
    np.testing.assert_array_equal(inside, box.contains(x, y))
    sip = SkyWcs.from_fits_header(headers["irac_sip.hdr"])
    dense = sip.pixel_region(Box2D(0, 0, 255, 255), points_per_side=8)
    assert len(dense.getVertices()) >= 4
    with pytest.raises(ValueError, match="box is empty"):
        tan.pixel_region(Box2D.empty())


def test_errors_name_the_problem() -> None:
    header = fits.Header({"NAXIS": 2, "CTYPE1": "PIXEL", "CTYPE2": "PIXEL"})
    with pytest.raises(ValueError, match="no celestial WCS"):
        SkyWcs.from_fits_header(header)
    with pytest.raises(TypeError, match="astropy.io.fits.Header"):
        SkyWcs.from_fits_header({"CTYPE1": "RA---TAN"})
    with pytest.raises(ValueError, match="two-axis celestial WCS"):
        SkyWcs(WCS(naxis=3))
    with pytest.raises(ValueError, match="list of FITS card strings"):
        SkyWcs.from_dict({"header": 3})
    with pytest.raises(ValueError, match="invertible"):
        SkyWcs.from_tan(SpherePoint.from_degrees(0, 0), Point2D(0, 0), np.zeros((2, 2)))
