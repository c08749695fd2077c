# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the PSF models: moments, FWHM, aperture fluxes, sub-pixel images, fitting, PSFEx files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from scipy.integrate import quad

from skystack.geom.box import Box2I
from skystack.image.psf import (
    DoubleGaussianPsf,
    GaussianPsf,
    MoffatPsf,
    PixelPsf,
    Psf,
    PsfError,
    measure_moments,
)
from skystack.utils.persist import dump_persistable, dumps_json, load_persistable, loads_json

FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def _round_trip(psf: Psf) -> Psf:
    return load_persistable(loads_json(dumps_json(dump_persistable(psf))), expected=Psf)


def _centroid(image: np.ndarray, bbox: Box2I) -> tuple[float, float]:
    xc, yc, *_ = measure_moments(image)
    return bbox.min_x + xc, bbox.min_y + yc


def _radial_fraction(profile: object, radius: float) -> float:
    """Fraction of flux within ``radius`` of a circular profile f(r), by quadrature."""
    inner = quad(lambda r: 2 * math.pi * r * profile(r), 0, radius, limit=200)[0]  # type: ignore[operator]
    total = quad(lambda r: 2 * math.pi * r * profile(r), 0, np.inf, limit=200)[0]  # type: ignore[operator]
    return inner / total


# -- Gaussian ------------------------------------------------------------------------------------
def test_gaussian_moments_fwhm_aperture() -> None:
    psf = GaussianPsf(2.0, 41)
    kernel = psf.compute_kernel_image(10.0, 20.0)
    assert kernel.shape == (41, 41) and kernel.sum() == pytest.approx(1.0, abs=1e-14)
    assert np.unravel_index(kernel.argmax(), kernel.shape) == (20, 20)
    xc, yc, ixx, iyy, ixy = measure_moments(kernel)
    assert (xc, yc) == (pytest.approx(20.0), pytest.approx(20.0))
    assert ixx == pytest.approx(4.0, rel=1e-6) and iyy == pytest.approx(4.0, rel=1e-6)
    assert abs(ixy) < 1e-12
    assert psf.compute_shape() == (4.0, 4.0, 0.0)
    assert psf.determinant_radius() == pytest.approx(2.0)
    assert psf.fwhm() == pytest.approx(FWHM_PER_SIGMA * 2.0)
    for r in (1.0, 2.5, 6.0):
        assert psf.compute_aperture_flux(r) == pytest.approx(1 - math.exp(-(r**2) / 8.0), rel=1e-12)
    assert psf.compute_aperture_flux(0.0) == 0.0
    assert not psf.is_spatially_varying and psf.dimensions == (41, 41)
    assert GaussianPsf(1.5).kernel_size == 2 * math.ceil(7.5) + 1


@pytest.mark.parametrize(
    "psf",
    [GaussianPsf(1.7, 25), DoubleGaussianPsf(1.5, 4.0, 0.1, 41), MoffatPsf(2.5, 3.5, 41)],
    ids=["gaussian", "double", "moffat"],
)
def test_subpixel_image_centroid(psf: Psf) -> None:
    for x, y in [(100.0, 50.0), (100.3, 50.49), (-7.45, 12.2), (33.5, 0.01)]:
        image, bbox = psf.compute_image(x, y)
        assert image.sum() == pytest.approx(1.0, abs=1e-12)
        assert bbox.width == psf.kernel_size and bbox.contains(x, y)
        assert bbox.center == (math.floor(x + 0.5), math.floor(y + 0.5))
        cx, cy = _centroid(image, bbox)
        assert abs(cx - x) < 0.01 and abs(cy - y) < 0.01


