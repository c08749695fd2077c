# SPDX-License-Identifier: GPL-3.0-or-later
"""`PixelPsf.fit` with per-pixel variances and fluxes, and `PixelPsf.fwhm`'s accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from psf_sim_scene import true_fwhm

from skystack.geom.box import Box2I
from skystack.image.psf import GaussianPsf, PixelPsf, PsfError
from skystack.sim.render import moffat_stamp


@pytest.mark.parametrize("sigma", [1.2, 1.5, 2.0, 3.0])
def test_fwhm_of_a_gaussian_kernel_to_a_thousandth(sigma: float) -> None:
    # (A plain count of the upsampled samples above half the peak was off by up to 0.5 %.)
    gauss = GaussianPsf(sigma)
    pixel = PixelPsf(gauss.compute_kernel_image()[None], 0)
    assert pixel.fwhm() == pytest.approx(gauss.fwhm(), rel=1.5e-3)


@pytest.mark.parametrize("fwhm", [3.0, 3.5, 4.3, 6.0])
def test_fwhm_of_a_pixel_integrated_moffat_to_a_thousandth(fwhm: float) -> None:
    stamp, _, _ = moffat_stamp(0.0, 0.0, fwhm, 3.5, half=math.ceil(3.5 * fwhm))
    assert PixelPsf(stamp[None], 0).fwhm() == pytest.approx(true_fwhm(fwhm), rel=1e-3)


def _stamps(rng: np.random.Generator, n: int, size: int, sigma_of: object) -> tuple[np.ndarray, ...]:
    xs = rng.uniform(0, 999, n)
    ys = rng.uniform(0, 999, n)
    sigmas = sigma_of(xs, ys)  # type: ignore[operator]
    offsets = np.arange(size) - size // 2
    u = offsets[None, None, :] - (xs - np.floor(xs + 0.5))[:, None, None]
    v = offsets[None, :, None] - (ys - np.floor(ys + 0.5))[:, None, None]
    flux = np.exp(rng.uniform(math.log(3e3), math.log(1e6), n))
    model = np.exp(-(u**2 + v**2) / (2 * sigmas[:, None, None] ** 2)) / (
        2 * np.pi * sigmas[:, None, None] ** 2
    )
    variance = flux[:, None, None] * model + 400.0
    stamps = flux[:, None, None] * model + rng.normal(0.0, np.sqrt(variance))
    return stamps, variance, xs, ys, flux


def test_variance_weighting_beats_equal_weights() -> None:
    """Stars spanning 2.5 decades of flux: inverse-variance weights give a model closer to the truth."""

    def sigma_of(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return 1.8 + 0.3 * (x / 1000.0) - 0.2 * (y / 1000.0)

    rng = np.random.default_rng(8)
    bbox = Box2I(0, 0, 1000, 1000)
    stamps, variance, xs, ys, flux = _stamps(rng, 200, 21, sigma_of)
    weighted = PixelPsf.fit(stamps, xs, ys, 2, bbox, variances=variance, fluxes=flux)
    equal = PixelPsf.fit(stamps, xs, ys, 2, bbox)
    errors = {"weighted": 0.0, "equal": 0.0}
    for x, y in [(100.0, 100.0), (500.0, 500.0), (900.0, 200.0), (200.0, 900.0)]:
        truth = GaussianPsf(float(sigma_of(np.array(x), np.array(y))), 21).compute_kernel_image()
        model = weighted.compute_kernel_image(x, y)
        errors["weighted"] += float(np.sum((model - truth) ** 2))
        errors["equal"] += float(np.sum((equal.compute_kernel_image(x, y) - truth) ** 2))
        assert np.max(np.abs(model - truth)) < 0.01 * truth.max()
    assert errors["weighted"] < 0.2 * errors["equal"]


def test_weighted_fit_validation() -> None:
    rng = np.random.default_rng(1)
    bbox = Box2I(0, 0, 1000, 1000)
    stamps, variance, xs, ys, flux = _stamps(rng, 20, 15, lambda x, y: np.full(x.size, 1.5))
    with pytest.raises(PsfError, match="variances must be finite and positive"):
        PixelPsf.fit(stamps, xs, ys, 1, bbox, variances=np.where(variance > 500, np.inf, variance))
    with pytest.raises(PsfError, match="variances must be finite and positive"):
        PixelPsf.fit(stamps, xs, ys, 1, bbox, variances=variance[:, :-2, :-2])
    with pytest.raises(PsfError, match="fluxes must be n_stars finite positive"):
        PixelPsf.fit(stamps, xs, ys, 1, bbox, fluxes=-flux)
    # All stars at one position cannot constrain a varying model.
    same = np.full(20, 500.0)
    with pytest.raises(PsfError, match="do not constrain"):
        PixelPsf.fit(stamps, same, same, 1, bbox, variances=variance, fluxes=flux)
