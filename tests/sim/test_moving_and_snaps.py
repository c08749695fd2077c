# SPDX-License-Identifier: GPL-3.0-or-later
"""Moving objects move at their rate between visits and trail within an exposure; two snaps per
visit are two raw exposures grouped into one visit whose sum matches a one-snap exposure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from astropy.time import Time
from sim_effect_helpers import TINY_CAMERA, effects_only, electrons, raws_of_kind

from skystack.butler import Butler
from skystack.instruments import SimCamTiny
from skystack.instruments.registration import define_visits, ingest_raws, register_instrument
from skystack.sim import SimulationResult, simulate
from skystack.sim.render import render_point_sources
from skystack.sim.sky import ObjectKind
from skystack.utils.persist import load_persistable

EXPOSURE_TIME = 120.0  # long enough for trails of up to 12 px at 0.5 deg/day


@pytest.fixture(scope="module")
def moving_run(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """Three noiseless visits 130 s apart with moving objects only (no stars, no galaxies)."""
    config = effects_only(
        overrides=[
            "sky.star_density=0",
            "sky.n_moving=100",
            "survey.n_visits=3",
            "survey.survey_days=0.5",  # both visits in the same night
            f"survey.exposure_time={EXPOSURE_TIME}",
        ]
    )
    return simulate(config, tmp_path_factory.mktemp("moving"))


def _sky_free_images(result: SimulationResult) -> dict[tuple[int, int], np.ndarray]:
    """``{(visit, detector): electrons - true sky}`` of the science raws."""
    vd = pq.read_table(result.outdir / "truth" / "visit_detector.parquet").to_pandas()
    out = {}
    for path, det_id in raws_of_kind(result, "science"):
        det = TINY_CAMERA.get_detector(det_id)
        visit = int(fits.getheader(path, 0)["GROUPID"])
        row = vd[(vd.visit == visit) & (vd.detector == det_id)].iloc[0]
        nx = det.bbox.width
        sky = row.sky_level * (1.0 + 0.01 * (np.arange(nx) - nx / 2) / nx)
        out[(visit, det_id)] = electrons(path, det) - sky[None, :]
    return out


def _isolated_moving(result: SimulationResult, margin: float, min_sep: float) -> Any:
    fl = pq.read_table(result.outdir / "truth" / "fluxes.parquet").to_pandas()
    keep = []
    for (_, det_id), group in fl.groupby(["visit", "detector"]):
        det = TINY_CAMERA.get_detector(int(det_id))
        x, y = group.x.to_numpy(), group.y.to_numpy()
        d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
        np.fill_diagonal(d, np.inf)
        inside = (
            (x > margin)
            & (x < det.bbox.width - 1 - margin)
            & (y > margin)
            & (y < det.bbox.height - 1 - margin)
        )
        keep.append(group[inside & (d.min(axis=1) > min_sep) & (group.kind == ObjectKind.MOVING).to_numpy()])
    return pd.concat(keep)


def _moments(image: np.ndarray, x: float, y: float, radius: float) -> tuple[float, float, np.ndarray]:
    """Centroid and second-moment matrix of ``image`` within ``radius`` of ``(x, y)``."""
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    w = np.hypot(xx - x, yy - y) < radius
    f = image[w]
    cx, cy = (f * xx[w]).sum() / f.sum(), (f * yy[w]).sum() / f.sum()
    dx, dy = xx[w] - cx, yy[w] - cy
    cov = np.array([[(f * dx * dx).sum(), (f * dx * dy).sum()], [(f * dx * dy).sum(), (f * dy * dy).sum()]])
    return cx, cy, cov / f.sum()


def _still(shape: tuple[int, int], row: Any) -> np.ndarray:
    """The object of truth row ``row`` as if it did not move: the simulator's PSF at its position."""
    image = np.zeros(shape)
    render_point_sources(
        image,
        np.array([row.x]),
        np.array([row.y]),
        np.array([row.flux_electrons]),
        np.array([row.psf_fwhm]),
        3.5,
    )
    return image


def test_moving_objects_are_rendered_at_their_truth_positions(moving_run: SimulationResult) -> None:
    images = _sky_free_images(moving_run)
    rows = _isolated_moving(moving_run, margin=22.0, min_sep=40.0)
    assert len(rows) >= 6
    yy, xx = np.mgrid[0 : TINY_CAMERA.detectors[0].bbox.height, 0 : TINY_CAMERA.detectors[0].bbox.width]
    for row in rows.itertuples():
        image = images[(int(row.visit), int(row.detector))]
        cx, cy, _ = _moments(image, row.x, row.y, 20.0)
        assert abs(cx - row.x) < 0.02 and abs(cy - row.y) < 0.02, row.object_id
        # flux conserved: the same flux within 20 px as the object would have if it stood still
        w = np.hypot(xx - row.x, yy - row.y) < 20.0
        assert image[w].sum() == pytest.approx(_still(image.shape, row)[w].sum(), rel=5e-3)


