# SPDX-License-Identifier: GPL-3.0-or-later
"""The PSFEx-style PSF determiner against simulated truth (issue #7 acceptance).

Acceptance: for isolated bright stars, the model's residuals on *reserved* stars (never fitted)
have χ²/dof <= 1.2 with the true per-pixel variance, and the model FWHM is within 1 % of the truth
at the detector centre and its four corners. The scene is a 2048×2048 detector of Moffat stars
(beta = 3.5, the simulator's) whose FWHM grows by 8 % across it, with sky, Poisson and read noise
(`psf_sim_scene`). The truth FWHM is that of the effective PSF — the Moffat integrated over a
pixel, which is what the image samples and a pixel PSF models (1–4 % wider than the Moffat).
"""

from __future__ import annotations

import numpy as np
import pytest
from psf_sim_scene import StarField, make_star_field, measure_catalog, true_fwhm

from skystack.algorithms.psf import (
    PsfDeterminationError,
    PsfDeterminationResult,
    PsfDeterminerConfig,
    determine_psf,
    fit_psf_stars,
    select_psf_candidates,
)
from skystack.config import ConfigValidationError
from skystack.geom.box import Box2I


def _corners(shape: tuple[int, ...]) -> dict[str, tuple[float, float]]:
    """Centre and corner pixels of an image, named as in `PsfDeterminationResult.fwhm`."""
    ny, nx = shape
    return {
        "center": (0.5 * (nx - 1), 0.5 * (ny - 1)),
        "lower_left": (0.0, 0.0),
        "lower_right": (nx - 1.0, 0.0),
        "upper_left": (0.0, ny - 1.0),
        "upper_right": (nx - 1.0, ny - 1.0),
    }


