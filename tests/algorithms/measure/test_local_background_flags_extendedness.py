# SPDX-License-Identifier: GPL-3.0-or-later
"""Local background, pixel-flag aggregation and extendedness against known answers."""

from __future__ import annotations

import numpy as np
import pytest
from measure_sim import add_gaussian

from skystack.algorithms.measure import (
    LOCAL_BACKGROUND_EDGE,
    LOCAL_BACKGROUND_NO_GOOD_PIXELS,
    extendedness,
    local_background,
    pixel_flags,
    psf_normalised_model_flux,
)
from skystack.image import Footprint
from skystack.image.mask import default_plane_dict


def plane(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return 50.0 + 0.08 * x - 0.05 * y


def test_local_background_on_a_gradient_with_noise() -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:300, 0:300].astype(float)
    cx = rng.uniform(30, 270, 200)
    cy = rng.uniform(30, 270, 200)
    levels, errs = [], []
    for _ in range(20):
        image = plane(xx, yy) + rng.normal(0.0, 2.0, xx.shape)
        res = local_background(image, cx, cy, inner_radius=6.0, outer_radius=14.0)
        assert not res.flag.any()
        levels.append(res.background - plane(cx, cy))
        errs.append(res.background_err)
        assert np.median(res.sigma) == pytest.approx(np.sqrt(4.0 + 0.094**2 * 100 / 2), rel=0.1)
    d = np.array(levels)
    assert abs(d.mean()) < 0.01  # the median of a plane over a symmetric annulus is its central value
    # the reported error matches the scatter over realisations
    assert np.median(d.std(axis=0)) / np.median(np.array(errs)) == pytest.approx(1.0, abs=0.15)


def test_clipping_removes_a_star_in_the_annulus_and_masks_are_respected() -> None:
    rng = np.random.default_rng(2)
    image = rng.normal(10.0, 1.0, size=(80, 80))
    add_gaussian(image, 50.0, 40.0, 3e4, 2.0, 2.0)  # a star 10 px from the source
    clipped = local_background(image, 40.0, 40.0)
    plain = local_background(image, 40.0, 40.0, max_iter=0, n_sigma=1e9)
    assert clipped.background[0] == pytest.approx(10.0, abs=0.1)
    assert clipped.n_pixels[0] < plain.n_pixels[0]
    image[30:50, 20:40] = 1e4
    mask = np.zeros(image.shape, dtype=np.int32)
    mask[30:50, 20:40] = 1
    res = local_background(image, 40.0, 40.0, mask=mask, bad_mask_bits=1, max_iter=0, n_sigma=1e9)
    assert res.background[0] < 100
    res = local_background(image, [2.0, -50.0], [40.0, 40.0])
    assert res.flag[0] == LOCAL_BACKGROUND_EDGE
    assert res.flag[1] & LOCAL_BACKGROUND_NO_GOOD_PIXELS and np.isnan(res.background[1])
    with pytest.raises(ValueError, match="inner_radius"):
        local_background(image, 1, 1, inner_radius=5, outer_radius=4)


def test_pixel_flags_from_footprints_and_centres() -> None:
    planes = default_plane_dict()
    mask = np.zeros((60, 60), dtype=np.int32)

    def setp(name: str, y: int, x: int) -> None:
        mask[y, x] |= 1 << planes[name]

    setp("SAT", 10, 10)  # centre of source 0
    setp("CR", 30, 34)  # in footprint of source 1, 4 px from its centre
    setp("BAD", 50, 51)  # next to the centre of source 2
    setp("SUSPECT", 50, 46)
    setp("INTRP", 10, 13)
    setp("EDGE", 0, 30)
    fps = [
        Footprint.from_circle(10, 10, 4),
        Footprint.from_circle(30, 30, 5),
        Footprint.from_circle(50, 50, 5),
        Footprint.from_circle(30, 2, 3),  # reaches EDGE at (30, 0)
        Footprint.from_circle(58, 30, 4),  # leaves the image
    ]
    x = np.array([10.2, 30.0, 50.4, 30.0, 58.0])
    y = np.array([9.8, 30.0, 50.0, 2.0, 30.0])
    f = pixel_flags(mask, x, y, fps)
    expect_true = {
        "saturated": [0],
        "saturated_center": [0],
        "interpolated": [0],
        "cr": [1],
        "bad": [2],
        "bad_center": [2],
        "suspect": [2],
        "edge": [3, 4],
    }
    for key, values in f.items():
        np.testing.assert_array_equal(np.flatnonzero(values), expect_true.get(key, []), err_msg=key)
    # a custom plane dictionary moves the bits; flags follow the names
    swapped = {"SAT": 20, "CR": 21}
    custom = np.zeros_like(mask)
    custom[30, 30] = 1 << 21
    g = pixel_flags(custom, [30.0], [30.0], [Footprint.from_circle(30, 30, 2)], plane_dict=swapped)
    assert g["cr"][0] and g["cr_center"][0] and not g["saturated"][0] and not g["suspect"][0]
    # without footprints the centre 3x3 stands in for the footprint; off-image centres are flagged
    h = pixel_flags(mask, [33.0, 100.0], [30.0, 5.0])
    assert h["cr"][0] and h["cr_center"][0]
    assert h["offimage"][1] and h["edge"][1]
    with pytest.raises(ValueError, match="one footprint per source"):
        pixel_flags(mask, x[:2], y[:2], fps)


def test_extendedness_rule() -> None:
    psf = np.array([100.0, 100.0, 100.0, np.nan, 100.0, 100.0])
    model = np.array([100.5, 101.6, 150.0, 100.0, 0.0, 101.6])
    v = extendedness(psf, model)
    np.testing.assert_array_equal(v[:3], [0.0, 1.0, 1.0])
    assert np.isnan(v[3]) and np.isnan(v[4])
    # error margins (Rubin's psfErrFactor): a 2-sigma allowance keeps the marginal source point-like
    w = extendedness(psf, model, psf_flux_err=np.full(6, 1.0), psf_err_factor=2.0)
    assert w[1] == 0.0 and w[2] == 1.0
    with pytest.raises(ValueError, match="psf_flux_err"):
        extendedness(psf, model, psf_err_factor=1.0)
    np.testing.assert_allclose(psf_normalised_model_flux([90.0, 1.0], [0.9, 0.0]), [100.0, np.nan])