def test_double_gaussian() -> None:
    s1, s2, b = 1.5, 4.0, 0.1
    psf = DoubleGaussianPsf(s1, s2, b, 61)
    w1 = s1**2 / (s1**2 + b * s2**2)
    assert psf.weights == (pytest.approx(w1), pytest.approx(1 - w1))
    expected = w1 * s1**2 + (1 - w1) * s2**2
    assert psf.compute_shape() == (pytest.approx(expected), pytest.approx(expected), 0.0)
    _, _, ixx, iyy, _ = measure_moments(psf.compute_kernel_image())
    assert ixx == pytest.approx(expected, rel=1e-4) and iyy == pytest.approx(expected, rel=1e-4)

    def profile(r: float) -> float:
        return math.exp(-(r**2) / (2 * s1**2)) + b * math.exp(-(r**2) / (2 * s2**2))

    half = psf.fwhm() / 2
    assert profile(half) == pytest.approx(0.5 * profile(0.0), rel=1e-9)
    for r in (1.0, 3.0, 8.0):
        assert psf.compute_aperture_flux(r) == pytest.approx(_radial_fraction(profile, r), rel=1e-8)
    # b = 0 reduces to a single Gaussian.
    assert DoubleGaussianPsf(2.0, 5.0, 0.0).fwhm() == pytest.approx(FWHM_PER_SIGMA * 2.0, rel=1e-10)


def test_moffat() -> None:
    alpha, beta = 3.0, 4.0
    psf = MoffatPsf(alpha, beta, size=301)
    expected = alpha**2 / (2 * (beta - 2))
    assert psf.compute_shape()[0] == pytest.approx(expected)
    # Truncation at +-150 px removes a fraction ~ (alpha / 150)^(2 beta - 4) of the moment.
    _, _, ixx, iyy, _ = measure_moments(psf.compute_kernel_image())
    assert ixx == pytest.approx(expected, rel=1e-3) and iyy == pytest.approx(expected, rel=1e-3)
    fwhm = psf.fwhm()
    assert fwhm == pytest.approx(2 * alpha * math.sqrt(2 ** (1 / beta) - 1))
    assert (1 + (fwhm / 2 / alpha) ** 2) ** (-beta) == pytest.approx(0.5, rel=1e-12)
    for r in (1.0, 4.0, 12.0):
        assert psf.compute_aperture_flux(r) == pytest.approx(
            _radial_fraction(lambda q: (1 + (q / alpha) ** 2) ** (-beta), r), rel=1e-8
        )
    assert MoffatPsf.from_fwhm(fwhm, beta).alpha == pytest.approx(alpha)
    with pytest.raises(PsfError, match="diverge for beta <= 2"):
        MoffatPsf(2.0, 2.0).compute_shape()


def test_validation_errors() -> None:
    with pytest.raises(PsfError, match="sigma must be a finite positive"):
        GaussianPsf(-1.0)
    with pytest.raises(PsfError, match="odd integer"):
        GaussianPsf(1.0, 20)
    with pytest.raises(PsfError, match="beta must be > 1"):
        MoffatPsf(2.0, 1.0)
    with pytest.raises(PsfError, match="b \\(central amplitude ratio\\)"):
        DoubleGaussianPsf(1.0, 2.0, -0.5)
    with pytest.raises(PsfError, match="non-negative"):
        GaussianPsf(1.0).compute_aperture_flux(-1.0)
    with pytest.raises(PsfError, match="both x and y"):
        GaussianPsf(1.0).compute_kernel_image(1.0)
    with pytest.raises(PsfError, match="finite"):
        GaussianPsf(1.0).compute_image(np.nan, 1.0)


def test_round_trips() -> None:
    for psf in (GaussianPsf(1.3, 15), DoubleGaussianPsf(1.0, 3.0, 0.2), MoffatPsf(2.0, 3.0)):
        restored = _round_trip(psf)
        assert restored == psf and restored is not psf
        np.testing.assert_array_equal(restored.compute_kernel_image(), psf.compute_kernel_image())
    assert GaussianPsf(1.3, 15) != GaussianPsf(1.3, 17)
    assert GaussianPsf(1.3) != MoffatPsf(1.3, 3.0)


