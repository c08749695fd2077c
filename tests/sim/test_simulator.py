# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulator's outputs are what it claims (tiny preset)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from click.testing import CliRunner

from skystack.cli.simulate import simulate as simulate_cmd
from skystack.geom import SkyWcs
from skystack.instruments import SimCamTiny
from skystack.sim import SimulationResult, SimulatorConfig
from skystack.sim.raw_writer import assemble_raw, read_raw
from skystack.sim.render import moffat_stamp, render_point_sources
from skystack.utils.persist import load_persistable


def _isolated(fl, det: int, visit: int, nx: int, ny: int, min_sep: float = 25.0):
    sel = ((fl["detector"] == det) & (fl["visit"] == visit)).to_numpy()
    x, y = fl["x"].to_numpy()[sel], fl["y"].to_numpy()[sel]
    d = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :])
    np.fill_diagonal(d, np.inf)
    ok = (d.min(axis=1) > min_sep) & (x > 20) & (x < nx - 21) & (y > 20) & (y < ny - 21)
    return np.flatnonzero(sel)[ok]


def test_render_flux_and_centroid() -> None:
    image = np.zeros((64, 64))
    render_point_sources(
        image, np.array([30.37]), np.array([31.81]), np.array([1000.0]), np.array([3.0]), 3.5
    )
    assert image.sum() == pytest.approx(1000.0, rel=1e-12)
    yy, xx = np.mgrid[0:64, 0:64]
    assert abs((image * xx).sum() / 1000.0 - 30.37) < 0.005
    assert abs((image * yy).sum() / 1000.0 - 31.81) < 0.005
    stamp, x0, y0 = moffat_stamp(30.37, 31.81, 3.0, 3.5)
    np.testing.assert_allclose(image[y0 : y0 + stamp.shape[0], x0 : x0 + stamp.shape[1]], 1000 * stamp)


def test_fluxes_and_positions_on_noiseless_raw(clean_run: SimulationResult) -> None:
    fl = pq.read_table(clean_run.truth_dir / "fluxes.parquet").to_pandas()
    vd = pq.read_table(clean_run.truth_dir / "visit_detector.parquet").to_pandas()
    raw = clean_run.raw_files[0]
    primary, image, gains = assemble_raw(raw)
    det = int(primary["DETID"])
    visit = int(primary["EXPID"])
    electrons = image * next(iter(gains.values()))  # both amps: recompute per amp below
    cam = SimCamTiny().camera.get_detector(det)
    for amp in cam.amplifiers:
        electrons[amp.bbox.slices()] = image[amp.bbox.slices()] * amp.gain
    sky = float(vd[(vd.visit == visit) & (vd.detector == det)].sky_level.iloc[0])
    ny, nx = image.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    electrons -= sky * (1.0 + 0.01 * (xx - nx / 2) / nx)
    idx = _isolated(fl, det, visit, nx, ny)
    bright = [i for i in idx if fl.flux_electrons[i] > 2e4]
    assert len(bright) >= 3
    for i in bright:
        x, y, f = fl.x[i], fl.y[i], fl.flux_electrons[i]
        r = np.hypot(xx - x, yy - y) < 12
        stamp, x0, y0 = moffat_stamp(x, y, fl.psf_fwhm[i], 3.5)  # the PSF's share inside the aperture
        sy, sx = np.mgrid[y0 : y0 + stamp.shape[0], x0 : x0 + stamp.shape[1]]
        share = stamp[np.hypot(sx - x, sy - y) < 12].sum()
        assert 0.9 < share < 1.0
        assert electrons[r].sum() == pytest.approx(f * share, rel=5e-3)
        w = np.hypot(xx - x, yy - y) < 8
        cx = (electrons[w] * xx[w]).sum() / electrons[w].sum()
        cy = (electrons[w] * yy[w]).sum() / electrons[w].sum()
        assert abs(cx - x) < 0.02 and abs(cy - y) < 0.02
    # The truth positions come from the true WCS.
    wcs = load_persistable(json.loads((clean_run.truth_dir / "wcs.json").read_text())[f"{visit}_{det}"])
    assert isinstance(wcs, SkyWcs)
    px, py = wcs.sky_to_pixel(fl.ra[bright].to_numpy(), fl.dec[bright].to_numpy())
    np.testing.assert_allclose(px, fl.x[bright], atol=1e-6)
    np.testing.assert_allclose(py, fl.y[bright], atol=1e-6)


