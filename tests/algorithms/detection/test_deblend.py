# SPDX-License-Identifier: GPL-3.0-or-later
"""Deblending: children's fluxes against simulator truth, exact flux conservation, peak handling."""

from __future__ import annotations

import numpy as np
import pytest
from detection_sims import gaussian_psf_stamp, render_gaussian_stars

from skystack.algorithms.detection import deblend, deblend_footprint, detect_sources, select_peaks
from skystack.algorithms.detection.deblend import _make_monotonic
from skystack.image.footprint import PEAK_DTYPE, Footprint, HeavyFootprint
from skystack.image.footprint_set import FootprintSet

SIGMA = 1.5
SHAPE = (80, 80)


def blend(
    separation: float, ratio: float, seed: int, noise: bool = True, flux: float = 20000.0
) -> tuple[np.ndarray, np.ndarray, Footprint, list[float]]:
    """Two Gaussian stars ``separation`` PSF sigmas apart, random sub-pixel centres and angle.

    Returns the image, its variance, the parent footprint (pixels where the noise-free model
    exceeds 3σ of the sky, with the two true peaks) and each star's true flux inside it.
    """
    rng = np.random.default_rng(seed)
    x1, y1 = 40 + rng.uniform(-0.5, 0.5, 2)
    angle = rng.uniform(0, np.pi)
    x2, y2 = x1 + separation * SIGMA * np.cos(angle), y1 + separation * SIGMA * np.sin(angle)
    fluxes = (flux, flux * ratio)
    models = [
        render_gaussian_stars(SHAPE, np.array([x]), np.array([y]), np.array([f]), SIGMA)
        for x, y, f in ((x1, y1, fluxes[0]), (x2, y2, fluxes[1]))
    ]
    variance = 25.0 + models[0] + models[1]
    image = models[0] + models[1] + (rng.normal(size=SHAPE) * np.sqrt(variance) if noise else 0.0)
    parent = Footprint.from_mask_array(models[0] + models[1] > 15.0)
    for k, (x, y) in enumerate(((x1, y1), (x2, y2))):
        parent.add_peak(int(np.floor(x + 0.5)), int(np.floor(y + 0.5)), fluxes[k], k + 1)
    inside = parent.to_mask_array(parent.bbox)
    truth = [float(m[parent.bbox.slices()][inside].sum()) for m in models]
    return image, variance, parent, truth


def child_sum(children: list[HeavyFootprint], shape: tuple[int, int]) -> np.ndarray:
    total = np.zeros(shape)
    for child in children:
        child.add_to(total)
    return total


@pytest.mark.parametrize("separation", [2.0, 2.5, 3.0])
@pytest.mark.parametrize("ratio", [1.0, 0.5])
def test_psf_constrained_children_fluxes_match_truth(separation: float, ratio: float) -> None:
    psf = gaussian_psf_stamp(SIGMA, 8)
    errors: list[list[float]] = []
    point_like: list[bool] = []
    for seed in range(12):
        image, variance, parent, truth = blend(separation, ratio, seed)
        family = deblend(
            image, FootprintSet([parent], parent.bbox), variance=variance, psf_image=psf, xy0=(0, 0)
        )[0]
        assert family.is_blended
        point_like += family.point_like
        children = family.children
        assert [c.peaks["id"][0] for c in children] == [1, 2]  # brightest first, each its own peak
        errors.append([c.image_values.sum() / t - 1 for c, t in zip(children, truth, strict=True)])
        # children sum to the parent image on every parent pixel (float64 rounding only)
        inside = parent.to_mask_array(parent.bbox)
        total = child_sum(children, SHAPE)[parent.bbox.slices()]
        np.testing.assert_allclose(total[inside], image[parent.bbox.slices()][inside], rtol=1e-12, atol=1e-9)
        assert np.all(total[~inside] == 0)
    # the PSF fit's reduced χ² < 1.5 over ~30 pixels: a true star fails by chance a few % of the time
    assert np.mean(point_like) >= 0.9
    errors_arr = np.abs(np.array(errors))
    # S/N ≈ 100–150 per star: a few per cent per blend, no bias
    assert errors_arr.max() < 0.07
    assert np.abs(np.mean(errors, axis=0)).max() < 0.015


def test_symmetric_templates_alone_split_noise_free_blend() -> None:
    errors = []
    for seed in range(10):
        image, _, parent, truth = blend(3.0, 1.0, seed, noise=False)
        children = deblend_footprint(image, parent)
        errors.append([c.image_values.sum() / t - 1 for c, t in zip(children, truth, strict=True)])
    errors_arr = np.abs(np.array(errors))
    assert errors_arr.max() < 0.06 and errors_arr.mean() < 0.03


def test_children_sum_to_parent_with_noise_and_stray_flux() -> None:
    image, variance, parent, _ = blend(2.5, 0.3, 5, flux=3000.0)
    parent = parent.dilated(3)  # wings where the symmetric templates vanish: stray flux
    parent.add_peak(40, 45, 0.0, 3)
    children = deblend_footprint(image, parent, variance=variance, min_peak_separation=0.5)
    assert len(children) == 3
    inside = parent.to_mask_array(parent.bbox)
    total = child_sum(children, SHAPE)[parent.bbox.slices()]
    np.testing.assert_allclose(total[inside], image[parent.bbox.slices()][inside], rtol=1e-12, atol=1e-9)
    for child in children:  # every child lies within the parent
        xs, ys = child.pixel_coordinates()
        assert parent.contains(xs, ys).all() and len(child.peaks) == 1


