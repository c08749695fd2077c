# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of BackgroundModel and BackgroundList."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.geom.box import Box2I
from skystack.image.background import BackgroundList, BackgroundModel
from skystack.image.psf import GaussianPsf
from skystack.utils.persist import dump_persistable, dumps_json, load_persistable, loads_json

H, W = 600, 900
SIGMA = 5.0


def _plane(x: np.ndarray, y: np.ndarray | float) -> np.ndarray:
    return 100.0 + 0.02 * x - 0.03 * y


def _sky(seed: int, with_stars: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plane + noise (+ bright stars); returns image, truth and a star mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W]
    truth = _plane(xx.astype(float), yy.astype(float))
    image = truth + rng.normal(0.0, SIGMA, truth.shape)
    mask = np.zeros(truth.shape, dtype=bool)
    if with_stars:
        psf = GaussianPsf(2.0, 21)
        for x, y, flux in zip(
            rng.uniform(15, W - 16, 60), rng.uniform(15, H - 16, 60), rng.uniform(2e4, 2e5, 60), strict=True
        ):
            stamp, box = psf.compute_image(x, y)
            image[box.slices()] += flux * stamp
            mask[box.slices()] = True
    return image, truth, mask


def test_recovers_plane_to_noise_level() -> None:
    image, truth, _ = _sky(1, with_stars=False)
    model = BackgroundModel.from_image(image.astype(np.float32), bin_size=100, statistic="mean_clipped")
    assert model.values.shape == (6, 9)
    np.testing.assert_allclose(model.x_centers, np.arange(9) * 100 + 49.5)
    xc, yc = np.meshgrid(model.x_centers, model.y_centers)
    n_per_bin = 100 * 100
    # A plane's bin mean is its value at the bin centre; the error of a clipped mean is ~sigma/sqrt(N).
    residual = model.values - _plane(xc, yc)
    assert np.max(np.abs(residual)) < 5 * SIGMA / np.sqrt(n_per_bin)
    assert np.std(residual) == pytest.approx(SIGMA / np.sqrt(n_per_bin), rel=0.35)
    full = model.get_image()
    assert full.shape == (H, W) and full.dtype == np.float32
    inner = (slice(50, H - 50), slice(50, W - 50))
    assert np.max(np.abs(full[inner] - truth[inner])) < 5 * SIGMA / np.sqrt(n_per_bin)
    median_model = BackgroundModel.from_image(image, bin_size=100, statistic="median")
    median_residual = median_model.values - _plane(xc, yc)
    assert np.max(np.abs(median_residual)) < 5 * 1.26 * SIGMA / np.sqrt(n_per_bin)


def test_interpolation_reproduces_a_plane_exactly() -> None:
    xc = np.array([40.0, 150.0, 420.0, 700.0, 860.0])
    yc = np.array([30.0, 200.0, 550.0])
    bbox = Box2I(0, 0, W, H)
    values = _plane(*np.meshgrid(xc, yc))
    yy, xx = np.mgrid[0:H, 0:W]
    for kind in ("akima", "makima", "natural_spline", "linear"):
        model = BackgroundModel(values, xc, yc, bbox, interpolation=kind)
        np.testing.assert_allclose(model.get_image(dtype=np.float64), _plane(xx, yy), atol=1e-9)
        pts = np.random.default_rng(2).uniform(-100, 1000, (2, 500))
        np.testing.assert_allclose(model.evaluate(pts[0], pts[1]), _plane(pts[0], pts[1]), atol=1e-9)
    assert isinstance(model.evaluate(3.0, 4.0), float)
    # Reduced order with few bins: one bin is a constant, two a line.
    assert np.all(BackgroundModel([[7.0]], [10.0], [20.0], bbox).get_image() == 7.0)
    two = BackgroundModel(_plane(*np.meshgrid([100.0, 800.0], [50.0])), [100.0, 800.0], [50.0], bbox)
    np.testing.assert_allclose(two.evaluate([0.0, 900.0], [50.0, 50.0]), _plane(np.array([0.0, 900.0]), 50.0))


def test_scattered_evaluate_matches_get_image_for_curved_grid() -> None:
    rng = np.random.default_rng(3)
    xc = np.linspace(50, 850, 8)
    yc = np.linspace(40, 560, 5)
    model = BackgroundModel(rng.normal(100, 3, (5, 8)), xc, yc, Box2I(0, 0, W, H))
    full = model.get_image(dtype=np.float64)
    xs = rng.integers(0, W, 300)
    ys = rng.integers(0, H, 300)
    np.testing.assert_allclose(model.evaluate(xs, ys), full[ys, xs], rtol=1e-12)
    sub = Box2I(100, 50, 30, 20)
    np.testing.assert_allclose(model.get_image(sub, dtype=np.float64), full[sub.slices()], rtol=1e-12)
    # The model passes through its bin values.
    np.testing.assert_allclose(model.evaluate(*np.meshgrid(xc, yc)), model.values, rtol=1e-12)