# -- Pixel PSF -------------------------------------------------------------------------------------
def test_pixel_psf_from_gaussian_kernel() -> None:
    gauss = GaussianPsf(2.0, 31)
    pixel = PixelPsf(gauss.compute_kernel_image()[None], degree=0)
    np.testing.assert_array_equal(pixel.compute_kernel_image(), gauss.compute_kernel_image())
    assert not pixel.is_spatially_varying
    ixx, iyy, ixy = pixel.compute_shape()
    assert ixx == pytest.approx(4.0, rel=1e-6) and iyy == pytest.approx(4.0, rel=1e-6) and abs(ixy) < 1e-12
    assert pixel.fwhm() == pytest.approx(gauss.fwhm(), rel=0.01)
    for r in (0.7, 1.0, 2.0, 5.0):
        assert pixel.compute_aperture_flux(r) == pytest.approx(gauss.compute_aperture_flux(r), abs=1e-3)
    for x, y in [(10.25, 20.4), (-3.5, 7.0), (0.49, 0.0)]:
        image, bbox = pixel.compute_image(x, y)
        expected, expected_box = gauss.compute_image(x, y)
        assert bbox == expected_box
        cx, cy = _centroid(image, bbox)
        assert abs(cx - x) < 0.01 and abs(cy - y) < 0.01
        np.testing.assert_allclose(image, expected, atol=2e-4)


def test_pixel_psf_oversampled_basis() -> None:
    """A basis sampled every 0.5 px gives the same native-pixel kernel as the analytic model."""
    sigma = 1.8
    offsets = (np.arange(61) - 30) * 0.5
    basis = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * sigma**2))
    pixel = PixelPsf(basis[None], degree=0, sampling=0.5)
    assert pixel.kernel_size == 29
    np.testing.assert_allclose(
        pixel.compute_kernel_image(), GaussianPsf(sigma, 29).compute_kernel_image(), atol=1e-5
    )


