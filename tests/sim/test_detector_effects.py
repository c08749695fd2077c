# SPDX-License-Identifier: GPL-3.0-or-later
"""Each detector effect of the simulator is what its config and the camera say, one at a time.

Every test runs the ``tiny`` preset (2 detectors of 256×256, 2 amplifiers each) with all the
`EffectsConfig` switches off except the one under test, noiselessly unless said otherwise, and
reads the raw FITS files back. Where an effect changes a scene, the same config with the effect
off is the reference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage
from sim_effect_helpers import TINY_CAMERA, effects_only, electrons, raws_of_kind, segments_in_readout_order

from skystack.sim import SimulationResult, simulate
from skystack.sim.detector_effects import bleed_saturation, make_signature
from skystack.sim.raw_writer import read_raw

#: A crowded bright scene (stars of r = 14–17.5 only) whose cores exceed a 20 000 e- full well.
BRIGHT_SCENE = ["sky.star_density=100000", "sky.star_mag_min=14", "sky.star_mag_max=17.5", "sky.n_moving=0"]


def _pixel_count() -> int:
    return sum(d.bbox.area for d in TINY_CAMERA)


def _adc_limit_electrons(det_id: int) -> np.ndarray:
    """Per-pixel electrons at which the ADC of the pixel's amplifier clips (no bias)."""
    det = TINY_CAMERA.get_detector(det_id)
    out = np.empty(det.bbox.shape)
    for amp in det.amplifiers:
        out[amp.bbox.slices()] = min(amp.saturation, 65535.0) * amp.gain
    return out


def test_hot_pixels_and_dark_current(tmp_path: Path) -> None:
    """Hot pixels: about ``fraction × pixels`` of them, at the signature's positions, each with
    ``hot_pixel_current`` e-/s on top of the uniform ``dark_current``; static between exposures."""
    dark_time, fraction, hot_current, dark_current = 100.0, 3e-3, 200.0, 1.5
    config = effects_only(
        "hot_pixels",
        "dark",
        overrides=[
            f"effects.hot_pixel_fraction={fraction}",
            f"effects.hot_pixel_current={hot_current}",
            f"effects.dark_current={dark_current}",
            "calibrations.n_dark=2",
            f"calibrations.dark_time={dark_time}",
        ],
    )
    result = simulate(config, tmp_path)
    darks = raws_of_kind(result, "dark")
    assert len(darks) == 2 * len(TINY_CAMERA)
    level, hot_level = dark_current * dark_time, hot_current * dark_time
    n_hot_total = 0
    first: dict[int, np.ndarray] = {}
    for path, det_id in darks:
        det = TINY_CAMERA.get_detector(det_id)
        e = electrons(path, det)
        gain = max(a.gain for a in det.amplifiers)
        hot = np.rint((e - level) / hot_level)
        # Every pixel is at the dark level, or hot with the hot-pixel current on top (a position
        # drawn twice is hot once), to the digitisation step.
        np.testing.assert_allclose(e, level + hot * hot_level, atol=0.51 * gain)
        sig = make_signature(TINY_CAMERA, det, config.effects, config.seed)
        expected = np.zeros(det.bbox.shape)
        expected[sig.hot_pixels[:, 0], sig.hot_pixels[:, 1]] = 1.0
        np.testing.assert_array_equal(hot, expected)
        if det_id in first:
            np.testing.assert_array_equal(e, first[det_id])  # static: the same in every exposure
        else:
            first[det_id] = e
            n_hot_total += int(hot.sum())
    mean = fraction * _pixel_count()
    assert abs(n_hot_total - mean) < 4.0 * np.sqrt(mean), (n_hot_total, mean)
    # The science exposure of the same detectors has the same hot pixels, for its exposure time.
    for path, det_id in raws_of_kind(result, "science"):
        det = TINY_CAMERA.get_detector(det_id)
        e = electrons(path, det)
        hot = first[det_id] > level + 0.5 * hot_level
        excess = e - ndimage.median_filter(e, size=3)
        assert np.median(excess[hot]) == pytest.approx(hot_current * config.survey.exposure_time, rel=0.05)


