# SPDX-License-Identifier: GPL-3.0-or-later
"""PSF and Gaussian fluxes against stars of known flux, with Monte Carlo error checks."""

from __future__ import annotations

import numpy as np
import pytest
from measure_sim import add_gaussian, add_psf_star, grid_positions, noisy

from skystack.algorithms.measure import (
    FIT_EDGE,
    FIT_MASKED,
    FIT_NO_GOOD_PIXELS,
    fit_model_flux,
    gaussian_flux,
    psf_flux,
    psf_gaussian_flux,
    psf_images,
)
from skystack.image.psf import GaussianPsf, MoffatPsf

FLUX = 2e4


def star_field(psf: MoffatPsf | GaussianPsf, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x, y = grid_positions(rng, 12, 32.0, 24.0)
    model = np.zeros((400, 400))
    for xi, yi in zip(x, y, strict=True):
        add_psf_star(model, psf, xi, yi, FLUX)
    return model, x, y


def test_noiseless_psf_flux_is_exact() -> None:
    psf = MoffatPsf.from_fwhm(3.5, 3.0)
    model, x, y = star_field(psf, 1)
    for weighting in ("variance", "uniform"):
        res = psf_flux(model, x, y, psf, variance=100.0 + model, weighting=weighting)
        np.testing.assert_allclose(res.flux, FLUX, rtol=1e-12)
        np.testing.assert_allclose(res.chi2, 0.0, atol=1e-12)
        assert np.all(res.n_pixels == psf.kernel_size**2)
        assert not res.flag.any()


def test_noisy_psf_flux_is_unbiased_with_unit_pulls() -> None:
    psf = MoffatPsf.from_fwhm(3.5, 3.0)
    model, x, y = star_field(psf, 2)
    rng = np.random.default_rng(20)
    fluxes, pulls, chi2 = [], [], []
    uniform = []
    for _ in range(25):
        image, variance = noisy(rng, model, sky=100.0)
        res = psf_flux(image, x, y, psf, variance=variance)
        fluxes.append(res.flux)
        pulls.append((res.flux - FLUX) / res.flux_err)
        chi2.append(res.chi2 / (res.n_pixels - 1))
        uniform.append(psf_flux(image, x, y, psf, variance=variance, weighting="uniform").flux)
    f = np.concatenate(fluxes)
    assert abs(f.mean() / FLUX - 1) < 0.003
    assert abs(np.concatenate(uniform).mean() / FLUX - 1) < 0.003
    p = np.concatenate(pulls)
    assert 0.9 < p.std() < 1.1
    assert np.median(np.concatenate(chi2)) == pytest.approx(1.0, abs=0.05)


def test_gaussian_flux_of_gaussian_sources_and_psf_normalisation() -> None:
    image = np.zeros((100, 100))
    add_gaussian(image, 30.4, 40.7, 5e3, 6.0, 3.0, 1.2, half=30)
    add_gaussian(image, 70.0, 60.2, 8e3, 2.0, 2.0, half=30)
    res = gaussian_flux(image, [30.4, 70.0], [40.7, 60.2], [6.0, 2.0], [3.0, 2.0], [1.2, 0.0])
    np.testing.assert_allclose(res.flux, [5e3, 8e3], rtol=1e-6)
    # A Moffat star: gaussian_flux / psf_gaussian_flux recovers its flux on the PSF normalisation.
    psf = MoffatPsf.from_fwhm(3.0, 2.5)
    star = np.zeros((60, 60))
    add_psf_star(star, psf, 30.3, 29.8, 1e4)
    g = gaussian_flux(star, 30.3, 29.8, 2.5, 2.5, 0.0, weighting="uniform")
    norm = psf_gaussian_flux(psf, 30.3, 29.8, 2.5, 2.5, 0.0)
    assert g.flux[0] < 0.95e4  # the Gaussian misses the Moffat wings ...
    assert g.flux[0] / norm[0] == pytest.approx(1e4, rel=1e-10)  # ... which the normalisation restores


def test_edge_masked_and_empty_fits_are_flagged() -> None:
    psf = GaussianPsf(1.5)
    image = np.zeros((50, 50))
    add_psf_star(image, psf, 1.0, 25.0, 1e3)
    add_psf_star(image, psf, 25.0, 25.0, 1e3)
    mask = np.zeros(image.shape, dtype=np.int32)
    mask[25, 26] = 1
    res = psf_flux(
        image, [1.0, 25.0, -40.0, np.nan], [25.0, 25.0, 25.0, 3.0], psf, mask=mask, bad_mask_bits=1
    )
    assert res.flag[0] == FIT_EDGE and res.flux[0] == pytest.approx(1e3, rel=1e-10)
    assert res.flag[1] == FIT_MASKED and res.flux[1] == pytest.approx(1e3, rel=1e-10)
    assert res.flag[2] & FIT_NO_GOOD_PIXELS and np.isnan(res.flux[2])
    assert res.flag[3] == FIT_NO_GOOD_PIXELS and np.isnan(res.flux[3])
    assert np.all(np.isnan(res.flux_err))  # no variance plane


def test_fit_model_flux_with_given_stamps_matches_psf_flux() -> None:
    psf = GaussianPsf(2.0)
    image = np.zeros((40, 40))
    add_psf_star(image, psf, 20.3, 19.2, 500.0)
    rng = np.random.default_rng(3)
    image += rng.normal(size=image.shape)
    stamps, x0, y0 = psf_images(psf, [20.3], [19.2])
    assert stamps.sum() == pytest.approx(1.0)
    a = fit_model_flux(image, stamps, x0, y0, variance=np.ones_like(image))
    b = psf_flux(image, 20.3, 19.2, psf, variance=np.ones_like(image))
    assert a.flux[0] == b.flux[0] and a.flux_err[0] == b.flux_err[0]
    assert b.flux_err[0] == pytest.approx(1.0 / np.sqrt(np.sum(stamps[0] ** 2)))
    with pytest.raises(ValueError, match="weighting"):
        psf_flux(image, 20, 20, psf, weighting="optimal")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one value per stamp"):
        fit_model_flux(image, stamps, [1, 2], [3])