def test_reported_wcs_is_off_by_arcseconds(tiny_run: SimulationResult) -> None:
    primary, _ = read_raw(tiny_run.raw_files[0])
    reported = SkyWcs.from_fits_header(primary)
    true = load_persistable(
        json.loads((tiny_run.truth_dir / "wcs.json").read_text())[f"{primary['EXPID']}_{primary['DETID']}"]
    )
    ra1, dec1 = reported.pixel_to_sky(128.0, 128.0)
    ra2, dec2 = true.pixel_to_sky(128.0, 128.0)
    sep = np.hypot((ra1 - ra2) * np.cos(np.radians(dec1)), dec1 - dec2) * 3600
    assert 0.05 < sep < 60.0


def test_header_translation(tiny_run: SimulationResult) -> None:
    visits = json.loads((tiny_run.truth_dir / "visits.json").read_text())
    tr = SimCamTiny().get_translator()
    primary, _ = read_raw(tiny_run.raw_files[0])
    info = tr.to_observation_info(primary, str(tiny_run.raw_files[0]))
    v = visits[0]
    assert info.exposure_id == v["exposure_ids"][0] and info.band == v["band"]
    assert info.boresight_ra == pytest.approx(v["reported_ra"]) and info.airmass == pytest.approx(
        v["airmass"]
    )
    assert info.timespan_mjd[0] == pytest.approx(v["mjd"], abs=1e-8)
    assert info.exposure_time == v["exposure_time"] and info.detector_id == int(primary["DETID"])
    rec = info.to_exposure_record()
    assert rec["id"] == info.exposure_id and "detector_id" not in rec


def test_overscan_is_bias_plus_read_noise(tiny_run: SimulationResult) -> None:
    _, amps = read_raw(tiny_run.raw_files[0])
    cam = SimCamTiny().camera.get_detector(0)
    for amp in cam.amplifiers:
        h, seg = amps[amp.name]
        over = seg[amp.raw_serial_overscan_bbox.slices()].astype(float)
        assert abs(np.median(over) - amp.bias_level) < 10
        row_removed = over - over.mean(axis=1, keepdims=True)
        col_removed = row_removed - row_removed.mean(axis=0, keepdims=True)
        assert col_removed.std() == pytest.approx(amp.read_noise / amp.gain, rel=0.1)
        assert h["DATASEC"] == f"[9:{8 + amp.bbox.width},1:{amp.bbox.height}]"


def test_effects_switch(tiny_run: SimulationResult, clean_run: SimulationResult) -> None:
    assert tiny_run.counts["cosmic_rays"] > 0 and "cosmic_rays" not in clean_run.counts
    _, amps = read_raw(clean_run.calib_files[0])  # a bias with everything off is exactly zero
    assert all(int(seg.max()) == 0 for _, seg in amps.values())
    _, amps = read_raw(tiny_run.calib_files[0])
    assert all(np.median(seg) > 800 for _, seg in amps.values())


def test_reproducible(tmp_path) -> None:
    config = SimulatorConfig.preset("tiny")
    config.survey.n_visits = 1
    config.calibrations.n_bias = config.calibrations.n_dark = config.calibrations.n_flat = 0
    a = __import__("skystack.sim", fromlist=["simulate"]).simulate(config, tmp_path / "a")
    b = __import__("skystack.sim", fromlist=["simulate"]).simulate(config, tmp_path / "b")
    for fa, fb in zip(a.raw_files, b.raw_files, strict=True):
        with fits.open(fa) as ha, fits.open(fb) as hb:
            assert all(np.array_equal(x.data, y.data) for x, y in zip(ha[1:], hb[1:], strict=True))


def test_refcat(tiny_run: SimulationResult) -> None:
    ref = pq.read_table(tiny_run.refcat_file)
    objects = pq.read_table(tiny_run.truth_dir / "objects.parquet").to_pandas().set_index("id")
    assert ref.num_rows > 0 and ref.schema.field("r_flux").metadata[b"unit"] == b"nJy"
    mags = objects.loc[ref.column("id").to_numpy(), "mag_r"]
    assert (mags < SimulatorConfig.preset("tiny").refcat_mag_max).all()


def test_cli(tmp_path) -> None:
    result = CliRunner().invoke(
        simulate_cmd, [str(tmp_path / "o"), "--preset", "tiny", "--no-progress", "-c", "survey.n_visits=1"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert len(manifest["raw"]) == 2 and manifest["counts"]["visits"] == 1
    bad = CliRunner().invoke(
        simulate_cmd, [str(tmp_path / "p"), "--preset", "tiny", "-c", "survey.n_visits=0"]
    )
    assert bad.exit_code != 0 and "n_visits" in bad.output