def test_bleed_saturation_analytic() -> None:
    full = 1000.0
    col = np.zeros((40, 3))
    col[20, 1] = 5.5 * full  # 4.5 full wells of excess: 2.25 up and 2.25 down
    total = col.sum(axis=0)
    n_sat = bleed_saturation(col, full)
    np.testing.assert_allclose(col.sum(axis=0), total)
    np.testing.assert_array_equal(col[:, 1][18:23], full)
    assert col[23, 1] == pytest.approx(0.25 * full) and col[17, 1] == pytest.approx(0.25 * full)
    assert n_sat == 5 and col[:, [0, 2]].max() == 0.0
    edge = np.zeros((10, 1))
    edge[1, 0] = 4.0 * full  # 1.5 full wells spill down, below row 0: lost off the detector
    bleed_saturation(edge, full)
    assert edge.max() == full and edge.sum() == pytest.approx(3.5 * full)
    assert edge[0, 0] == full and edge[2, 0] == full and edge[3, 0] == pytest.approx(0.5 * full)


def test_saturation_at_full_well_with_charge_conserving_bleed_trails(tmp_path: Path) -> None:
    full_well = 20000.0
    overrides = [*BRIGHT_SCENE, f"effects.full_well={full_well}"]
    on = simulate(effects_only("saturation", overrides=overrides), tmp_path / "on")
    off = simulate(effects_only(overrides=overrides), tmp_path / "off")
    assert on.counts["saturated_pixels"] > 100
    n_trail_columns = 0
    for (p_on, det_id), (p_off, _) in zip(
        raws_of_kind(on, "science"), raws_of_kind(off, "science"), strict=True
    ):
        det = TINY_CAMERA.get_detector(det_id)
        gain = max(a.gain for a in det.amplifiers)
        e_on, e_off = electrons(p_on, det), electrons(p_off, det)
        assert e_on.max() <= full_well + 0.51 * gain  # nothing above full well
        assert (e_off > full_well).any()  # ... while the scene has pixels above it
        clipped_off = np.any(e_off >= 0.999 * _adc_limit_electrons(det_id), axis=0)
        at_full = e_on >= full_well - 0.51 * gain
        ny = det.bbox.height
        for x in np.flatnonzero(at_full.any(axis=0)):
            rows = np.flatnonzero(at_full[:, x])
            # Each trail (a run of full-well pixels along the column) grows from pixels that were
            # above full well ...
            for run in np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1):
                assert (e_off[run, x] > full_well).any(), f"detector {det_id} column {x}: stray trail"
            # ... and holds the column's charge: what bled stayed in the column (unless it left it).
            if clipped_off[x] or rows[0] == 0 or rows[-1] == ny - 1:
                continue
            assert e_on[:, x].sum() == pytest.approx(e_off[:, x].sum(), abs=0.5 * gain * ny)
            excess = np.clip(e_off[:, x] - full_well, 0, None).sum()
            assert rows.size >= (e_off[:, x] > full_well).sum() + int(excess / full_well) - 1
            n_trail_columns += 1
        # Columns with nothing above full well are untouched.
        calm = ~at_full.any(axis=0)
        np.testing.assert_array_equal(e_on[:, calm], e_off[:, calm])
    assert n_trail_columns >= 10


def test_crosstalk_ghosts_have_the_camera_coefficients(tmp_path: Path) -> None:
    # Read noise on in both runs: the two runs draw the very same noise, which cancels in the
    # difference but dithers the digitisation, so the ghosts (a few ADU) are measured unbiased.
    on = simulate(effects_only("crosstalk", "bias", "read_noise", overrides=BRIGHT_SCENE), tmp_path / "on")
    off = simulate(effects_only("bias", "read_noise", overrides=BRIGHT_SCENE), tmp_path / "off")
    for (p_on, det_id), (p_off, _) in zip(
        raws_of_kind(on, "science"), raws_of_kind(off, "science"), strict=True
    ):
        det = TINY_CAMERA.get_detector(det_id)
        seg_on, seg_off = segments_in_readout_order(p_on), segments_in_readout_order(p_off)
        names = [a.name for a in det.amplifiers]
        for i, victim in enumerate(names):
            (j,) = [k for k in range(len(names)) if k != i]
            limit = min(det.amplifiers[i].saturation, det.amplifiers[j].saturation, 65535.0) - 2
            source = seg_off[names[j]] - det.amplifiers[j].bias_level
            ghost = seg_on[victim] - seg_off[victim]
            ok = (seg_off[names[j]] < limit) & (seg_on[victim] < limit)
            coeff = (ghost[ok] * source[ok]).sum() / (source[ok] ** 2).sum()
            assert coeff == pytest.approx(det.crosstalk[i, j], rel=0.02), (det_id, victim)
            resid = ghost[ok] - det.crosstalk[i, j] * source[ok]
            assert np.abs(resid).max() <= 1.5  # the rest is digitisation (and the source's read noise)
            # In detector coordinates the ghost of the brightest source pixel is mirrored about
            # the amplifier boundary (the second amplifier is read out in reverse x).
            sy, sx = np.unravel_index(np.argmax(np.where(ok, source, 0)), source.shape)
            assert ghost[sy, sx] == pytest.approx(det.crosstalk[i, j] * source[sy, sx], abs=1.5)
            assert ghost[sy, sx] > 2.0


