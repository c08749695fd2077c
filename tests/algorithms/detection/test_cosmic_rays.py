# SPDX-License-Identifier: GPL-3.0-or-later
"""Cosmic rays: injected hits and tracks found, stars left alone, repaired pixels within the noise."""

from __future__ import annotations

import numpy as np
import pytest
from detection_sims import gaussian_psf_stamp, inject_cosmic_rays, render_gaussian_stars
from scipy import ndimage

from skystack.algorithms.detection import find_cosmic_rays, psf_neighbour_ratios, repair_cosmic_rays
from skystack.geom import Box2I
from skystack.image import Mask

NOISE = 5.0
SHAPE = (400, 400)


def star_field(
    fwhm: float, seed: int, n_stars: int = 120
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Noise-free model of stars (peak S/N up to ~300), its variance, and the star positions."""
    rng = np.random.default_rng(seed)
    sigma = fwhm / 2.3548
    x = rng.uniform(8, SHAPE[1] - 8, n_stars)
    y = rng.uniform(8, SHAPE[0] - 8, n_stars)
    flux = 10 ** rng.uniform(3.0, 6.0, n_stars)
    model = render_gaussian_stars(SHAPE, x, y, flux, sigma)
    return model, NOISE**2 + model, x, y


def near_stars(x: np.ndarray, y: np.ndarray, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    near = np.zeros(SHAPE, bool)
    for xi, yi in zip(x, y, strict=True):
        near |= (xx - xi) ** 2 + (yy - yi) ** 2 < radius**2
    return near


@pytest.mark.parametrize("fwhm", [2.2, 3.0, 4.5])
def test_cosmic_rays_found_and_stars_left_alone(fwhm: float) -> None:
    model, var, x, y = star_field(fwhm, seed=1)
    rng = np.random.default_rng(2)
    cr = inject_cosmic_rays(
        SHAPE, rng, 60, 60, (10 * NOISE, 300 * NOISE), avoid=(x, y), avoid_radius=2 * fwhm
    )
    image = (model + rng.normal(size=SHAPE) * np.sqrt(var) + cr).astype(np.float32)
    result = find_cosmic_rays(image, var, psf_fwhm=fwhm)
    strong = cr > 10 * NOISE
    assert result.mask[strong].mean() >= 0.95
    assert result.n_cosmic_rays >= 100
    # nothing flagged near a star
    assert not np.any(result.mask & near_stars(x, y, 2 * fwhm))
    # flagged pixels without charge: the growing passes (3, one pixel each) add noise pixels at the
    # edges of cosmic rays; elsewhere a rare noise pixel (~5σ above low neighbours) passes the test
    extra = result.mask & (cr == 0)
    edges = ndimage.binary_dilation(cr > 0, np.ones((3, 3), bool), iterations=3)
    assert (extra & ~edges).sum() <= 2
    assert extra.sum() < 0.15 * strong.sum()
    # footprints: one per connected cosmic ray, covering exactly the mask, peak at the brightest pixel
    assert sum(fp.area for fp in result.footprints) == result.mask.sum() == result.n_pixels
    for fp in result.footprints:
        xs, ys = fp.pixel_coordinates()
        assert image[fp.peaks["y"][0], fp.peaks["x"][0]] == image[ys, xs].max()


def test_star_field_without_cosmic_rays_gives_nothing() -> None:
    for fwhm in (2.0, 3.5):
        model, var, _, _ = star_field(fwhm, seed=3, n_stars=300)
        rng = np.random.default_rng(4)
        image = model + rng.normal(size=SHAPE) * np.sqrt(var)
        assert find_cosmic_rays(image, var, psf_fwhm=fwhm).n_pixels == 0


def test_repair_restores_values_within_noise_and_sets_planes() -> None:
    fwhm = 3.0
    model, var, x, y = star_field(fwhm, seed=5)
    rng = np.random.default_rng(6)
    cr = inject_cosmic_rays(
        SHAPE, rng, 50, 50, (10 * NOISE, 300 * NOISE), avoid=(x, y), avoid_radius=2 * fwhm
    )
    image = model + rng.normal(size=SHAPE) * np.sqrt(var) + cr
    mask = Mask.from_bbox(Box2I(0, 0, SHAPE[1], SHAPE[0]))
    result = find_cosmic_rays(image, var, mask, psf_fwhm=fwhm)
    before = image.copy()
    assert repair_cosmic_rays(image, result, mask) == 0
    flagged = result.mask
    pull = (image - model)[flagged] / np.sqrt(var[flagged])
    # interpolation from ~8 noisy neighbours: scatter well below one σ, no bias, no outliers
    assert np.std(pull) < 0.7 and abs(np.mean(pull)) < 0.25 and np.abs(pull).max() < 4
    np.testing.assert_array_equal(image[~flagged], before[~flagged])  # other pixels untouched
    np.testing.assert_array_equal(mask.get_plane("CR"), flagged)
    np.testing.assert_array_equal(mask.get_plane("INTRP"), flagged)
    # a plain integer mask gets the default planes' bits; a boolean CR mask works too
    int_mask = np.zeros(SHAPE, np.int32)
    repair_cosmic_rays(before, flagged, int_mask)
    np.testing.assert_allclose(before, image)
    assert np.all(int_mask[flagged] == mask.get_plane_bitmask("CR", "INTRP"))


def test_repair_interpolates_a_smooth_field_exactly_and_avoids_bad_pixels() -> None:
    yy, xx = np.mgrid[0:50, 0:60]
    truth = 3.0 + 0.2 * xx - 0.1 * yy  # a plane: every direction's straight line is exact
    image = truth.copy()
    crs = np.zeros(truth.shape, bool)
    crs[20, 10:40] = True  # a long horizontal track: vertical and diagonal directions bridge it
    crs[30:33, 30:33] = True
    image[crs] = 1e4
    bad = np.zeros(truth.shape, bool)
    bad[19, 10:40] = True  # the row above is bad and full of garbage: must not be used
    image[bad] = -1e4
    assert repair_cosmic_rays(image, crs, bad) == 0
    np.testing.assert_allclose(image[crs], truth[crs], rtol=1e-12)
    isolated = np.zeros((5, 5), bool)
    isolated[:, :] = True  # nothing to interpolate from
    assert repair_cosmic_rays(np.zeros((5, 5)), isolated) == 25


def test_conditions_one_and_four() -> None:
    fwhm = 3.0
    rng = np.random.default_rng(8)
    image = rng.normal(0, NOISE, (100, 100))
    image[30, 30] += 40 * NOISE  # a single hit of 200
    image[60, 60] += 40 * NOISE
    assert find_cosmic_rays(image, NOISE**2, psf_fwhm=fwhm).n_cosmic_rays == 2
    # condition 1: a minimum summed flux
    assert find_cosmic_rays(image, NOISE**2, psf_fwhm=fwhm, min_flux=1e4).n_cosmic_rays == 0
    # condition 4: bad and saturated pixels are not flagged
    mask = np.zeros((100, 100), bool)
    mask[60, 60] = True
    result = find_cosmic_rays(image, NOISE**2, mask, psf_fwhm=fwhm)
    assert result.n_cosmic_rays == 1 and result.mask[30, 30]
    # a background still in the image is allowed for
    assert find_cosmic_rays(image + 1000.0, NOISE**2, psf_fwhm=fwhm, background=1000.0).n_cosmic_rays == 2


def test_psf_ratios_from_fwhm_and_image_agree() -> None:
    fwhm = 3.0
    stamp = gaussian_psf_stamp(fwhm / 2.3548200450309493, 6)
    np.testing.assert_allclose(psf_neighbour_ratios(fwhm), psf_neighbour_ratios(psf_image=stamp), rtol=1e-6)
    r = psf_neighbour_ratios(1.0)
    assert r[0] == r[1] and r[2] == pytest.approx(r[0] ** 2) and 0.1 < r[0] < 0.2  # undersampled
    with pytest.raises(ValueError, match="exactly one"):
        psf_neighbour_ratios()
    with pytest.raises(ValueError, match="odd sizes"):
        psf_neighbour_ratios(psf_image=np.ones((4, 4)))


def test_cosmic_ray_input_errors() -> None:
    image = np.random.default_rng(0).normal(0, 1, (50, 50))
    with pytest.raises(ValueError, match="max_pixels"):
        find_cosmic_rays(image, 1e-4, psf_fwhm=3.0, max_pixels=10)  # variance far too small
    with pytest.raises(ValueError, match="floating-point"):
        find_cosmic_rays(image.astype(int), 1.0, psf_fwhm=3.0)
    with pytest.raises(ValueError, match="variance shape"):
        find_cosmic_rays(image, np.ones((3, 3)), psf_fwhm=3.0)
    with pytest.raises(ValueError, match="read-only"):
        frozen = image.copy()
        frozen.flags.writeable = False
        repair_cosmic_rays(frozen, np.zeros((50, 50), bool))