def test_moving_objects_move_at_their_rate_between_visits(moving_run: SimulationResult) -> None:
    images = _sky_free_images(moving_run)
    wcs_json = json.loads((moving_run.outdir / "truth" / "wcs.json").read_text())
    objects = pq.read_table(moving_run.outdir / "truth" / "objects.parquet").to_pandas().set_index("id")
    rows = _isolated_moving(moving_run, margin=20.0, min_sep=30.0)
    measured: dict[int, list[tuple[float, float, float]]] = {}
    for row in rows.itertuples():
        cx, cy, _ = _moments(images[(int(row.visit), int(row.detector))], row.x, row.y, 15.0)
        wcs = load_persistable(wcs_json[f"{int(row.visit)}_{int(row.detector)}"])
        ra, dec = wcs.pixel_to_sky(cx, cy)
        mid = row.mjd + EXPOSURE_TIME / 172800.0
        measured.setdefault(int(row.object_id), []).append((mid, float(ra), float(dec)))
    tracks = {k: sorted(v) for k, v in measured.items() if len(v) >= 2}
    assert len(tracks) >= 4
    for object_id, track in tracks.items():
        (t0, ra0, dec0), (t1, ra1, dec1) = track[0], track[-1]
        dt = t1 - t0
        assert dt * 86400.0 == pytest.approx((EXPOSURE_TIME + 10.0) * round(dt * 86400.0 / 130.0), abs=1e-3)
        rate_ra = (ra1 - ra0) * np.cos(np.radians(objects.dec[object_id])) / dt
        rate_dec = (dec1 - dec0) / dt
        # 0.03 px (0.006") centroid errors over 130 s are 0.004 deg/day
        assert rate_ra == pytest.approx(objects.rate_ra[object_id], abs=0.004)
        assert rate_dec == pytest.approx(objects.rate_dec[object_id], abs=0.004)
        assert np.hypot(rate_ra, rate_dec) > 0.09  # they do move (0.1–0.5 deg/day)


def test_moving_objects_trail_along_their_motion(moving_run: SimulationResult) -> None:
    """The image of a moving object is its PSF swept along ``rate × exposure time`` during the
    exposure: it matches a finely sampled sweep, and its second moment along the motion exceeds
    the still PSF's by ``L²/12`` (across the motion, by nothing)."""
    images = _sky_free_images(moving_run)
    objects = pq.read_table(moving_run.outdir / "truth" / "objects.parquet").to_pandas().set_index("id")
    wcs_json = json.loads((moving_run.outdir / "truth" / "wcs.json").read_text())
    rows = _isolated_moving(moving_run, margin=25.0, min_sep=50.0)
    assert len(rows) >= 4
    lengths = []
    for row in rows.itertuples():
        image = images[(int(row.visit), int(row.detector))]
        wcs = load_persistable(wcs_json[f"{int(row.visit)}_{int(row.detector)}"])
        days = EXPOSURE_TIME / 86400.0
        rate = np.array(
            [objects.rate_ra[row.object_id] / np.cos(np.radians(row.dec)), objects.rate_dec[row.object_id]]
        )
        frac = (np.arange(400) + 0.5) / 400 - 0.5
        tx, ty = wcs.sky_to_pixel(row.ra + frac * days * rate[0], row.dec + frac * days * rate[1])
        sweep = np.zeros_like(image)
        n = frac.size
        render_point_sources(sweep, tx, ty, np.full(n, row.flux_electrons / n), np.full(n, row.psf_fwhm), 3.5)
        length = float(np.hypot(tx[-1] - tx[0], ty[-1] - ty[0])) * n / (n - 1)
        lengths.append(length)
        yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
        near = np.hypot(xx - row.x, yy - row.y) < 0.5 * length + 3.0 * row.psf_fwhm
        assert np.abs(image - sweep)[near].max() < 0.01 * sweep.max(), row.object_id
        assert image[near].sum() == pytest.approx(sweep[near].sum(), rel=2e-3)
        along = np.array([tx[-1] - tx[0], ty[-1] - ty[0]]) / np.hypot(tx[-1] - tx[0], ty[-1] - ty[0])
        across = np.array([-along[1], along[0]])
        radius = 16.0 + 0.5 * length
        cov = (
            _moments(image, row.x, row.y, radius)[2]
            - _moments(_still(image.shape, row), row.x, row.y, radius)[2]
        )
        assert along @ cov @ along == pytest.approx(length**2 / 12.0, rel=0.1), row.object_id
        assert abs(across @ cov @ across) < 0.15
    assert max(lengths) > 8.0  # trails of several PSF widths were tested