def _varying_sigma(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 1.6 + 0.4 * (x / 2000.0) + 0.25 * (y / 4000.0)


def test_pixel_psf_fit_recovers_spatially_varying_gaussian() -> None:
    rng = np.random.default_rng(11)
    bbox = Box2I(0, 0, 2000, 4000)
    n, size = 150, 25
    xs = rng.uniform(0, 1999, n)
    ys = rng.uniform(0, 3999, n)
    sigmas = _varying_sigma(xs, ys)
    offsets = np.arange(size) - size // 2
    u = offsets[None, None, :] - (xs - np.floor(xs + 0.5))[:, None, None]
    v = offsets[None, :, None] - (ys - np.floor(ys + 0.5))[:, None, None]
    flux = rng.uniform(5e4, 2e5, n)
    stamps = flux[:, None, None] * np.exp(-(u**2 + v**2) / (2 * sigmas[:, None, None] ** 2))
    stamps /= 2 * np.pi * sigmas[:, None, None] ** 2
    stamps += rng.normal(0, 2.0, stamps.shape)
    # sigma varies linearly, so the pixel values are smooth but not polynomial in position:
    # a cubic reproduces them to ~0.1 % of the peak.
    psf = PixelPsf.fit(stamps, xs, ys, degree=3, bbox=bbox)
    assert psf.is_spatially_varying and psf.bbox == bbox
    for x, y in [(100.0, 200.0), (1000.0, 2000.0), (1900.0, 3800.0), (300.0, 3500.0)]:
        sigma = float(_varying_sigma(np.array(x), np.array(y)))
        truth = GaussianPsf(sigma, size).compute_kernel_image()
        model = psf.compute_kernel_image(x, y)
        assert np.max(np.abs(model - truth)) < 0.005 * truth.max()
        assert psf.determinant_radius(x, y) == pytest.approx(sigma, rel=0.01)
        image, bbox_img = psf.compute_image(x + 0.3, y - 0.2)
        cx, cy = _centroid(image, bbox_img)
        assert abs(cx - (x + 0.3)) < 0.01 and abs(cy - (y - 0.2)) < 0.01
    assert _round_trip(psf) == psf
    with pytest.raises(PsfError, match="cannot constrain"):
        PixelPsf.fit(stamps[:3], xs[:3], ys[:3], degree=2, bbox=bbox)
    with pytest.raises(PsfError, match="odd size"):
        PixelPsf.fit(stamps[:, :-1, :-1], xs, ys, degree=1, bbox=bbox)
    with pytest.raises(PsfError, match="non-positive total flux"):
        PixelPsf.fit(-stamps, xs, ys, degree=1, bbox=bbox)


def test_pixel_psf_validation() -> None:
    with pytest.raises(PsfError, match="n_terms = 3 for degree 1"):
        PixelPsf(np.ones((2, 5, 5)), degree=1, bbox=Box2I(0, 0, 10, 10))
    with pytest.raises(PsfError, match="odd sizes"):
        PixelPsf(np.ones((1, 4, 4)), degree=0)
    with pytest.raises(PsfError, match="needs bbox"):
        PixelPsf(np.ones((3, 5, 5)), degree=1)


# -- real PSFEx files --------------------------------------------------------------------------------
def _psfex_files(real_data_dir: Path) -> list[Path]:
    root = real_data_dir / "legacypipe_testcases" / "testcase3" / "calib" / "psfex-single"
    files = sorted(root.rglob("*-psfex.fits"))
    assert files, f"no PSFEx files under {root}"
    return files


def test_psfex_real_files_fwhm_matches_survey_ccds(real_data_dir: Path) -> None:
    case = real_data_dir / "legacypipe_testcases" / "testcase3"
    ccds = Table.read(case / "survey-ccds-1.fits.gz")
    survey_fwhm = {(int(r["expnum"]), str(r["ccdname"]).strip()): float(r["fwhm"]) for r in ccds}
    ratios = []
    for path in _psfex_files(real_data_dir):
        row = Table.read(path)[0]
        key = (int(row["expnum"]), str(row["ccdname"]).strip())
        psf = PixelPsf.from_psfex(path)
        assert psf.degree == 2 and psf.basis.shape == (6, 63, 63) and psf.is_spatially_varying
        x, y = 20.0, 25.0  # inside the 41 x 51 cutout the model was shifted to
        kernel = psf.compute_kernel_image(x, y)
        assert kernel.sum() == pytest.approx(1.0)
        assert np.unravel_index(kernel.argmax(), kernel.shape) == (31, 31)
        fwhm = psf.fwhm(x, y)
        ratios.append(fwhm / survey_fwhm[key])
        # Sub-pixel shifts move the centroid by the requested amount.
        base, base_box = psf.compute_image(x, y)
        shifted, shifted_box = psf.compute_image(x + 0.37, y - 0.21)
        (bx, by), (sx, sy) = _centroid(base, base_box), _centroid(shifted, shifted_box)
        assert abs(sx - bx - 0.37) < 0.02 and abs(sy - by + 0.21) < 0.02
        assert 0.9 < psf.compute_aperture_flux(10.0, x, y) < 1.0
    ratios_arr = np.array(ratios)
    # Our half-maximum-area FWHM agrees with the survey's per-CCD seeing to within 10 %.
    assert np.all(np.abs(ratios_arr - 1) < 0.10), ratios_arr
    assert len(ratios) == 8


@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")
def test_psfex_round_trip_and_bad_files(real_data_dir: Path, tmp_path: Path) -> None:
    path = _psfex_files(real_data_dir)[0]
    psf = PixelPsf.from_psfex(path, bbox=Box2I(0, 0, 41, 51))
    with fits.open(path) as hdul:
        assert PixelPsf.from_psfex(hdul[1], bbox=Box2I(0, 0, 41, 51)) == psf
        assert PixelPsf.from_psfex(hdul, ccdname=str(hdul[1].data["ccdname"][0]).strip()).degree == 2
    restored = _round_trip(psf)
    assert restored == psf
    np.testing.assert_array_equal(restored.compute_kernel_image(3.0, 4.0), psf.compute_kernel_image(3.0, 4.0))
    with pytest.raises(FileNotFoundError, match="nope-psfex.fits"):
        PixelPsf.from_psfex(tmp_path / "nope-psfex.fits")
    bad = tmp_path / "bad.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(Table({"a": [1, 2]}))]).writeto(bad)
    with pytest.raises(PsfError, match=r"bad\.fits: table has no PSF_MASK"):
        PixelPsf.from_psfex(bad)
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(PsfError, match="truncated.fits"):
        PixelPsf.from_psfex(truncated)
    with pytest.raises(PsfError, match="matches 0 rows"):
        PixelPsf.from_psfex(path, ccdname="S99")
