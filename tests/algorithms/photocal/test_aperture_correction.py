# SPDX-License-Identifier: GPL-3.0-or-later
"""Aperture corrections: a known spatially varying ratio is recovered to < 0.2 % and applied."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.algorithms.photocal import (
    ap_corr_error_name,
    ap_corr_name,
    apply_aperture_correction,
    fit_aperture_corrections,
)
from skystack.geom import Box2I
from skystack.image import ApCorrMap
from skystack.image.bounded_field import ChebyshevBoundedField, ConstantBoundedField

BOX = Box2I(0, 0, 4096, 4096)
# calib / psf: 8 % with ±2 % gradients and curvature; calib / small aperture: 25 % with a tilt.
PSF_TRUTH = ChebyshevBoundedField([[1.08, 0.015, -0.006], [0.01, 0.004, 0.0], [-0.008, 0.0, 0.0]], BOX)
AP9_TRUTH = ChebyshevBoundedField([[1.25, -0.01], [0.02, 0.0]], BOX)
GRID_X, GRID_Y = np.meshgrid(np.linspace(0.0, 4095.0, 128), np.linspace(0.0, 4095.0, 128))


def _stars(seed: int, n: int = 250) -> dict[str, np.ndarray]:
    """Bright stars (S/N 450–1800 in the calibration aperture), 5 % of them blended or hit."""
    rng = np.random.default_rng([seed, 99])
    x, y = rng.uniform(-0.5, 4095.5, n), rng.uniform(-0.5, 4095.5, n)
    cal = 10 ** rng.uniform(5.3, 6.5, n)
    out: dict[str, np.ndarray] = {"x": x, "y": y}
    out["cal_err"] = np.sqrt(cal + 2e4)
    out["cal"] = cal + rng.normal(0, 1, n) * out["cal_err"]
    bad = rng.uniform(size=n) < 0.05
    out["bad"] = bad
    for name, truth in (("psf", PSF_TRUTH), ("ap9", AP9_TRUTH)):
        flux = cal / truth.evaluate(x, y)
        err = np.sqrt(flux + 5e3)
        measured = flux + rng.normal(0, 1, n) * err
        measured[bad] *= rng.uniform(0.7, 0.95, int(bad.sum()))
        out[name], out[name + "_err"] = measured, err
    return out


@pytest.mark.parametrize("seed", range(5))
def test_spatially_varying_ratio_is_recovered(seed: int) -> None:
    s = _stars(seed)
    result = fit_aperture_corrections(
        s["x"],
        s["y"],
        s["cal"],
        s["cal_err"],
        {"base_PsfFlux": (s["psf"], s["psf_err"]), "ap9": (s["ap9"], s["ap9_err"])},
        BOX,
        order=2,
    )
    for name, truth in (("base_PsfFlux", PSF_TRUTH), ("ap9", AP9_TRUTH)):
        fit = result.fits[name]
        relative = fit.field.evaluate(GRID_X, GRID_Y) / truth.evaluate(GRID_X, GRID_Y) - 1.0
        assert np.abs(relative).max() < 0.002  # over the whole detector, corners included
        assert np.sqrt(np.mean(relative**2)) < 0.001
        assert not fit.used[s["bad"]].any()  # blends and hits are clipped
        assert fit.n_used >= 0.9 * fit.n_total
        assert 0.0 < fit.error < 0.001
        assert result.ap_corr_map[ap_corr_name(name)] == fit.field
        assert result.ap_corr_map.evaluate(ap_corr_error_name(name), 10.0, 20.0) == fit.error
    assert set(result.ap_corr_map) == {
        "base_PsfFlux_instFlux",
        "base_PsfFlux_instFluxErr",
        "ap9_instFlux",
        "ap9_instFluxErr",
    }


def test_exact_constant_correction() -> None:
    x = np.linspace(0, 4095, 10)
    flux = np.full(10, 1000.0)
    result = fit_aperture_corrections(x, x, 1.1 * flux, 0 * flux, {"psf": (flux, 0 * flux)}, BOX, order=0)
    assert result.fits["psf"].field.coefficients.shape == (1, 1)
    assert result.fits["psf"].field.evaluate(5.0, 7.0) == pytest.approx(1.1, abs=1e-12)


def test_apply_to_flux_columns() -> None:
    field = ChebyshevBoundedField([[1.1, 0.05], [0.0, 0.0]], BOX)
    ap_map = ApCorrMap({"psf_instFlux": field, "psf_instFluxErr": ConstantBoundedField(0.01, BOX)})
    x, y = np.array([0.0, 2047.5, 4095.0]), np.array([5.0, 6.0, 7.0])
    flux, err = np.array([100.0, -20.0, np.nan]), np.array([3.0, 4.0, 5.0])
    corr = field.evaluate(x, y)
    out, out_err = apply_aperture_correction(ap_map, "psf", flux, err, x, y)
    np.testing.assert_allclose(out, flux * corr)
    np.testing.assert_allclose(out_err, corr * err)
    _, with_corr = apply_aperture_correction(ap_map, "psf", flux, err, x, y, include_correction_error=True)
    np.testing.assert_allclose(with_corr[:2], np.hypot(corr * err, flux * 0.01)[:2])
    assert np.isnan(out[2])
    with pytest.raises(KeyError, match="No aperture correction for 'ap12_instFlux'"):
        apply_aperture_correction(ap_map, "ap12", flux, err, x, y)


def test_bad_input() -> None:
    s = _stars(0, n=7)
    args = (s["x"], s["y"], s["cal"], s["cal_err"])
    with pytest.raises(ValueError, match="'psf' has 7 stars .* needs at least 8"):
        fit_aperture_corrections(*args, {"psf": (s["psf"], s["psf_err"])}, BOX, order=2)
    with pytest.raises(ValueError, match="at least one flux algorithm"):
        fit_aperture_corrections(*args, {}, BOX)
    with pytest.raises(ValueError, match="must be a \\(flux, flux_err\\) pair"):
        fit_aperture_corrections(*args, {"psf": s["psf"]}, BOX, order=0)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="calib_flux must be a 1-d array of 7"):
        fit_aperture_corrections(
            s["x"], s["y"], s["cal"][:3], s["cal_err"], {"p": (s["psf"], s["psf_err"])}, BOX
        )
    with pytest.raises(ValueError, match="order must be a non-negative integer"):
        fit_aperture_corrections(*args, {"psf": (s["psf"], s["psf_err"])}, BOX, order=-1)
