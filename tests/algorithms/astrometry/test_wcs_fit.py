# SPDX-License-Identifier: GPL-3.0-or-later
"""TAN-SIP WCS fits: exact recovery of known WCSs and accuracy against the simulator's true WCS."""

from __future__ import annotations

import numpy as np
import pytest
from astrometry_scenes import make_scene
from astropy.wcs import WCS, Sip

from skystack.algorithms.astrometry import fit_tan_sip_wcs, gnomonic_project, match_pattern
from skystack.geom import Angle, Box2I, SpherePoint, make_cd_matrix
from skystack.geom.wcs import SkyWcs
from skystack.instruments.simcam import get_simcam
from skystack.sim.survey import detector_wcs

BOX = Box2I(0, 0, 4096, 4096)


def _sky_error_mas(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray, dec2: np.ndarray) -> np.ndarray:
    ra0, dec0 = float(np.mean(ra2)), float(np.mean(dec2))
    x1, y1 = gnomonic_project(ra1, dec1, ra0, dec0)
    x2, y2 = gnomonic_project(ra2, dec2, ra0, dec0)
    return np.asarray(np.hypot(x1 - x2, y1 - y2) * 3.6e6)


def _grid(box: Box2I, n: int = 25) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.linspace(box.min_x, box.max_x, n), np.linspace(box.min_y, box.max_y, n))
    return gx.ravel(), gy.ravel()


def _known_sip_wcs() -> SkyWcs:
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    w.wcs.crval = [210.3, -33.2]
    w.wcs.crpix = [2048.5, 2048.5]  # 0-based 2047.5: the centre of BOX
    w.wcs.cd = make_cd_matrix(Angle.from_arcseconds(0.2), Angle.from_degrees(23.0))
    a = np.zeros((4, 4))
    b = np.zeros((4, 4))
    a[2, 0], a[1, 1], a[0, 2], a[3, 0], a[1, 2] = 2e-6, -1e-6, 3e-7, 4e-10, 4e-10
    b[0, 2], b[1, 1], b[2, 0], b[0, 3], b[2, 1] = -1.5e-6, 5e-7, 2e-7, 4e-10, 4e-10
    w.sip = Sip(a, b, None, None, w.wcs.crpix)
    w.wcs.set()
    return SkyWcs(w)


def test_exact_tan_sip_is_recovered() -> None:
    truth = _known_sip_wcs()
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 4095, 300), rng.uniform(0, 4095, 300)
    ra, dec = truth.pixel_to_sky(x, y)
    fit = fit_tan_sip_wcs(x, y, ra, dec, bbox=BOX, sip_order=3)
    got, want = fit.wcs.astropy_wcs, truth.astropy_wcs
    assert fit.n_used == 300 and fit.n_rejected == 0
    assert fit.rms < 1e-3  # mas
    np.testing.assert_allclose(got.wcs.crval, want.wcs.crval, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.wcs.crpix, want.wcs.crpix, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.wcs.cd, want.wcs.cd, rtol=1e-8, atol=0)
    np.testing.assert_allclose(got.sip.a, want.sip.a, rtol=0, atol=1e-14)
    np.testing.assert_allclose(got.sip.b, want.sip.b, rtol=0, atol=1e-14)
    gx, gy = _grid(BOX)
    assert _sky_error_mas(*fit.wcs.pixel_to_sky(gx, gy), *truth.pixel_to_sky(gx, gy)).max() < 1e-3
    assert [str(c) for c in got.wcs.ctype] == ["RA---TAN-SIP", "DEC--TAN-SIP"]


def test_pure_tan_with_order_one() -> None:
    crval = SpherePoint.from_degrees(359.99, 0.5)  # RA wrap-around
    cd = make_cd_matrix(Angle.from_arcseconds(0.26), Angle.from_degrees(-95.0))
    truth = SkyWcs.from_tan(crval, BOX.center, cd)
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 4095, 50), rng.uniform(0, 4095, 50)
    fit = fit_tan_sip_wcs(x, y, *truth.pixel_to_sky(x, y), bbox=BOX, sip_order=1)
    w = fit.wcs.astropy_wcs
    assert w.sip is None and [str(c) for c in w.wcs.ctype] == ["RA---TAN", "DEC--TAN"]
    assert fit.sip_order == 0 and fit.inverse_order == 0
    assert fit.wcs.sky_origin.separation(crval).arcseconds < 1e-6
    np.testing.assert_allclose(w.wcs.cd, cd, rtol=1e-9)


