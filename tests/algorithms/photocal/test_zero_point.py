# SPDX-License-Identifier: GPL-3.0-or-later
"""Zero points against simulated truth: ≤ 3 mmag with 1 % refcat errors and 5 % outliers."""

from __future__ import annotations

import numpy as np
import pytest
from photocal_stars import TRUE_ZERO_POINT, make_stars

from skystack.algorithms.photocal import fit_zero_point
from skystack.image import PhotoCalib
from skystack.image.photocalib import AB_ZERO_POINT_NJY_MAG


def test_zero_point_within_3_mmag_of_truth() -> None:
    errors, pulls = [], []
    for seed in range(40):
        stars = make_stars(seed)
        result = fit_zero_point(stars.inst_flux, stars.inst_flux_err, stars.ref_flux, stars.ref_flux_err)
        errors.append(result.zero_point - TRUE_ZERO_POINT)
        pulls.append(errors[-1] / result.zero_point_err)
        # Outliers (≥ 0.1 mag off, ≥ 9 sigma) are rejected, good stars kept.
        assert not result.used[stars.outlier].any()
        assert np.count_nonzero(~result.used[~stars.outlier]) <= 0.03 * np.count_nonzero(~stars.outlier)
        assert result.n_total == stars.inst_flux.size
        assert 0.009 < result.scatter < 0.016  # mag: 1 % refcat ⊕ Poisson and sky noise
    errors_mmag = 1e3 * np.abs(errors)
    assert errors_mmag.max() <= 3.0
    assert 0.7 < np.std(pulls) < 1.3 and abs(np.mean(pulls)) < 0.5  # honest errors


def test_exact_data_and_photo_calib() -> None:
    stars = make_stars(1, outlier_fraction=0.0, ref_error=0.0, sky_per_aperture=0.0)
    exact = 10 ** (0.4 * (TRUE_ZERO_POINT - AB_ZERO_POINT_NJY_MAG)) * stars.ref_flux  # electrons, noise-free
    result = fit_zero_point(exact, np.zeros_like(exact), stars.ref_flux, np.zeros_like(exact))
    assert result.zero_point == pytest.approx(TRUE_ZERO_POINT, abs=1e-10)
    assert result.n_used == exact.size and result.intrinsic_scatter < 1e-9
    calib = result.photo_calib()
    assert isinstance(calib, PhotoCalib)
    assert calib.instflux_zero_point() == pytest.approx(TRUE_ZERO_POINT, abs=1e-10)
    np.testing.assert_allclose(calib.instflux_to_njy(exact), stars.ref_flux, rtol=1e-9)


def test_colour_term() -> None:
    stars = make_stars(2, n=400, colour_term=0.05)
    plain = fit_zero_point(stars.inst_flux, stars.inst_flux_err, stars.ref_flux, stars.ref_flux_err)
    assert plain.colour_term == 0.0 and plain.colour_pivot == 0.0
    result = fit_zero_point(
        stars.inst_flux,
        stars.inst_flux_err,
        stars.ref_flux,
        stars.ref_flux_err,
        colour=stars.colour,
        fit_colour_term=True,
        colour_pivot=0.7,
    )
    assert result.colour_term == pytest.approx(0.05, abs=3 * result.colour_term_err)
    assert result.colour_term_err < 0.005
    assert result.zero_point == pytest.approx(TRUE_ZERO_POINT, abs=max(3 * result.zero_point_err, 0.002))
    assert result.scatter < plain.scatter  # the colour term explains part of the scatter


def test_unusable_stars_and_bad_input() -> None:
    stars = make_stars(3, n=50)
    inst = stars.inst_flux.copy()
    inst[:5] = [-1.0, 0.0, np.nan, np.inf, 10.0]
    ref_err = stars.ref_flux_err.copy()
    ref_err[4] = np.nan
    result = fit_zero_point(inst, stars.inst_flux_err, stars.ref_flux, ref_err)
    assert not result.used[:5].any() and np.isnan(result.residuals[:5]).all()
    assert result.n_total == 50
    with pytest.raises(ValueError, match="at least 3 are needed"):
        fit_zero_point(inst[:4], stars.inst_flux_err[:4], stars.ref_flux[:4], stars.ref_flux_err[:4])
    with pytest.raises(ValueError, match="ref_flux must be a 1-d array of 50"):
        fit_zero_point(inst, stars.inst_flux_err, stars.ref_flux[:-1], stars.ref_flux_err)
    with pytest.raises(ValueError, match="needs the reference colour"):
        fit_zero_point(inst, stars.inst_flux_err, stars.ref_flux, stars.ref_flux_err, fit_colour_term=True)