@pytest.fixture(scope="module")
def snap_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[SimulationResult, SimulationResult]:
    """One visit as two 15 s snaps and as one 30 s snap, with photon and read noise and a bias."""
    base = [
        "sky.star_density=200000",
        "sky.star_mag_min=17",  # nothing reaches the ADC limit in 30 s
        "sky.star_mag_max=22",
        "sky.n_moving=0",
        "sky.variable_fraction=0",
        "sky.galaxy_density=20000",
    ]
    path = Path(tmp_path_factory.mktemp("snaps"))
    two = simulate(
        effects_only(
            "photon_noise",
            "read_noise",
            "bias",
            overrides=[*base, "survey.snaps=2", "survey.exposure_time=15"],
        ),
        path / "two",
    )
    one = simulate(
        effects_only(
            "photon_noise",
            "read_noise",
            "bias",
            overrides=[*base, "survey.snaps=1", "survey.exposure_time=30"],
        ),
        path / "one",
    )
    return two, one


def test_two_snaps_are_two_exposures_of_one_visit(
    snap_runs: tuple[SimulationResult, SimulationResult], tmp_path: Path
) -> None:
    two, _ = snap_runs
    assert len(two.raw_files) == 2 * len(TINY_CAMERA)
    headers = [fits.getheader(p, 0) for p in two.raw_files]
    for det in TINY_CAMERA:
        snaps = sorted((h for h in headers if h["DETID"] == det.id), key=lambda h: h["SNAP"])
        assert [h["SNAP"] for h in snaps] == [0, 1]
        assert snaps[0]["GROUPID"] == snaps[1]["GROUPID"] and snaps[0]["EXPID"] != snaps[1]["EXPID"]
        gap = (Time(snaps[1]["DATE-BEG"], scale="tai") - Time(snaps[0]["DATE-END"], scale="tai")).sec
        assert gap == pytest.approx(2.0, abs=1e-3)  # readout between the snaps
    butler = Butler.create(tmp_path / "repo")
    register_instrument(butler, SimCamTiny())
    assert ingest_raws(butler, two.raw_files).n_ingested == len(two.raw_files)
    assert define_visits(butler, "SimCamTiny") == 1
    (visit,) = butler.registry.query_dimension_records("visit")
    assert visit.exposure_time == pytest.approx(30.0)
    defs = butler.registry.fetch_dimension_records("visit_definition", visit=visit.id)
    assert sorted(d.exposure for d in defs) == sorted({h["EXPID"] for h in headers})


def test_sum_of_two_snaps_matches_one_snap(snap_runs: tuple[SimulationResult, SimulationResult]) -> None:
    two, one = snap_runs
    pulls = []
    for det in TINY_CAMERA:
        snaps = [p for p, d in raws_of_kind(two, "science") if d == det.id]
        (single,) = [p for p, d in raws_of_kind(one, "science") if d == det.id]
        bias = np.empty(det.bbox.shape)
        read_var = np.empty(det.bbox.shape)
        for amp in det.amplifiers:
            bias[amp.bbox.slices()] = amp.bias_level * amp.gain
            read_var[amp.bbox.slices()] = amp.read_noise**2 + amp.gain**2 / 12.0  # + digitisation
        total = np.sum([electrons(p, det) - bias for p in snaps], axis=0)
        reference = electrons(single, det) - bias
        assert total.mean() == pytest.approx(reference.mean(), rel=2e-3)
        model = 0.5 * (total + reference)
        pull = (total - reference) / np.sqrt(2.0 * np.clip(model, 0, None) + 3.0 * read_var)
        pulls.append(pull.ravel())
        # the objects (pixels 300 e- above the sky): the same flux in the sum of the snaps as in
        # the single snap, to 1 %
        sky = np.median(model)
        objects = model > sky + 300.0
        assert objects.sum() > 200
        excess = (total[objects] - reference[objects]).sum() / (reference[objects] - sky).sum()
        assert abs(excess) < 0.01
    pull = np.concatenate(pulls)
    assert abs(pull.mean()) < 0.02
    assert pull.std() == pytest.approx(1.0, abs=0.02)