def test_simulator_true_wcs_is_reproduced_by_a_cubic_fit() -> None:
    """The simulator's distortion is a cubic about the optical axis; refitted about the detector
    centre (another tangent point and CRPIX) it stays a cubic to well below a milliarcsecond."""
    cam = get_simcam("SimCamBench").camera
    det = cam.detectors[2]
    truth = detector_wcs(cam, det, 150.0, 2.0, 33.0, True)
    gx, gy = _grid(det.bbox, 20)
    fit = fit_tan_sip_wcs(gx, gy, *truth.pixel_to_sky(gx, gy), bbox=det.bbox, sip_order=3)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 4095, 2000), rng.uniform(0, 4095, 2000)
    assert _sky_error_mas(*fit.wcs.pixel_to_sky(x, y), *truth.pixel_to_sky(x, y)).max() < 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matched_simulated_detector_is_within_10_mas_of_truth(seed: int) -> None:
    """Acceptance: telescope WCS (3″, 0.2° errors) → match → TAN-SIP fit; bright stars ≤ 10 mas."""
    scene = make_scene(seed)
    match = match_pattern(
        scene.source_x,
        scene.source_y,
        scene.ref_ra,
        scene.ref_dec,
        scene.approx_wcs,
        source_flux=scene.source_flux,
        ref_flux=scene.ref_flux,
        bbox=scene.bbox,
    )
    si, ri = match.source_index, match.ref_index
    fit = fit_tan_sip_wcs(
        scene.source_x[si], scene.source_y[si], scene.ref_ra[ri], scene.ref_dec[ri], bbox=scene.bbox
    )
    assert fit.n_used >= 0.97 * si.size
    # Residuals against the references: their 5 mas per axis and the centroid noise.
    assert 6.0 < fit.rms < 10.0
    bright = (scene.source_mag[si] < 19.0) & (scene.source_ref[si] == ri)
    assert bright.sum() > 100
    ra, dec = fit.wcs.pixel_to_sky(scene.source_x[si][bright], scene.source_y[si][bright])
    err = _sky_error_mas(ra, dec, scene.ref_true_ra[ri][bright], scene.ref_true_dec[ri][bright])
    assert np.sqrt(np.mean(err**2)) <= 10.0
    # The whole detector, against the true WCS.
    gx, gy = _grid(scene.bbox)
    grid_err = _sky_error_mas(*fit.wcs.pixel_to_sky(gx, gy), *scene.true_wcs.pixel_to_sky(gx, gy))
    assert np.sqrt(np.mean(grid_err**2)) <= 5.0 and grid_err.max() <= 15.0