def test_stars_masked_and_clipped() -> None:
    image, _, mask = _sky(4, with_stars=True)
    bound = 5 * SIGMA / np.sqrt(100 * 100 * 0.8)
    masked = BackgroundModel.from_image(image, mask=mask, bin_size=100)
    xc, yc = np.meshgrid(masked.x_centers, masked.y_centers)
    assert np.max(np.abs(masked.values - _plane(xc, yc))) < bound
    unmasked_mean = BackgroundModel.from_image(image, bin_size=100, n_iter=0)
    # Without mask or clipping, the stars bias the bins upward; clipping removes most of that.
    assert np.max(unmasked_mean.values - _plane(xc, yc)) > 5 * bound
    clipped = BackgroundModel.from_image(image, bin_size=100, statistic="mean_clipped")
    assert np.max(np.abs(clipped.values - _plane(xc, yc))) < 2 * bound


def test_empty_bins_filled_and_partial_bins() -> None:
    image, _, _ = _sky(5, with_stars=False)
    mask = np.zeros(image.shape, dtype=np.uint8)
    mask[200:400, 300:600] = 4  # whole bins masked
    image[0:5, 0:5] = np.nan  # non-finite pixels ignored
    model = BackgroundModel.from_image(image, mask=mask, bin_size=100, bbox=Box2I(1000, 2000, W, H))
    assert np.all(np.isfinite(model.values))
    xc, yc = np.meshgrid(model.x_centers, model.y_centers)
    np.testing.assert_allclose(model.x_centers[0], 1049.5)
    residual = model.values - _plane(xc - 1000, yc - 2000)
    assert np.max(np.abs(residual)) < 0.3
    # A width that is not a multiple of the bin size still tiles exactly with near-equal bins.
    odd = BackgroundModel.from_image(image[:, :937], bin_size=128)
    assert odd.values.shape == (5, 7)
    assert odd.x_centers[-1] < 937 and odd.x_centers[0] > 0


def test_errors() -> None:
    image = np.ones((50, 60))
    with pytest.raises(ValueError, match="no bin has enough"):
        BackgroundModel.from_image(image, mask=np.ones_like(image), bin_size=10)
    with pytest.raises(ValueError, match="unknown statistic 'mode'"):
        BackgroundModel.from_image(image, statistic="mode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mask shape"):
        BackgroundModel.from_image(image, mask=np.ones((3, 3)))
    with pytest.raises(ValueError, match="bbox shape"):
        BackgroundModel.from_image(image, bbox=Box2I(0, 0, 5, 5))
    with pytest.raises(ValueError, match="strictly increasing"):
        BackgroundModel([[1.0, 2.0]], [5.0, 5.0], [1.0], Box2I(0, 0, 10, 10))
    with pytest.raises(ValueError, match="unknown interpolation"):
        BackgroundModel([[1.0]], [5.0], [1.0], Box2I(0, 0, 10, 10), interpolation="cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="BackgroundList is empty"):
        BackgroundList().get_image()


class _ImageLike:
    def __init__(self, array: np.ndarray, bbox: Box2I) -> None:
        self.array = array
        self.bbox = bbox


def test_list_composition_round_trip_and_image_like() -> None:
    image, _, _ = _sky(6, with_stars=False)
    box = Box2I(10, 20, W, H)
    coarse = BackgroundModel.from_image(_ImageLike(image, box), bin_size=300)
    assert coarse.bbox == box
    residual = image - coarse.get_image(dtype=np.float64)
    fine = BackgroundModel.from_image(residual, bin_size=100, bbox=box, interpolation="natural_spline")
    backgrounds = BackgroundList([coarse, fine])
    assert len(backgrounds) == 2 and backgrounds.bbox == box
    total = backgrounds.get_image(dtype=np.float64)
    np.testing.assert_allclose(total, coarse.get_image(dtype=np.float64) + fine.get_image(dtype=np.float64))
    xs, ys = np.array([15.0, 400.0]), np.array([25.0, 300.0])
    np.testing.assert_allclose(
        backgrounds.evaluate(xs, ys), total[(ys - 20).astype(int), (xs - 10).astype(int)]
    )
    for obj in (coarse, backgrounds):
        restored = load_persistable(loads_json(dumps_json(dump_persistable(obj))))
        assert restored == obj and restored is not obj
    np.testing.assert_array_equal(
        load_persistable(loads_json(dumps_json(dump_persistable(backgrounds)))).get_image(),
        backgrounds.get_image(),
    )
    assert BackgroundList([coarse]) != backgrounds