def test_nonlinearity_follows_the_camera_curve(tmp_path: Path) -> None:
    on = simulate(effects_only("nonlinearity", overrides=BRIGHT_SCENE), tmp_path / "on")
    off = simulate(effects_only(overrides=BRIGHT_SCENE), tmp_path / "off")
    for (p_on, det_id), (p_off, _) in zip(
        raws_of_kind(on, "science"), raws_of_kind(off, "science"), strict=True
    ):
        det = TINY_CAMERA.get_detector(det_id)
        seg_on, seg_off = segments_in_readout_order(p_on), segments_in_readout_order(p_off)
        for amp in det.amplifiers:
            true, measured = seg_off[amp.name], seg_on[amp.name]
            ok = true < min(amp.saturation, 65535.0) - 1
            assert true[ok].max() > 20000  # the curve is sampled far from zero
            c2 = ((measured - true)[ok] * true[ok] ** 2).sum() / (true[ok] ** 4).sum()
            assert c2 == pytest.approx(amp.linearity_c2, rel=0.01), (det_id, amp.name)
            expected = true + amp.linearity_c2 * true**2
            assert np.abs(measured[ok] - expected[ok]).max() <= 1.01  # two roundings


def _flat_response(result: SimulationResult, flat_level: float) -> list[tuple[int, np.ndarray]]:
    return [
        (d, electrons(p, TINY_CAMERA.get_detector(d)) / flat_level) for p, d in raws_of_kind(result, "flat")
    ]


def test_flat_pixel_response_and_vignetting(tmp_path: Path) -> None:
    rms, vignetting, level = 0.02, 0.3, 20000.0
    config = effects_only(
        "flat",
        overrides=[
            f"effects.pixel_response_rms={rms}",
            f"effects.vignetting={vignetting}",
            "calibrations.n_flat=1",
            f"calibrations.flat_level={level}",
        ],
    )
    result = simulate(config, tmp_path)
    flats = _flat_response(result, level)
    assert len(flats) == len(TINY_CAMERA)  # one flat per detector in the band of the one visit
    r2s, values = [], []
    for det_id, response in flats:
        det = TINY_CAMERA.get_detector(det_id)
        yy, xx = np.mgrid[0 : det.bbox.height, 0 : det.bbox.width]
        fx, fy = det.pixel_to_focal_plane(xx, yy)
        r2s.append(((fx * fx + fy * fy) / TINY_CAMERA.field_radius**2).ravel())
        values.append(response.ravel())
    r2, value = np.concatenate(r2s), np.concatenate(values)
    assert r2.min() < 0.1 and r2.max() > 0.9  # the profile is sampled from centre to edge
    slope, intercept = np.polyfit(r2, value, 1)
    assert intercept == pytest.approx(1.0, abs=2e-3)
    assert -slope == pytest.approx(vignetting, rel=0.02)
    pixel = value / (1.0 - vignetting * r2) - 1.0
    assert pixel.std() == pytest.approx(rms, rel=0.03)
    assert abs(pixel.mean()) < 3e-4
    # white: neighbouring pixels are uncorrelated
    first = pixel[: flats[0][1].size].reshape(flats[0][1].shape)
    assert abs(np.corrcoef(first[:, :-1].ravel(), first[:, 1:].ravel())[0, 1]) < 0.02
    assert abs(np.corrcoef(first[:-1, :].ravel(), first[1:, :].ravel())[0, 1]) < 0.02


def test_bad_columns_at_the_curated_defects(tmp_path: Path) -> None:
    level = 20000.0
    config = effects_only("defects", overrides=["calibrations.n_flat=1", f"calibrations.flat_level={level}"])
    for det_id, response in _flat_response(simulate(config, tmp_path), level):
        det = TINY_CAMERA.get_detector(det_id)
        mask = det.defect_mask()
        assert mask.any()
        np.testing.assert_allclose(response[mask], 0.05, atol=2e-4)
        np.testing.assert_allclose(response[~mask], 1.0, atol=1e-4)
        # the defects are whole stretches of single columns, as the camera YAML lists them
        for box in det.defects:
            assert box.width == 1
            np.testing.assert_allclose(response[box.slices()], 0.05, atol=2e-4)