def test_wrong_matches_are_clipped() -> None:
    scene = make_scene(4, n_refs=300)
    common = np.flatnonzero(scene.source_ref >= 0)
    si, ri = common, scene.source_ref[common]
    x, y = scene.source_x[si].copy(), scene.source_y[si].copy()
    rng = np.random.default_rng(4)
    wrong = rng.choice(si.size, si.size // 20, replace=False)  # 5 % mismatches, 0.4–2″ off
    x[wrong] += rng.choice([-1, 1], wrong.size) * rng.uniform(2.0, 10.0, wrong.size)
    fit = fit_tan_sip_wcs(x, y, scene.ref_ra[ri], scene.ref_dec[ri], bbox=scene.bbox)
    assert not fit.used[wrong].any()
    assert fit.n_rejected < wrong.size + 0.02 * si.size
    single = fit_tan_sip_wcs(x, y, scene.ref_ra[ri], scene.ref_dec[ri], bbox=scene.bbox, max_iter=1)
    assert single.n_rejected == 0 and single.n_iter == 1 and single.rms > 3 * fit.rms
    gx, gy = _grid(scene.bbox)
    grid_err = _sky_error_mas(*fit.wcs.pixel_to_sky(gx, gy), *scene.true_wcs.pixel_to_sky(gx, gy))
    assert np.sqrt(np.mean(grid_err**2)) <= 5.0


def test_fixed_crval_and_weights() -> None:
    truth = _known_sip_wcs()
    rng = np.random.default_rng(5)
    x, y = rng.uniform(0, 4095, 400), rng.uniform(0, 4095, 400)
    ra, dec = truth.pixel_to_sky(x, y)
    noisy = np.arange(400) % 2 == 0  # half the points with 5× larger errors (not clipped)
    sigma = np.where(noisy, 0.05, 0.01) / 3600.0
    dec_obs = dec + rng.normal(0, 1, 400) * sigma
    ra_obs = ra + rng.normal(0, 1, 400) * sigma / np.cos(np.radians(dec))
    crval = truth.sky_origin
    weighted = fit_tan_sip_wcs(
        x, y, ra_obs, dec_obs, bbox=BOX, crval=crval, fit_crval=False, weights=sigma**-2
    )
    plain = fit_tan_sip_wcs(x, y, ra_obs, dec_obs, bbox=BOX, crval=crval, fit_crval=False)
    assert weighted.wcs.sky_origin == crval  # held fixed, exactly
    gx, gy = _grid(BOX)
    err_w = _sky_error_mas(*weighted.wcs.pixel_to_sky(gx, gy), *truth.pixel_to_sky(gx, gy))
    err_p = _sky_error_mas(*plain.wcs.pixel_to_sky(gx, gy), *truth.pixel_to_sky(gx, gy))
    rms_w, rms_p = np.sqrt(np.mean(err_w**2)), np.sqrt(np.mean(err_p**2))
    assert weighted.n_rejected < 10  # normalised residuals are Gaussian: hardly any clipped
    assert rms_w < 0.6 * rms_p


def test_inverse_polynomials_and_header_round_trip() -> None:
    scene = make_scene(6, n_refs=300)
    common = np.flatnonzero(scene.source_ref >= 0)
    ri = scene.source_ref[common]
    fit = fit_tan_sip_wcs(
        scene.source_x[common], scene.source_y[common], scene.ref_ra[ri], scene.ref_dec[ri], bbox=scene.bbox
    )
    assert fit.sip_order == 3 and fit.inverse_order == 4
    assert fit.inverse_max_error < 0.01  # pixels, AP/BP alone
    gx, gy = _grid(scene.bbox)
    ra, dec = fit.wcs.pixel_to_sky(gx, gy)
    bx, by = fit.wcs.sky_to_pixel(ra, dec)
    assert np.max(np.hypot(bx - gx, by - gy)) < 1e-8
    # astropy's own inverse (which starts from AP/BP) agrees, and the FITS header round-trips.
    ax, ay = fit.wcs.astropy_wcs.all_world2pix(ra, dec, 0)
    assert np.max(np.hypot(ax - gx, ay - gy)) < 1e-6
    assert SkyWcs.from_fits_header(fit.wcs.to_fits_header()) == fit.wcs


def test_bad_input_is_rejected() -> None:
    x = np.arange(20.0)
    with pytest.raises(ValueError, match="same length"):
        fit_tan_sip_wcs(x, x, x[:-1], x)
    with pytest.raises(ValueError, match="non-finite"):
        fit_tan_sip_wcs(np.r_[x[:-1], np.nan], x, x, x)
    with pytest.raises(ValueError, match="lower sip_order"):
        fit_tan_sip_wcs(x[:8], x[:8], x[:8], x[:8], sip_order=3)
    with pytest.raises(ValueError, match="sip_order must be"):
        fit_tan_sip_wcs(x, x, x, x, sip_order=9)
    with pytest.raises(ValueError, match="needs the fixed tangent point"):
        fit_tan_sip_wcs(x, x, x, x, fit_crval=False)
    with pytest.raises(ValueError, match="weights must be positive"):
        fit_tan_sip_wcs(x, x, x, x, weights=-np.ones(20))
