# SPDX-License-Identifier: GPL-3.0-or-later
"""Pattern matching of sources to reference stars with a telescope-quality WCS (simulated truth)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astrometry_scenes import AstrometryScene, make_scene

from skystack.algorithms.astrometry import (
    MatchError,
    PatternMatch,
    gnomonic_inverse,
    gnomonic_project,
    match_pattern,
)


def _match(scene: AstrometryScene, **kwargs: object) -> PatternMatch:
    return match_pattern(
        scene.source_x,
        scene.source_y,
        scene.ref_ra,
        scene.ref_dec,
        scene.approx_wcs,
        source_flux=scene.source_flux,
        ref_flux=scene.ref_flux,
        bbox=scene.bbox,
        **kwargs,  # type: ignore[arg-type]
    )


def _quality(scene: AstrometryScene, match: PatternMatch) -> tuple[int, float]:
    """(correct pairs, fraction of the returned pairs that are correct)."""
    correct = scene.source_ref[match.source_index] == match.ref_index
    return int(correct.sum()), float(correct.mean())


def test_simulated_detector_with_default_pointing_errors() -> None:
    scene = make_scene(3)  # a 4k×4k SimCamBench detector, ~500 reference stars, ~2500 sources
    assert scene.ref_ra.size > 500 and scene.source_x.size > 2000
    match = _match(scene)
    n_correct, purity = _quality(scene, match)
    assert purity == 1.0
    assert n_correct >= 0.99 * scene.n_common
    # Each source and each reference is used once; the residuals are those of the final model.
    assert np.unique(match.source_index).size == match.n_matches
    assert np.unique(match.ref_index).size == match.n_matches
    assert match.rms < 0.05  # arcsec: centroid noise and 5 mas reference errors only
    assert np.all(match.distance <= match.radius)
    assert abs(match.scale - 1.0) < 0.003 and abs(match.rotation) < 1.0
    assert match.n_pattern >= 6
    # The affine transform maps the sources' tangent-plane positions onto their references'
    # (to the distortion the telescope's WCS lacks: a fraction of an arcsecond).
    t = match.tangent_point
    ra, dec = scene.approx_wcs.pixel_to_sky(
        scene.source_x[match.source_index], scene.source_y[match.source_index]
    )
    src = np.stack(gnomonic_project(ra, dec, t.ra.degrees, t.dec.degrees)) * 3600.0
    ref = (
        np.stack(
            gnomonic_project(
                scene.ref_ra[match.ref_index], scene.ref_dec[match.ref_index], t.ra.degrees, t.dec.degrees
            )
        )
        * 3600.0
    )
    moved = match.affine[:, :2] @ src + match.affine[:, 2:]
    assert np.sqrt(np.mean(np.sum((moved - ref) ** 2, axis=0))) < 0.5
    assert np.sqrt(np.mean(np.sum((src - ref) ** 2, axis=0))) > 1.0  # the telescope WCS alone is worse


@pytest.mark.parametrize("seed", range(6))
def test_large_offset_rotation_and_scale(seed: int) -> None:
    """60″ pointing error, 1° of rotation and 3 % of scale are recovered."""
    offset = 60.0 / math.sqrt(2.0)
    sign = 1.0 if seed % 2 else -1.0
    scene = make_scene(
        100 + seed,
        n_refs=150,
        offset_arcsec=(sign * offset, offset),
        rotation_offset_deg=sign * 1.0,
        scale_error=0.03 * sign,
    )
    match = _match(scene)
    n_correct, purity = _quality(scene, match)
    assert purity >= 0.99 and n_correct >= 0.97 * scene.n_common
    # Source positions went through a WCS rotated by +1° (east of north) and scaled by 1.03.
    assert match.rotation == pytest.approx(sign * 1.0, abs=0.03)
    assert match.scale == pytest.approx(1.0 / (1.0 + 0.03 * sign), abs=0.003)


def test_success_rate_over_random_trials() -> None:
    """≥ 99 % of 120 random detectors (two cameras) match with the default pointing errors."""
    successes = 0
    failures = []
    for trial in range(120):
        if trial % 3:
            scene = make_scene(5000 + trial, n_refs=120)
        else:  # a 1k×1k SimCam detector with few stars
            scene = make_scene(5000 + trial, camera="SimCam", n_refs=40)
        try:
            match = _match(scene)
        except MatchError as err:
            failures.append(f"trial {trial}: {err}")
            continue
        n_correct, purity = _quality(scene, match)
        if purity >= 0.97 and n_correct >= 0.95 * scene.n_common:
            successes += 1
        else:
            failures.append(f"trial {trial}: {n_correct} of {scene.n_common} correct, purity {purity:.3f}")
    assert successes >= 119, "\n".join(failures)


def test_unsorted_lists_without_fluxes() -> None:
    """Without fluxes the first entries are used: lists given brightest first still match."""
    scene = make_scene(7, n_refs=150)
    s_order = np.argsort(-scene.source_flux)
    r_order = np.argsort(-scene.ref_flux)
    match = match_pattern(
        scene.source_x[s_order],
        scene.source_y[s_order],
        scene.ref_ra[r_order],
        scene.ref_dec[r_order],
        scene.approx_wcs,
        bbox=scene.bbox,
    )
    correct = scene.source_ref[s_order][match.source_index] == r_order[match.ref_index]
    assert correct.mean() >= 0.99 and correct.sum() >= 0.97 * scene.n_common


def test_non_finite_sources_are_ignored() -> None:
    scene = make_scene(8, n_refs=150)
    x = scene.source_x.copy()
    bad = np.arange(0, x.size, 10)
    x[bad] = np.nan
    match = match_pattern(
        x,
        scene.source_y,
        scene.ref_ra,
        scene.ref_dec,
        scene.approx_wcs,
        source_flux=scene.source_flux,
        ref_flux=scene.ref_flux,
    )
    assert not np.isin(bad, match.source_index).any()
    assert np.all(scene.source_ref[match.source_index] == match.ref_index)


def test_wrong_field_raises_match_error_saying_what_was_tried() -> None:
    """References rotated by 30° about the detector centre: no pattern within the 2° bound."""
    scene = make_scene(9, n_refs=150)
    centre = scene.approx_wcs.pixel_to_sky_point(*scene.bbox.center)
    xi, eta = gnomonic_project(scene.ref_ra, scene.ref_dec, centre.ra.degrees, centre.dec.degrees)
    turn = np.exp(1j * math.radians(30.0)) * (xi + 1j * eta)
    ra, dec = gnomonic_inverse(turn.real, turn.imag, centre.ra.degrees, centre.dec.degrees)
    with pytest.raises(MatchError, match=r"50 brightest of \d+ sources .*tolerance 2″, max offset 90″"):
        match_pattern(
            scene.source_x,
            scene.source_y,
            ra,
            dec,
            scene.approx_wcs,
            source_flux=scene.source_flux,
            ref_flux=scene.ref_flux,
            bbox=scene.bbox,
        )
    # The same references match once the search allows that rotation.
    match = match_pattern(
        scene.source_x,
        scene.source_y,
        ra,
        dec,
        scene.approx_wcs,
        source_flux=scene.source_flux,
        ref_flux=scene.ref_flux,
        bbox=scene.bbox,
        max_rotation_deg=31.0,
    )
    assert match.rotation == pytest.approx(30.0, abs=0.3)
    assert np.mean(scene.source_ref[match.source_index] == match.ref_index) >= 0.99
    assert match.n_matches >= 0.97 * scene.n_common


def test_too_few_references_raises() -> None:
    scene = make_scene(10, n_refs=150)
    with pytest.raises(MatchError, match="reference stars fall within"):
        match_pattern(scene.source_x, scene.source_y, scene.ref_ra[:2], scene.ref_dec[:2], scene.approx_wcs)
    with pytest.raises(MatchError, match="sources with finite positions"):
        match_pattern([1.0, np.nan], [1.0, 2.0], scene.ref_ra, scene.ref_dec, scene.approx_wcs)


def test_bad_input_is_rejected() -> None:
    scene = make_scene(11, n_refs=20)
    x, y, ra, dec, wcs = scene.source_x, scene.source_y, scene.ref_ra, scene.ref_dec, scene.approx_wcs
    with pytest.raises(ValueError, match="source_x and source_y differ in length"):
        match_pattern(x, y[:-1], ra, dec, wcs)
    with pytest.raises(ValueError, match="ref_flux has"):
        match_pattern(x, y, ra, dec, wcs, ref_flux=np.ones(3))
    with pytest.raises(ValueError, match="max_rotation_deg"):
        match_pattern(x, y, ra, dec, wcs, max_rotation_deg=90.0)
    with pytest.raises(ValueError, match="n_brightest"):
        match_pattern(x, y, ra, dec, wcs, n_brightest=2)
    with pytest.raises(TypeError, match="SkyWcs"):
        match_pattern(x, y, ra, dec, wcs.astropy_wcs)
