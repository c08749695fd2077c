# SPDX-License-Identifier: GPL-3.0-or-later
"""Smoothing and source detection against analytic answers, simulations and the reference code."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from detection_sims import grid_positions, psf_snr_flux, render_gaussian_stars
from scipy import ndimage
from scipy.spatial import cKDTree

from skystack.algorithms.detection import detect_sources, gaussian_kernel_1d, smooth_gaussian
from skystack.algorithms.detection.segmentation import MODE_SIGMA, grow_runs, label_runs, threshold_runs
from skystack.geom import Box2I
from skystack.image import Mask
from skystack.image.footprint import Footprint
from skystack.image.footprint_set import FootprintSet


def all_peaks(footprints: FootprintSet) -> np.ndarray:
    return np.concatenate([fp.peaks for fp in footprints]) if len(footprints) else np.zeros(0)


# -- smoothing ------------------------------------------------------------------------------------
def test_kernel_is_normalised_gaussian() -> None:
    k = gaussian_kernel_1d(1.5)
    assert k.size == 2 * 6 + 1 and k.sum() == pytest.approx(1.0)
    assert k[6] / k[7] == pytest.approx(np.exp(0.5 / 1.5**2))
    with pytest.raises(ValueError, match="positive number of pixels"):
        gaussian_kernel_1d(0.0)


def test_smoothing_matches_scipy_and_is_normalised_at_edges() -> None:
    rng = np.random.default_rng(0)
    img = rng.normal(size=(120, 90)).astype(np.float32)
    out = smooth_gaussian(img, 1.7)
    assert out.image.dtype == np.float32 and out.variance is None
    ref = ndimage.gaussian_filter(img.astype(float), 1.7, truncate=4.0, mode="constant")
    r = 7
    np.testing.assert_allclose(out.image[r:-r, r:-r], ref[r:-r, r:-r], atol=2e-6)
    # a constant image stays constant everywhere, edges included (normalised convolution)
    flat = smooth_gaussian(np.full((40, 33), 7.25), 2.0)
    np.testing.assert_allclose(flat.image, 7.25, rtol=1e-12)


def test_smoothing_skips_bad_and_nan_pixels() -> None:
    img = np.full((60, 70), 3.0)
    img[20:24, 30] = 1e6  # bad pixels with wild values
    img[40, 10] = np.nan
    img[5, 60] = np.inf
    bad = np.zeros(img.shape, bool)
    bad[20:24, 30] = True
    out = smooth_gaussian(img, 1.5, variance=2.0, bad=bad)
    np.testing.assert_allclose(out.image, 3.0, rtol=1e-12)
    # variance: V ΣK² far away, larger where the kernel lost good pixels
    interior = 2.0 * np.sum(out.kernel**2) ** 2
    assert out.variance is not None
    assert out.variance[50, 50] == pytest.approx(interior, rel=1e-10)
    # exact value next to the bad pixels and at a corner: ΣK²wV / (ΣKw)² over the stamp
    k2d = np.outer(out.kernel, out.kernel)
    good = ~(bad | ~np.isfinite(img))
    w = good[22 - 6 : 22 + 7, 30 - 6 : 30 + 7]
    assert out.variance[22, 30] == pytest.approx(2.0 * np.sum(k2d**2 * w) / np.sum(k2d * w) ** 2, rel=1e-10)
    corner = k2d[6:, 6:]
    assert out.variance[0, 0] == pytest.approx(2.0 * np.sum(corner**2) / np.sum(corner) ** 2, rel=1e-10)
    assert out.variance[0, 0] > 2.5 * interior  # a quarter of the kernel: ~3× the variance
    # a region of bad pixels larger than the kernel has no estimate
    bad[:, :] = False
    bad[:, 20:40] = True
    hole = smooth_gaussian(img, 1.0, bad=bad)
    assert np.isnan(hole.image[30, 30]) and np.isfinite(hole.image[30, 10])


def test_smoothed_variance_matches_monte_carlo() -> None:
    rng = np.random.default_rng(1)
    var = np.where(np.arange(200)[None, :] < 100, 4.0, 25.0) * np.ones((200, 1))
    img = rng.normal(size=(200, 200)) * np.sqrt(var)
    out = smooth_gaussian(img, 2.0, variance=var)
    assert out.variance is not None
    left = out.image[20:180, 10:85] / np.sqrt(out.variance[20:180, 10:85])
    right = out.image[20:180, 115:190] / np.sqrt(out.variance[20:180, 115:190])
    # smoothed pixels are correlated (~4πσ² pixels per independent value): ±10 % suffices
    assert np.std(left) == pytest.approx(1.0, abs=0.1)
    assert np.std(right) == pytest.approx(1.0, abs=0.1)


def test_smoothing_input_errors() -> None:
    with pytest.raises(ValueError, match="floating-point"):
        smooth_gaussian(np.ones((5, 5), dtype=int), 1.0)
    with pytest.raises(ValueError, match="2-d"):
        smooth_gaussian(np.ones(5), 1.0)
    with pytest.raises(ValueError, match="variance shape"):
        smooth_gaussian(np.ones((5, 5)), 1.0, variance=np.ones((4, 5)))
    with pytest.raises(ValueError, match="bad-pixel mask shape"):
        smooth_gaussian(np.ones((5, 5)), 1.0, bad=np.ones((5, 4), bool))


# -- equivalence with the reference FootprintSet code ---------------------------------------------
def test_same_footprints_and_peaks_as_footprint_set() -> None:
    rng = np.random.default_rng(3)
    img = rng.normal(size=(300, 400)).astype(np.float32)
    img[50, 60] += 80
    img[100:103, 200:204] = 30  # a plateau
    thr = 0.3  # about 2 σ of the smoothed noise: hundreds of irregular footprints
    res = detect_sources(
        img, 1.0, psf_sigma=1.5, threshold=thr, threshold_type="value", grow=0, return_smoothed=True
    )
    assert res.smoothed is not None
    ref = FootprintSet.from_threshold(res.smoothed, thr)
    assert len(res.footprints) == len(ref) > 300
    for ours, theirs in zip(res.footprints, ref, strict=True):
        np.testing.assert_array_equal(ours.spans, theirs.spans)
        np.testing.assert_array_equal(ours.peaks, theirs.peaks)
    for grow in (1.0, 2.4, 3.3):
        grown = detect_sources(img, 1.0, psf_sigma=1.5, threshold=thr, threshold_type="value", grow=grow)
        ref_grown = ref.grown(grown.grow_radius)
        assert len(grown.footprints) == len(ref_grown) < len(ref)
        for ours, theirs in zip(grown.footprints, ref_grown, strict=True):
            np.testing.assert_array_equal(ours.spans, theirs.spans)
            assert sorted(ours.peaks[["x", "y"]].tolist()) == sorted(theirs.peaks[["x", "y"]].tolist())
            assert np.all(np.diff(ours.peaks["value"]) <= 0)  # brightest first


def test_negative_detection_matches_footprint_set() -> None:
    rng = np.random.default_rng(4)
    img = rng.normal(size=(150, 160))
    res = detect_sources(
        img,
        1.0,
        psf_sigma=1.2,
        threshold=0.4,
        threshold_type="value",
        grow=0,
        negative=True,
        return_smoothed=True,
    )
    assert res.smoothed is not None
    pos = FootprintSet.from_threshold(res.smoothed, 0.4)
    neg = FootprintSet.from_threshold(res.smoothed, 0.4, negative=True)
    assert (res.n_positive, res.n_negative) == (len(pos), len(neg))
    for ours, theirs in zip(res.negative, neg, strict=True):
        np.testing.assert_array_equal(ours.spans, theirs.spans)
        np.testing.assert_array_equal(ours.peaks[["x", "y", "value"]], theirs.peaks[["x", "y", "value"]])
    ids = all_peaks(res.footprints)["id"]
    np.testing.assert_array_equal(ids, np.arange(1, ids.size + 1))


def test_segmentation_primitives() -> None:
    mask = np.zeros((8, 10), bool)
    mask[1, 1:4] = True
    mask[2, 4] = True  # touches the first run diagonally: one component
    mask[5, 0] = mask[5, 2] = True  # two separate pixels
    mask[7, 9] = True
    ys, x0s, x1s = threshold_runs(mask.astype(np.uint8), mode=2)
    labels, count = label_runs(ys, x0s, x1s)
    ref, ref_count = ndimage.label(mask, structure=np.ones((3, 3)))
    assert count == ref_count == 4
    np.testing.assert_array_equal(labels, ref[ys, x0s])
    gy, g0, g1 = grow_runs(mask.shape, ys[-1:], x0s[-1:], x1s[-1:], 2)  # the corner pixel, radius 2
    grown = Footprint(gy, g0, g1)
    expected = Footprint.from_mask_array(mask & False).merged(Footprint([7], [9], [9])).dilated(2)
    assert grown == expected.clipped_to(Box2I.from_shape(mask.shape))
    with pytest.raises(ValueError, match="variance"):
        threshold_runs(np.ones((3, 3)), 1.0, mode=MODE_SIGMA)


# -- detection on simulations ---------------------------------------------------------------------
def completeness(snr: float, seed: int, sigma: float = 1.5, noise: float = 5.0) -> float:
    shape = (512, 512)
    rng = np.random.default_rng(seed)
    x, y = grid_positions(shape, 16, rng)
    flux = psf_snr_flux(snr, sigma, noise)
    img = render_gaussian_stars(shape, x, y, np.full(x.size, flux), sigma) + rng.normal(0, noise, shape)
    res = detect_sources(img.astype(np.float32), noise**2, psf_sigma=sigma, threshold=5.0, grow=0)
    peaks = all_peaks(res.footprints)
    dist, _ = cKDTree(np.c_[peaks["x"], peaks["y"]]).query(np.c_[x, y])
    return float(np.mean(dist < 2.0))


def test_completeness_50_percent_below_snr_6() -> None:
    snrs = np.array([4.0, 5.0, 6.0, 7.0])
    comp = np.array([completeness(s, seed) for seed, s in enumerate(snrs)])
    assert np.all(np.diff(comp) > 0)
    assert comp[0] < 0.4 and comp[-1] > 0.95  # threshold 5: faint ones missed, bright ones found
    snr50 = float(np.interp(0.5, comp, snrs))
    assert 4.5 <= snr50 <= 6.0


def euler_characteristic_count(u: float, sigma: float, npix: int) -> float:
    """Expected number of excursion-set components above ``u`` σ of white noise smoothed by a
    Gaussian of ``sigma`` (Adler's Euler-characteristic density, 2-d, λ₂ = 1/(2σ²))."""
    return npix * (1 / (2 * sigma**2)) / (2 * np.pi) ** 1.5 * u * np.exp(-u * u / 2)


def test_false_detections_on_pure_noise_match_gaussian_expectation() -> None:
    sigma, n_images = 1.5, 6
    counts_35, counts_5 = [], []
    for seed in range(n_images):
        rng = np.random.default_rng(100 + seed)
        var = np.full((1024, 1024), 9.0, dtype=np.float32)
        img = rng.normal(0, 3.0, var.shape).astype(np.float32)
        counts_35.append(len(detect_sources(img, var, psf_sigma=sigma, threshold=3.5, grow=0).footprints))
        counts_5.append(len(detect_sources(img, var, psf_sigma=sigma, threshold=5.0).footprints))
    expected = euler_characteristic_count(3.5, sigma, n_images * 1024 * 1024)  # ≈ 680
    # The pixel lattice resolves fewer components than the continuum formula: 0.80 ± 0.02 of it
    # over 20 Mpix. Here ~545 are expected, ± 23 (Poisson), so 0.70–0.90 is a ±3σ band.
    assert 0.70 * expected < sum(counts_35) < 0.90 * expected
    assert max(counts_5) <= 3  # expectation 0.28 per 1k × 1k


def test_bright_source_footprint_size_and_peak() -> None:
    sigma, noise, amp_flux = 1.5, 1.0, 5000.0
    shape = (101, 101)
    img = render_gaussian_stars(shape, np.array([50.0]), np.array([50.0]), np.array([amp_flux]), sigma)
    var = np.full(shape, noise**2)
    res = detect_sources(img, var, psf_sigma=sigma, threshold=5.0, grow=0, return_smoothed=True)
    assert len(res.footprints) == 1
    fp = res.footprints[0]
    assert len(fp.peaks) == 1 and (fp.peaks["x"][0], fp.peaks["y"][0]) == (50, 50)
    # smoothed profile: a Gaussian of σ√2 and peak F/(4πσ²) (pixel integration widens it slightly)
    peak = amp_flux / (4 * np.pi * sigma**2)
    assert fp.peaks["value"][0] == pytest.approx(peak, rel=0.05)
    sigma_s = noise * np.sum(gaussian_kernel_1d(sigma) ** 2)
    assert res.sigma == pytest.approx(sigma_s, rel=1e-6)
    r2 = 2 * (2 * sigma**2 + 1 / 6) * np.log(peak / (5.0 * sigma_s))
    assert fp.area == pytest.approx(np.pi * r2, rel=0.06)
    grown = detect_sources(img, var, psf_sigma=sigma, threshold=5.0, grow=2.4).footprints[0]
    # grown by round(2.4 σ) = 4 pixels: exactly the disc dilation of the threshold footprint
    dilated = fp.dilated(4)
    np.testing.assert_array_equal(grown.spans, dilated.spans)
    assert grown.area == pytest.approx(np.pi * (np.sqrt(r2) + 4) ** 2, rel=0.1)


def test_threshold_types_agree_for_uniform_noise() -> None:
    rng = np.random.default_rng(7)
    shape = (256, 256)
    x, y = grid_positions(shape, 32, rng)
    img = render_gaussian_stars(shape, x, y, np.full(x.size, 400.0), 1.5) + rng.normal(0, 2.0, shape)
    stdev = detect_sources(img, 4.0, psf_sigma=1.5)
    variance = detect_sources(img, np.full(shape, 4.0), psf_sigma=1.5, threshold_type="variance")
    value = detect_sources(img, None, psf_sigma=1.5, threshold=stdev.threshold_value, threshold_type="value")
    assert len(stdev.footprints) == len(variance.footprints) == len(value.footprints) == x.size
    assert stdev.threshold_value == pytest.approx(variance.threshold_value, rel=1e-6)
    assert np.isnan(value.sigma)


def test_mask_planes_bad_pixels_and_min_pixels() -> None:
    sigma = 1.5
    shape = (80, 120)
    xs, ys = np.array([20.0, 60.0, 100.0]), np.array([40.0, 40.0, 40.0])
    img = render_gaussian_stars(shape, xs, ys, np.array([500.0, -500.0, 500.0]), sigma)  # one negative
    mask = Mask.from_bbox(Box2I(10, 20, shape[1], shape[0]))
    bad = np.zeros(shape, bool)
    bad[30:50, 95:106] = True  # hide the third star
    mask.set_plane("BAD", bad)
    res = detect_sources(img, 1.0, mask, psf_sigma=sigma, negative=True)
    assert (res.n_positive, res.n_negative) == (1, 1)
    pos, neg = res.positive[0], res.negative[0]
    assert (pos.peaks["x"][0], pos.peaks["y"][0]) == (20 + 10, 40 + 20)  # mask xy0 applied
    assert (neg.peaks["x"][0], neg.peaks["y"][0]) == (60 + 10, 40 + 20) and neg.peaks["value"][0] < 0
    detected = mask.get_plane("DETECTED")
    assert detected.sum() == pos.area and mask.get_plane("DETECTED_NEGATIVE").sum() == neg.area
    assert not np.any(detected & bad)
    # a stale DETECTED bit is cleared on the next run
    mask.set_plane("DETECTED", bad)
    detect_sources(img, 1.0, mask, psf_sigma=sigma)
    assert not np.any(mask.get_plane("DETECTED") & bad)
    # min_pixels drops small regions (before growing)
    small = np.zeros((40, 40))
    small[20, 20] = 60.0  # one-pixel spike: its smoothed footprint is small
    n_all = len(detect_sources(small, 1.0, psf_sigma=1.0, threshold=5.0).footprints)
    area = detect_sources(small, 1.0, psf_sigma=1.0, threshold=5.0, grow=0).footprints[0].area
    assert n_all == 1
    assert len(detect_sources(small, 1.0, psf_sigma=1.0, threshold=5.0, min_pixels=area + 1).footprints) == 0
    # plain integer mask with plane names, and a boolean mask
    int_mask = np.where(bad, 1, 0).astype(np.int32)  # bit 0 is BAD in the default planes
    assert detect_sources(img, 1.0, int_mask, psf_sigma=sigma).n_positive == 1
    assert detect_sources(img, 1.0, bad, psf_sigma=sigma).n_positive == 1


def test_zero_variance_regions_are_not_detected() -> None:
    rng = np.random.default_rng(9)
    img = rng.normal(0, 1, (60, 60))
    var = np.ones_like(img)
    img[:, 30:] = 0.0  # no data: zeros with zero variance
    var[:, 30:] = 0.0
    img[30, 15] += 100.0
    res = detect_sources(img, var, psf_sigma=1.5, grow=0)
    assert len(res.footprints) == 1 and res.footprints[0].bbox.max_x < 30
    with pytest.raises(ValueError, match="needs a positive variance"):
        detect_sources(img, np.zeros_like(img), psf_sigma=1.5, threshold_type="variance")


def test_detection_input_errors() -> None:
    img = np.zeros((20, 20))
    with pytest.raises(ValueError, match="threshold_type"):
        detect_sources(img, 1.0, psf_sigma=1.0, threshold_type="sigma")
    with pytest.raises(ValueError, match="needs the variance"):
        detect_sources(img, None, psf_sigma=1.0)
    with pytest.raises(ValueError, match="psf_sigma"):
        detect_sources(img, 1.0, psf_sigma=-1.0)
    with pytest.raises(ValueError, match="variance shape"):
        detect_sources(img, np.ones((3, 3)), psf_sigma=1.0)
    with pytest.raises(ValueError, match="mask shape"):
        detect_sources(img, 1.0, np.zeros((3, 3), bool), psf_sigma=1.0)
    with pytest.raises(ValueError, match="Unknown mask plane"):
        detect_sources(img, 1.0, np.zeros((20, 20), np.int32), psf_sigma=1.0, bad_mask_bits=("NOPE",))
    with pytest.raises(ValueError, match="floating-point"):
        detect_sources(np.zeros((20, 20), int), 1.0, psf_sigma=1.0)
    with pytest.raises(ValueError, match="min_pixels"):
        detect_sources(img, 1.0, psf_sigma=1.0, min_pixels=0)


# -- real data ------------------------------------------------------------------------------------
def test_real_image_recovers_sextractor_sources(real_data_dir: Path) -> None:
    """ESO NTT/EMMI frame from sep's test data: our detections include SExtractor's bright sources."""
    folder = real_data_dir / "sep_ntt_emmi"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)  # the header's non-standard ESO-LOG cards
        image, back, rms = (
            fits.getdata(folder / f"{name}.fits").astype(np.float32) for name in ("image", "back", "rms")
        )
    catalog = np.loadtxt(folder / "image.cat", comments="#")
    columns = {  # "#  16 FLUX_AUTO ..." -> FLUX_AUTO: 15
        line.split()[2]: int(line.split()[1]) - 1
        for line in (folder / "image.cat").read_text().splitlines()
        if line.startswith("#")
    }
    cat_x = catalog[:, columns["X_IMAGE"]] - 1
    cat_y = catalog[:, columns["Y_IMAGE"]] - 1
    flux, flux_err = catalog[:, columns["FLUX_AUTO"]], catalog[:, columns["FLUXERR_AUTO"]]
    cat_snr = np.where(flux_err > 0, flux / np.maximum(flux_err, 1e-30), 0.0)
    res = detect_sources(image - back, rms**2, psf_sigma=1.5, threshold=5.0)
    peaks = all_peaks(res.footprints)
    # every bright SExtractor source lies in one of our footprints, at a peak within 2 pixels
    bright = cat_snr > 10
    assert bright.sum() >= 30
    dist, _ = cKDTree(np.c_[peaks["x"], peaks["y"]]).query(np.c_[cat_x[bright], cat_y[bright]])
    assert np.mean(dist < 2.0) >= 0.9
    assert 0.5 * len(cat_x) < len(res.footprints) < 2.0 * len(cat_x)