def test_bias_level_and_row_column_structure(tmp_path: Path) -> None:
    row_amp, col_amp = 3.0, 2.0
    config = effects_only(
        "bias",
        "bias_structure",
        overrides=[
            f"effects.bias_row_amplitude={row_amp}",
            f"effects.bias_column_amplitude={col_amp}",
            "calibrations.n_bias=2",
        ],
    )
    result = simulate(config, tmp_path)
    biases = raws_of_kind(result, "bias")
    assert len(biases) == 2 * len(TINY_CAMERA)
    row_dev, col_dev = [], []
    rows_by_frame: dict[tuple[int, str], list[np.ndarray]] = {}
    for path, det_id in biases:
        det = TINY_CAMERA.get_detector(det_id)
        sig = make_signature(TINY_CAMERA, det, config.effects, config.seed)
        _, amps = read_raw(path)
        for amp in det.amplifiers:
            seg = amps[amp.name][1].astype(float)  # prescan | data | overscan: all carry the bias
            rows, cols = seg.mean(axis=1), seg.mean(axis=0)
            assert seg.mean() == pytest.approx(amp.bias_level, abs=0.6)
            # the column pattern is the detector's static signature (up to digitisation) ...
            expected = sig.column_bias[amp.name]
            np.testing.assert_allclose(cols - cols.mean(), expected - expected.mean(), atol=0.1)
            col_dev.append(cols - cols.mean())
            row_dev.append(rows - rows.mean())
            rows_by_frame.setdefault((det_id, amp.name), []).append(rows)
    assert np.concatenate(col_dev).std() == pytest.approx(col_amp, rel=0.15)
    assert np.concatenate(row_dev).std() == pytest.approx(row_amp, rel=0.06)
    # ... while the row jitter is drawn anew for every exposure.
    for first, second in rows_by_frame.values():
        assert abs(np.corrcoef(first, second)[0, 1]) < 0.3


def test_cosmic_rays_at_the_configured_rate(tmp_path: Path) -> None:
    rate, dark_time = 3.0, 300.0
    config = effects_only(
        "cosmic_rays",
        overrides=[
            f"effects.cosmic_ray_rate={rate}",
            "calibrations.n_dark=2",
            f"calibrations.dark_time={dark_time}",
            "sky.n_moving=0",
        ],
    )
    result = simulate(config, tmp_path / "on")
    eight = np.ones((3, 3), dtype=bool)
    tracks, extents = 0, []
    for path, det_id in raws_of_kind(result, "dark"):
        det = TINY_CAMERA.get_detector(det_id)
        e = electrons(path, det)
        labels, n = ndimage.label(e > 0, structure=eight)
        tracks += n
        for sl in ndimage.find_objects(labels):
            extents.append(np.hypot(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start))
        assert e[e > 0].min() >= 250.0 - det.amplifiers[0].gain  # 500–3000 e- per pixel step
    area_cm2 = sum(d.bbox.area * (d.pixel_size / 10.0) ** 2 for d in TINY_CAMERA)
    expected = rate * area_cm2 * dark_time * config.calibrations.n_dark
    assert abs(tracks - expected) < 4.0 * np.sqrt(expected), (tracks, expected)
    # Tracks are 1–12 px long (a few merge where they cross).
    assert np.mean(np.asarray(extents) <= 12.0 + 2.0 * np.sqrt(2.0)) > 0.95
    # In the science exposure, the tracks are what the simulator counted.
    off = simulate(effects_only(overrides=["sky.n_moving=0"]), tmp_path / "off")
    science_tracks = 0
    for (p_on, det_id), (p_off, _) in zip(
        raws_of_kind(result, "science"), raws_of_kind(off, "science"), strict=True
    ):
        det = TINY_CAMERA.get_detector(det_id)
        diff = electrons(p_on, det) - electrons(p_off, det)
        science_tracks += ndimage.label(diff > 100.0, structure=eight)[1]
    counted = result.counts["cosmic_rays"]
    assert counted - 2 <= science_tracks <= counted
    zero = simulate(effects_only("cosmic_rays", overrides=["effects.cosmic_ray_rate=0"]), tmp_path / "zero")
    assert zero.counts.get("cosmic_rays", 0) == 0