def test_single_peak_and_close_peaks_are_not_deblended() -> None:
    image, _, parent, _ = blend(3.0, 1.0, 0)
    single = Footprint(parent.span_y, parent.span_x0, parent.span_x1, parent.peaks[:1])
    assert deblend_footprint(image, single) == []
    close = Footprint(parent.span_y, parent.span_x0, parent.span_x1)
    x, y = int(parent.peaks["x"][0]), int(parent.peaks["y"][0])
    close.add_peak(x, y, 100.0, 1)
    close.add_peak(x + 1, y + 1, 90.0, 2)  # 1.4 px away: a noise peak of the same star
    assert deblend_footprint(image, close) == []
    assert len(deblend_footprint(image, close, min_peak_separation=1.0)) == 2
    families = deblend(image, FootprintSet([single, close], parent.bbox.grown(5)), xy0=(0, 0))
    assert [f.is_blended for f in families] == [False, False] and families[1].n_dropped_peaks == 1


def test_max_children_keeps_brightest_and_conserves_flux() -> None:
    xs = np.array([20.0, 28.0, 36.0, 44.0, 52.0])  # 5.3σ apart: resolved peaks, one footprint
    fluxes = np.array([2000.0, 5000.0, 3000.0, 4000.0, 2500.0])
    image = render_gaussian_stars((40, 72), xs, np.full(5, 20.0), fluxes, SIGMA)
    res = detect_sources(image, 1.0, psf_sigma=SIGMA, threshold=5.0)
    assert len(res.footprints) == 1 and len(res.footprints[0].peaks) == 5
    parent = res.footprints[0]
    children = deblend_footprint(image, parent, max_children=3)
    assert sorted(int(c.peaks["x"][0]) for c in children) == [28, 36, 44]
    total = child_sum(children, image.shape)
    inside = parent.to_mask_array(res.footprints.region)
    np.testing.assert_allclose(total[inside], image[inside], rtol=1e-12, atol=1e-9)
    assert len(deblend_footprint(image, parent, max_children=0)) == 5


def test_select_peaks_merges_and_limits() -> None:
    peaks = np.zeros(4, dtype=PEAK_DTYPE)
    peaks["x"] = [0, 1, 10, 20]
    peaks["y"] = [0, 0, 0, 0]
    peaks["value"] = [5.0, 9.0, 3.0, 7.0]
    np.testing.assert_array_equal(select_peaks(peaks, 2.0, 0), [1, 3, 2])  # peak 0 merged into 1
    np.testing.assert_array_equal(select_peaks(peaks, 2.0, 2), [1, 3])
    np.testing.assert_array_equal(select_peaks(peaks, 0.5, 0), [1, 3, 0, 2])


def test_monotonic_templates_do_not_rise_outwards() -> None:
    rng = np.random.default_rng(0)
    template = rng.uniform(0, 1, (21, 25))
    cy, cx = 8, 13
    _make_monotonic(template, cy, cx)
    yy, xx = np.mgrid[0:21, 0:25]
    dy, dx = yy - cy, xx - cx
    d = np.maximum(np.abs(dy), np.abs(dx))
    ring = d > 0
    sy = np.where(ring, np.sign(dy) * np.floor(np.abs(dy) / np.maximum(d, 1) + 0.5), 0).astype(int)
    sx = np.where(ring, np.sign(dx) * np.floor(np.abs(dx) / np.maximum(d, 1) + 0.5), 0).astype(int)
    inner = template[yy - sy, xx - sx]
    assert np.all(template[ring] <= inner[ring])
    assert np.all(template[ring] <= template[cy, cx])


def test_detect_then_deblend_resolved_pair() -> None:
    """End to end: two stars 4σ apart are found as one footprint with two peaks and split."""
    image, variance, _, _ = blend(4.0, 0.5, 3)
    res = detect_sources(image, variance, psf_sigma=SIGMA)
    families = deblend(image, res.footprints, variance=variance, psf_image=gaussian_psf_stamp(SIGMA, 8))
    blended = [f for f in families if f.is_blended]
    assert len(blended) == 1 and len(blended[0].children) == 2
    fluxes = sorted(c.image_values.sum() for c in blended[0].children)
    assert fluxes[1] / fluxes[0] == pytest.approx(2.0, rel=0.06)


def test_deblend_input_errors() -> None:
    image, variance, parent, _ = blend(3.0, 1.0, 0)
    with pytest.raises(ValueError, match="needs the variance"):
        deblend_footprint(image, parent, psf_image=gaussian_psf_stamp(SIGMA, 5))
    with pytest.raises(ValueError, match="odd sizes"):
        deblend_footprint(image, parent, variance=variance, psf_image=np.ones((4, 4)))
    with pytest.raises(ValueError, match="not inside the image"):
        deblend_footprint(image[:30, :30], parent)
    with pytest.raises(ValueError, match="max_children"):
        deblend_footprint(image, parent, max_children=-1)
    with pytest.raises(ValueError, match="variance shape"):
        deblend_footprint(image, parent, variance=variance[:10])