def _detected(field: StarField, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Star positions as a detection step gives them (0.2 px scatter)."""
    rng = np.random.default_rng(seed)
    return field.x + rng.normal(0, 0.2, field.x.size), field.y + rng.normal(0, 0.2, field.y.size)


def _fwhm_errors(field: StarField, result: PsfDeterminationResult) -> dict[str, float]:
    errors = {}
    for name, (x, y) in _corners(field.image.shape).items():
        truth = true_fwhm(float(field.moffat_fwhm(x, y)))
        errors[name] = result.fwhm[name] / truth - 1.0
    return errors


def _reserved_chi2(
    field: StarField, result: PsfDeterminationResult, radius: float | None = None
) -> np.ndarray:
    """χ²/dof of the reserved stars, refitted (flux, centre, background) with the true variance."""
    res = result.reserved
    fits = fit_psf_stars(
        result.psf, field.image, field.true_variance, result.x[res], result.y[res], radius=radius
    )
    assert fits.ok.all()
    return np.array([np.sum(fits.chi2) / np.sum(fits.dof), *fits.chi2_per_dof])


@pytest.fixture(scope="module")
def field() -> StarField:
    return make_star_field(shape=(2048, 2048), n_stars=300, fwhm0=4.0, seed=5)


@pytest.fixture(scope="module")
def result(field: StarField) -> PsfDeterminationResult:
    x, y = _detected(field)
    return determine_psf(field.image, field.variance, x, y)


def test_reserved_stars_chi2_per_dof_at_most_1_2(field: StarField, result: PsfDeterminationResult) -> None:
    chi2 = _reserved_chi2(field, result)
    overall, per_star = chi2[0], chi2[1:]
    print(
        f"\nreserved stars (true variance): chi2/dof overall {overall:.3f}, median {np.median(per_star):.3f}"
    )
    assert overall <= 1.2
    assert np.median(per_star) <= 1.1
    # The core alone (2 FWHM), where a PSF model is hardest to get right.
    core = _reserved_chi2(field, result, radius=2 * field.fwhm0)
    print(f"reserved stars, core r <= 2 FWHM: chi2/dof overall {core[0]:.3f}")
    assert core[0] <= 1.2
    # The determiner's own figures (pipeline variance from the noisy image) agree.
    assert result.chi2_per_dof_reserved <= 1.2
    assert 0.9 <= result.chi2_per_dof_used <= 1.1


def test_model_fwhm_within_one_percent_across_the_detector(
    field: StarField, result: PsfDeterminationResult
) -> None:
    errors = _fwhm_errors(field, result)
    print("\nFWHM model/truth - 1:", {k: f"{100 * v:+.2f} %" for k, v in errors.items()})
    assert max(abs(v) for v in errors.values()) <= 0.01
    # The field variation is followed: 8 % between the corners nearest to and farthest from the axis.
    assert result.fwhm["upper_right"] / result.fwhm["lower_left"] == pytest.approx(
        true_fwhm(float(field.moffat_fwhm(2047, 2047))) / true_fwhm(float(field.moffat_fwhm(0, 0))), rel=0.01
    )
    assert result.psf.is_spatially_varying and result.psf.degree == 2


def test_result_bookkeeping(field: StarField, result: PsfDeterminationResult) -> None:
    n = field.x.size
    assert result.n_reserved == round(0.2 * n)
    assert result.n_used + result.n_reserved + result.n_rejected == n
    assert not np.any(result.used & result.reserved) and not np.any(result.rejected & result.reserved)
    assert result.dropped == {"off_image": 0, "masked": 0, "bad_centroid": 0}
    # Automatic stamps: 2 ceil(3.5 FWHM) + 1 with the FWHM from adaptive moments.
    assert result.stamp_size % 2 == 1 and 7 * field.fwhm0 <= result.stamp_size <= 9 * field.fwhm0
    assert result.psf.kernel_size == result.stamp_size
    # Centres refined to well below the 0.2 px detection scatter.
    assert np.median(np.hypot(result.x - field.x, result.y - field.y)) < 0.03
    assert 1 <= result.n_iterations <= 4


@pytest.mark.slow
@pytest.mark.parametrize("fwhm0", [3.0, 6.0])
def test_acceptance_at_best_and_poor_seeing(fwhm0: float) -> None:
    """0.6″ and 1.2″ seeing at 0.2″/px: the simulator's range."""
    field = make_star_field(shape=(2048, 2048), n_stars=300, fwhm0=fwhm0, seed=11)
    x, y = _detected(field)
    result = determine_psf(field.image, field.variance, x, y)
    errors = _fwhm_errors(field, result)
    print(f"\nFWHM {fwhm0}: model/truth - 1:", {k: f"{100 * v:+.2f} %" for k, v in errors.items()})
    assert max(abs(v) for v in errors.values()) <= 0.01
    assert _reserved_chi2(field, result)[0] <= 1.2


@pytest.mark.slow
def test_selection_then_determination_in_a_crowded_field() -> None:
    """Measured sources of a field with galaxies, faint stars and close pairs: select, then fit."""
    field = make_star_field(
        shape=(2048, 2048), n_stars=300, n_galaxies=150, n_faint=300, n_companions=30, seed=7
    )
    x, y, _, kind = field.all_sources()
    cat = measure_catalog(field.image, field.variance, x, y)
    sel = select_psf_candidates(
        cat.x, cat.y, cat.flux, cat.flux_err, cat.ixx, cat.iyy, cat.ixy, flags={"edge": cat.edge}
    )
    assert np.all(kind[sel.mask] == 0)
    result = determine_psf(field.image, field.variance, cat.x[sel.mask], cat.y[sel.mask])
    errors = _fwhm_errors(field, result)
    assert max(abs(v) for v in errors.values()) <= 0.01
    # Stars whose stamp holds another source's light are the ones with large chi2: the clipping
    # rejects them; clean reserved stars (no source within 30 px) meet the acceptance.
    src = np.flatnonzero(sel.mask)
    d = np.hypot(x[src, None] - x[None, :], y[src, None] - y[None, :])
    d[np.arange(src.size), src] = np.inf
    clean = d.min(axis=1) > 30.0
    res = result.reserved & clean
    fits = fit_psf_stars(result.psf, field.image, field.true_variance, result.x[res], result.y[res])
    assert np.sum(fits.chi2) / np.sum(fits.dof) <= 1.2
    assert result.n_rejected >= 1
    assert np.count_nonzero(result.rejected & ~clean) >= 0.8 * result.n_rejected


def test_chi2_clipping_rejects_stars_with_companions() -> None:
    """Candidates include stars with a close companion: those fitted are rejected, the model stays true."""
    field = make_star_field(shape=(1024, 1024), n_stars=150, n_companions=12, fwhm0=4.0, seed=3)
    x, y = _detected(field)
    config = PsfDeterminerConfig(reserve_fraction=0.1)
    result = determine_psf(field.image, field.variance, x, y, config=config)
    hosts = np.zeros(x.size, dtype=bool)
    hosts[field.companion_of] = True
    assert not np.any(result.used & hosts), "a star with a companion stayed in the fit"
    # Hosts whose companion is nearly as bright and close are dropped before the fit (their windowed
    # centroid wanders); the others are rejected by their chi2, and no clean star is.
    measured = hosts & np.isfinite(result.chi2_per_dof)
    assert np.count_nonzero(measured) >= 8
    assert np.all(result.chi2_per_dof[measured] > 1.5)
    assert np.all(result.rejected[measured & ~result.reserved])
    assert np.count_nonzero(result.rejected & ~hosts) <= 1
    assert result.dropped["bad_centroid"] == np.count_nonzero(hosts & ~np.isfinite(result.chi2_per_dof))
    assert max(abs(v) for v in _fwhm_errors(field, result).values()) <= 0.01


def test_too_few_stars_raises_with_counts() -> None:
    field = make_star_field(shape=(512, 512), n_stars=16, fwhm0=4.0, seed=2)
    x, y = _detected(field)
    x[:2] = [3.0, 505.0]  # stamps off the image
    mask = np.zeros(field.image.shape, dtype=bool)
    mask[round(y[2]), round(x[2]) + 3] = True  # a masked pixel in star 2's stamp
    with pytest.raises(PsfDeterminationError) as info:
        determine_psf(field.image, field.variance, x, y, mask=mask)
    message = str(info.value)
    assert "found 13 usable stars of 16 candidates" in message
    assert "2 off image" in message and "1 masked" in message
    assert "needs 15 (12 fitted for a degree-2 model of 6 terms" in message
    # A degree-1 model needs ceil(2 * 3 / 0.8) = 8: the same stars suffice.
    result = determine_psf(
        field.image, field.variance, x, y, mask=mask, config=PsfDeterminerConfig(spatial_degree=1)
    )
    assert result.dropped == {"off_image": 2, "masked": 1, "bad_centroid": 0}
    assert result.n_used + result.n_reserved + result.n_rejected == 13
    assert not result.used[:3].any() and np.isnan(result.chi2_per_dof[:3]).all()


def test_constant_psf_and_parent_origin() -> None:
    """A degree-0 model of a constant PSF, on an image whose parent origin is not (0, 0)."""
    field = make_star_field(shape=(600, 600), n_stars=40, fwhm0=3.5, variation=0.0, seed=4)
    x, y = _detected(field)
    box = Box2I(1000, 2000, 600, 600)
    config = PsfDeterminerConfig(spatial_degree=0, stamp_size=27)
    result = determine_psf(field.image, field.variance, x + 1000, y + 2000, bbox=box, config=config)
    assert not result.psf.is_spatially_varying and result.psf.bbox == box
    assert result.stamp_size == 27
    assert result.fwhm["lower_left"] == pytest.approx(true_fwhm(3.5), rel=0.01)
    assert np.median(np.abs(result.x - 1000 - field.x)) < 0.03


def test_bad_inputs() -> None:
    image = np.zeros((100, 100))
    with pytest.raises(PsfDeterminationError, match="variance shape"):
        determine_psf(image, np.ones((10, 10)), [50.0], [50.0])
    with pytest.raises(PsfDeterminationError, match="mask shape"):
        determine_psf(image, np.ones_like(image), [50.0], [50.0], mask=np.zeros((3, 3), dtype=bool))
    with pytest.raises(PsfDeterminationError, match="bbox"):
        determine_psf(image, np.ones_like(image), [50.0], [50.0], bbox=Box2I(0, 0, 10, 10))
    with pytest.raises(PsfDeterminationError, match="equal length"):
        determine_psf(image, np.ones_like(image), [50.0, 1.0], [50.0])
    with pytest.raises(ConfigValidationError, match="odd"):
        PsfDeterminerConfig(stamp_size=20).check()
