# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for skystack.image.footprint: spans, peaks, detection, grow/shrink, heavy footprints."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from scipy import ndimage

from skystack.geom import Box2I
from skystack.image.footprint import PEAK_DTYPE, Footprint, HeavyFootprint
from skystack.image.footprint_set import FootprintSet
from skystack.utils.persist import dump_persistable, dumps_json, load_persistable, loads_json


def disc_structure(r: int) -> np.ndarray:
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return xx**2 + yy**2 <= r * r


def gaussian_image(shape, sources, sigma=1.5):
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = np.zeros(shape)
    for x, y, amp in sources:
        img += amp * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return img


def random_mask(seed: int, shape=(40, 50)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ndimage.binary_opening(rng.random(shape) < 0.55)


def test_disc_area_and_centroid():
    for r in (3.0, 10.0, 25.0):
        fp = Footprint.from_circle(100.0, -40.0, r)
        # pixel count of a disc: pi r^2 within the Gauss-circle error bound
        assert abs(fp.area - np.pi * r * r) < 2 * np.pi * r * 0.6
        assert fp.centroid.x == pytest.approx(100.0) and fp.centroid.y == pytest.approx(-40.0)
        assert fp.bbox == Box2I.from_corners(100 - int(r), -40 - int(r), 100 + int(r), -40 + int(r))
    # exact count for r = 5: lattice points with x^2 + y^2 <= 25
    assert Footprint.from_circle(0, 0, 5).area == 81


def test_mask_round_trip_and_normalisation():
    mask = random_mask(1)
    fp = Footprint.from_mask_array(mask, (7, -3))
    assert fp.area == mask.sum()
    np.testing.assert_array_equal(fp.to_mask_array(Box2I.from_shape(mask.shape, (7, -3))), mask)
    # spans are sorted, disjoint and not touching
    y, x0, x1 = fp.span_y, fp.span_x0, fp.span_x1
    same_row = y[1:] == y[:-1]
    assert np.all(np.diff(y) >= 0) and np.all(x0[1:][same_row] > x1[:-1][same_row] + 1)
    # overlapping / touching / unsorted spans are merged
    messy = Footprint([2, 1, 1, 1], [0, 5, 0, 3], [3, 9, 2, 4])
    np.testing.assert_array_equal(messy.spans, [[1, 0, 9], [2, 0, 3]])
    with pytest.raises(ValueError, match="differ in length"):
        Footprint([1, 2], [0], [1])
    with pytest.raises(ValueError, match="2-d array"):
        Footprint.from_mask_array(np.ones(3, bool))


def test_contains_vectorised():
    mask = random_mask(2)
    fp = Footprint.from_mask_array(mask, (10, 20))
    yy, xx = np.mgrid[15:65, 5:65]
    inside = fp.contains(xx, yy)
    expected = np.zeros(xx.shape, bool)
    ok = (xx >= 10) & (xx < 60) & (yy >= 20) & (yy < 60)
    expected[ok] = mask[yy[ok] - 20, xx[ok] - 10]
    np.testing.assert_array_equal(inside, expected)
    y0, x0 = np.argwhere(mask)[0]
    assert fp.contains(x0 + 10.4, y0 + 20 - 0.4) is True
    assert Footprint.empty().contains(0, 0) is False


@pytest.mark.parametrize("shape", ["circle", "square"])
@pytest.mark.parametrize("radius", [1, 3])
def test_dilate_erode_match_scipy(shape, radius):
    mask = random_mask(3 + radius)
    fp = Footprint.from_mask_array(mask, (-5, 4))
    structure = disc_structure(radius) if shape == "circle" else np.ones((2 * radius + 1,) * 2, bool)
    big = Box2I.from_shape(mask.shape, (-5, 4)).grown(radius + 2)
    dense = fp.to_mask_array(big)
    grown = fp.dilated(radius, shape)
    np.testing.assert_array_equal(grown.to_mask_array(big), ndimage.binary_dilation(dense, structure))
    shrunk = fp.eroded(radius, shape)
    np.testing.assert_array_equal(shrunk.to_mask_array(big), ndimage.binary_erosion(dense, structure))
    with pytest.raises(ValueError, match="non-negative integer"):
        fp.dilated(-1)
    with pytest.raises(ValueError, match="Unknown structuring-element shape"):
        fp.dilated(1, "hexagon")


def test_merge_intersects_clip():
    a = Footprint.from_box(Box2I(0, 0, 5, 5))
    b = Footprint.from_box(Box2I(3, 3, 5, 5))
    c = Footprint.from_box(Box2I(20, 20, 2, 2))
    a.add_peak(2, 2, 10.0, 1)
    b.add_peak(2, 2, 10.0, 1)  # a duplicate of a's peak
    b.add_peak(6, 6, 5.0, 2)
    assert a.intersects(b) and not a.intersects(c)
    u = a.merged(b)
    assert u.area == 25 + 25 - 4
    np.testing.assert_array_equal(u.peaks["id"], [1, 2])
    assert len(a.merged(b, peak_radius=6.0).peaks) == 1
    clipped = u.clipped_to(Box2I(0, 0, 4, 4))
    assert clipped.area == 16 and clipped.peaks["id"].tolist() == [1]
    moved = u.shifted(10, -2)
    assert moved.bbox == u.bbox.shifted(10, -2) and moved.peaks["x"].tolist() == [12, 16]


def test_threshold_two_blobs():
    img = gaussian_image((60, 80), [(20, 20, 100.0), (60, 40, 50.0)])
    fs = FootprintSet.from_threshold(img, 1.0, xy0=(100, 200))
    assert len(fs) == 2
    assert fs.region == Box2I(100, 200, 80, 60)
    areas = sorted(fp.area for fp in fs)
    # each blob: pixels with A exp(-r^2/2s^2) >= 1, a disc of radius s sqrt(2 ln A)
    for area, amp in zip(areas, [50.0, 100.0], strict=True):
        r = 1.5 * np.sqrt(2 * np.log(amp))
        assert abs(area - np.pi * r * r) < 2 * np.pi * r
    peaks = [fp.get_peak(0) for fp in fs]
    assert {(p.x, p.y) for p in peaks} == {(120, 220), (160, 240)}
    assert {p.value for p in peaks} == {100.0, 50.0}


def test_threshold_blended_pair_and_ordering():
    img = gaussian_image((40, 60), [(20, 20, 30.0), (28, 21, 80.0)])
    fs = FootprintSet.from_threshold(img, 1.0)
    assert len(fs) == 1
    fp = fs[0]
    assert len(fp.peaks) == 2
    assert (fp.peaks["x"].tolist(), fp.peaks["y"].tolist()) == ([28, 20], [21, 20])
    assert fp.peaks["value"][0] > fp.peaks["value"][1]
    assert fp.peaks["id"].tolist() == [1, 2]
    assert fs.num_peaks == 2


def test_threshold_negative_min_pixels_plateau_nan():
    img = -gaussian_image((40, 40), [(10, 10, 20.0)])
    img[30, 30] = -50.0  # a single-pixel negative spike
    img[2, 30:33] = 9.0  # a flat positive plateau of three pixels
    img[35, 5] = np.nan
    neg = FootprintSet.from_threshold(img, 5.0, negative=True)
    assert len(neg) == 2
    assert neg[0].get_peak(0).value == -20.0 or neg[1].get_peak(0).value == -20.0
    big = FootprintSet.from_threshold(img, 5.0, negative=True, min_pixels=2)
    assert len(big) == 1 and big[0].get_peak(0).value == -20.0
    pos = FootprintSet.from_threshold(img, 5.0)
    assert len(pos) == 1 and pos[0].area == 3 and len(pos[0].peaks) == 1
    nopeaks = FootprintSet.from_threshold(img, 5.0, find_peaks=False)
    assert len(nopeaks[0].peaks) == 0
    with pytest.raises(ValueError, match="2-d array"):
        FootprintSet.from_threshold(np.zeros(5), 1.0)


def test_label_image_round_trip():
    rng = np.random.default_rng(4)
    labels, n = ndimage.label(rng.random((50, 60)) < 0.3, structure=np.ones((3, 3)))
    fs = FootprintSet.from_label_image(labels, xy0=(3, 4))
    assert len(fs) == n
    np.testing.assert_array_equal(fs.to_label_image(), labels)
    sizes = np.bincount(labels.ravel())[1:]
    np.testing.assert_array_equal([fp.area for fp in fs], sizes)
    # labels that are not consecutive, and adjacent different labels in one row
    odd = np.array([[0, 7, 7, 3], [0, 7, 3, 3], [-1, 0, 0, 0]])
    fs2 = FootprintSet.from_label_image(odd)
    assert [fp.area for fp in fs2] == [3, 3]
    np.testing.assert_array_equal(fs2.to_label_image(), np.array([[0, 2, 2, 1], [0, 2, 1, 1], [0, 0, 0, 0]]))
    with pytest.raises(ValueError, match="2-d integer array"):
        FootprintSet.from_label_image(np.zeros((3, 3)))


def test_grow_merges_touching_footprints():
    img = gaussian_image((50, 80), [(20, 25, 50.0), (30, 25, 40.0), (70, 25, 30.0)], sigma=1.0)
    fs = FootprintSet.from_threshold(img, 5.0)
    assert len(fs) == 3
    grown = fs.grown(4)
    assert len(grown) == 2
    first = grown[0]
    assert sorted(first.peaks["value"].tolist()) == [40.0, 50.0]
    # the union equals the dilation of the union of the dense masks, clipped to the image
    dense = fs.to_label_image() > 0
    expected = ndimage.binary_dilation(dense, disc_structure(4))
    np.testing.assert_array_equal(grown.to_label_image() > 0, expected)
    # growing to the edges clips to the region
    assert FootprintSet.from_threshold(img, 5.0).grown(60).to_label_image().all()


def test_merge_positive_and_negative_sets():
    img = gaussian_image((30, 30), [(10, 10, 20.0)]) - gaussian_image((30, 30), [(14, 10, 20.0)])
    pos = FootprintSet.from_threshold(img, 3.0)
    neg = FootprintSet.from_threshold(img, 3.0, negative=True)
    assert len(pos) == 1 and len(neg) == 1 and not pos[0].intersects(neg[0])
    merged = pos.grown(1).merged(neg.grown(1))
    assert len(merged) == 1
    assert sorted(merged[0].peaks["value"].tolist()) == sorted(
        [pos[0].peaks["value"][0], neg[0].peaks["value"][0]]
    )
    # peaks of other within the radius are dropped
    assert len(pos.merged(pos, peak_radius=0.0)[0].peaks) == 1


def test_heavy_footprint_insert_add_subtract_exact():
    rng = np.random.default_rng(5)
    image = rng.normal(size=(40, 50)).astype(np.float32)
    variance = rng.random((40, 50)).astype(np.float32)
    mask = rng.integers(0, 16, (40, 50)).astype(np.int32)
    fp = Footprint.from_circle(20, 25, 8).shifted(100, 50)  # absolute coords; image xy0 = (100, 50)
    heavy = HeavyFootprint.from_image(fp, image, (100, 50), mask=mask, variance=variance)
    inside = fp.to_mask_array(Box2I.from_shape(image.shape, (100, 50)))
    assert heavy.image_values.size == fp.area and heavy.image_values.dtype == np.float32
    np.testing.assert_array_equal(np.sort(heavy.image_values), np.sort(image[inside]))
    canvas = np.zeros_like(image)
    cmask, cvar = np.zeros_like(mask), np.zeros_like(variance)
    heavy.insert_into(canvas, (100, 50), mask=cmask, variance=cvar)
    np.testing.assert_array_equal(canvas[inside], image[inside])
    np.testing.assert_array_equal(cmask[inside], mask[inside])
    np.testing.assert_array_equal(cvar[inside], variance[inside])
    assert not canvas[~inside].any()
    work = image.copy()
    heavy.subtract_from(work, (100, 50))
    assert not work[inside].any()
    np.testing.assert_array_equal(work[~inside], image[~inside])
    heavy.add_to(work, (100, 50))
    np.testing.assert_array_equal(work, image)
    # a target array covering only part of the footprint: the rest is skipped
    part = np.zeros((10, 10), np.float32)
    heavy.insert_into(part, (115, 70))
    np.testing.assert_array_equal(part, image[20:30, 15:25] * inside[20:30, 15:25])
    with pytest.raises(ValueError, match="is not inside the image bbox"):
        HeavyFootprint.from_image(fp, image, (0, 0))
    with pytest.raises(ValueError, match="has 3 values but the footprint has"):
        HeavyFootprint(fp, np.zeros(3))


def test_persistence_round_trips():
    fs = FootprintSet.from_threshold(gaussian_image((30, 40), [(10, 10, 9.0), (16, 12, 7.0)]), 0.5)
    fp = fs[0]
    assert fp.peaks.dtype == PEAK_DTYPE
    again = load_persistable(loads_json(dumps_json(dump_persistable(fp))), Footprint)
    assert again == fp and type(again) is Footprint
    img = np.arange(30 * 40, dtype=np.float64).reshape(30, 40)
    heavy = HeavyFootprint.from_image(fp, img, variance=img * 2)
    text = dumps_json(dump_persistable(heavy))
    back = load_persistable(loads_json(text), HeavyFootprint)
    assert back == heavy and back.mask_values is None
    np.testing.assert_array_equal(back.variance_values, heavy.variance_values)
    assert back != HeavyFootprint(fp, heavy.image_values + 1)
    # compact: spans and peaks, not a dense mask
    assert len(dumps_json(dump_persistable(fp))) < 60 * fp.bbox.height + 600


@pytest.mark.filterwarnings("ignore:The following header keyword is invalid")
def test_real_image_detection_finds_sextractor_sources(real_data_dir):
    """On the sep test image, bright SExtractor sources lie in our footprints, one peak each at least."""
    folder = real_data_dir / "sep_ntt_emmi"
    data = fits.getdata(folder / "image.fits").astype(np.float64)
    back = fits.getdata(folder / "back.fits").astype(np.float64)
    rms = fits.getdata(folder / "rms.fits").astype(np.float64)
    cat = Table.read(folder / "image.cat", format="ascii.sextractor")
    smoothed = ndimage.gaussian_filter(data - back, 1.0)
    fs = FootprintSet.from_threshold(smoothed / rms, 1.5, min_pixels=5)
    bright = cat[(cat["FLUX_AUTO"] > 20 * cat["FLUXERR_AUTO"]) & (cat["FLAGS"] == 0)]
    assert len(bright) >= 15
    x, y = bright["X_IMAGE"] - 1, bright["Y_IMAGE"] - 1  # FITS 1-based → 0-based
    labels = fs.to_label_image()
    hit = labels[np.round(y).astype(int), np.round(x).astype(int)]
    assert np.mean(hit > 0) > 0.95
    # every bright source's footprint has a peak within 2 pixels of the SExtractor position
    for xi, yi, lab in zip(x, y, hit, strict=True):
        if lab:
            pk = fs[lab - 1].peaks
            assert np.min(np.hypot(pk["x"] - xi, pk["y"] - yi)) < 2.5
