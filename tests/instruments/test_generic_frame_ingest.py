# SPDX-License-Identifier: GPL-3.0-or-later
"""Real single-detector frames through the generic instrument and the ``butler`` commands:
``register-instrument --from-fits``, ``ingest-raws``, ``define-visits``; the exposure records match
the headers and the visit regions cover the frames' WCS footprints."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time
from click.testing import CliRunner

from skystack.butler import Butler
from skystack.cli.butler import main as butler_main
from skystack.geom import SkyWcs, region_contains
from skystack.instruments.generic import find_image_hdu

PADDING = 50.0  # define-visits' default growth of each detector box (pixels)


def _run(args: list[str], code: int = 0) -> str:
    result = CliRunner().invoke(butler_main, args)
    assert result.exit_code == code, result.output
    return result.output


def _image_header(path: Path) -> tuple[fits.Header, fits.Header, SkyWcs]:
    """Primary header, image-HDU header and WCS of a frame."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(path) as hdus:
            index, wcs = find_image_hdu(hdus, str(path))
            return hdus[0].header.copy(), hdus[index].header.copy(), wcs


def _edge_points(width: int, height: int, grow: float, n: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Points along the edges of the pixel box ``[-0.5, width - 0.5] × [-0.5, height - 0.5]``, grown
    by ``grow`` pixels."""
    x0, x1, y0, y1 = -0.5 - grow, width - 0.5 + grow, -0.5 - grow, height - 0.5 + grow
    t = np.linspace(0.0, 1.0, n)
    xs = np.concatenate([x0 + t * (x1 - x0), np.full(n, x1), x1 - t * (x1 - x0), np.full(n, x0)])
    ys = np.concatenate([np.full(n, y0), y0 + t * (y1 - y0), np.full(n, y1), y1 - t * (y1 - y0)])
    return xs, ys


def _check_frame(butler: Butler, instrument: str, path: Path) -> int:
    """The exposure, visit and regions of one ingested frame agree with its header; returns the visit id."""
    primary, header, wcs = _image_header(path)
    date_obs = header.get("DATE-OBS", primary.get("DATE-OBS"))
    exptime = float(header.get("EXPTIME", primary.get("EXPTIME")))
    physical_filter = str(header.get("FILTER", primary.get("FILTER"))).strip()
    begin = Time(date_obs, scale="utc")
    (exposure,) = [
        r
        for r in butler.registry.query_dimension_records("exposure", data_id={"instrument": instrument})
        if abs((r.timespan.begin - begin).sec) < 1e-3
    ]
    assert exposure.exposure_time == exptime
    assert (exposure.timespan.end - exposure.timespan.begin).sec == pytest.approx(exptime, abs=1e-6)
    assert exposure.physical_filter == physical_filter
    assert exposure.observation_type == "science"
    if "MJD-OBS" in primary:  # the header's own MJD agrees with the recorded start (UTC)
        assert exposure.timespan.begin.utc.mjd == pytest.approx(float(primary["MJD-OBS"]), abs=2e-8)
    airmass = header.get("AIRMASS", primary.get("AIRMASS"))
    if airmass is not None:
        assert exposure.airmass == pytest.approx(float(airmass))
    ny, nx = int(header["NAXIS2"]), int(header["NAXIS1"])
    ra_c, dec_c = wcs.pixel_to_sky((nx - 1) / 2.0, (ny - 1) / 2.0)
    assert exposure.tracking_ra == pytest.approx(float(ra_c), abs=1e-9)
    assert exposure.tracking_dec == pytest.approx(float(dec_c), abs=1e-9)

    (definition,) = butler.registry.fetch_dimension_records("visit_definition", exposure=exposure.id)
    (visit,) = [r for r in butler.registry.query_dimension_records("visit") if r.id == definition.visit]
    assert visit.exposure_time == exptime and visit.physical_filter == physical_filter
    (vdr,) = butler.registry.fetch_dimension_records("visit_detector_region", visit=visit.id, detector=0)
    # The region covers the frame's whole WCS footprint (edges sampled densely) ...
    footprint = wcs.pixel_to_sky(*_edge_points(nx, ny, 0.0))
    assert region_contains(vdr.region, *footprint).all()
    assert region_contains(visit.region, *footprint).all()
    assert region_contains(vdr.region, *wcs.pixel_to_sky(nx / 2.0, ny / 2.0)).all()
    # ... with the define-visits padding and not much more.
    assert region_contains(vdr.region, *wcs.pixel_to_sky(*_edge_points(nx, ny, PADDING - 2.0))).all()
    assert not region_contains(vdr.region, *wcs.pixel_to_sky(*_edge_points(nx, ny, PADDING + 10.0))).any()
    # the stored raw is the file as written
    (ref,) = butler.query_datasets(
        "raw",
        collections=f"{instrument}/raw/all",
        data_id={"instrument": instrument, "exposure": exposure.id, "detector": 0},
    )
    with fits.open(path) as original:
        stored = butler.get(ref)
        assert len(stored) == len(original)
        for a, b in zip(original, stored, strict=True):
            if a.data is not None:
                np.testing.assert_array_equal(a.data, b.data)
    return int(visit.id)


def test_real_frame_register_ingest_define_visits(tmp_path: Path, real_data_dir: Path) -> None:
    frame = real_data_dir / "single_frames" / "feder_eyuma_r_thumbnail.fit.gz"
    repo = str(tmp_path / "repo")
    _run(["create", repo])
    out = _run(["register-instrument", repo, "AspenCG16", "--from-fits", str(frame)])
    assert "Instrument AspenCG16 registered (1 detectors, 1 filters)" in out
    assert "already registered" in _run(["register-instrument", repo, "AspenCG16", "--from-fits", str(frame)])
    # A corrupt file and a frame without a celestial WCS fail by name while the good frame ingests.
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "corrupt.fits").write_bytes(frame.read_bytes()[:3000])
    no_wcs = real_data_dir / "single_frames" / "saao_ste3_raw_a8280271.fits"
    out = _run(["ingest-raws", repo, str(frame), str(bad / "corrupt.fits"), str(no_wcs)], code=1)
    assert "Ingested 1 raw file(s)" in out
    assert f"FAILED {bad / 'corrupt.fits'}: not a readable FITS file" in out
    assert f"FAILED {no_wcs}:" in out and "no image HDU has a celestial WCS" in out
    assert "2 file(s) were not ingested" in out
    assert "Ingested 0 raw file(s); 1 already present" in _run(["ingest-raws", repo, str(frame)])
    assert "Defined 1 visit(s) of AspenCG16" in _run(["define-visits", repo, "AspenCG16"])
    butler = Butler(repo)
    visit = _check_frame(butler, "AspenCG16", frame)
    assert visit == 20180417033522
    (exposure,) = butler.registry.query_dimension_records("exposure")
    assert exposure.timespan.begin.utc.isot == "2018-04-17T03:35:22.000"  # DATE-OBS, in UTC
    assert exposure.timespan.begin.scale == "tai"
    (flt,) = butler.registry.fetch_dimension_records("physical_filter", instrument="AspenCG16")
    assert (flt.name, flt.band) == ("r", "r")


def test_real_decam_cutouts_multi_epoch(tmp_path: Path, real_data_dir: Path) -> None:
    """Six DECam CP cutouts of one field (multi-extension files, TPV WCS, ``OBSTYPE = object``)
    become six science visits in three bands, each region covering its frame; the Gaia stars of
    the field fall inside the regions."""
    case = real_data_dir / "legacypipe_testcases" / "testcase6"
    frames = sorted(case.glob("images/decam/**/*_ooi_*.fits"))
    assert len(frames) == 6
    repo = str(tmp_path / "repo")
    _run(["create", repo])
    _run(["register-instrument", repo, "DECam", "--from-fits", str(frames[0])])
    assert "Ingested 6 raw file(s)" in _run(["ingest-raws", repo, *map(str, frames), "-j", "2"])
    assert "Defined 6 visit(s) of DECam" in _run(["define-visits", repo, "DECam"])
    butler = Butler(repo)
    visits = {_check_frame(butler, "DECam", f) for f in frames}
    assert len(visits) == 6
    bands = {r.band for r in butler.registry.fetch_dimension_records("physical_filter", instrument="DECam")}
    assert bands == {"g", "r", "z"}
    gaia = np.concatenate(
        [
            np.stack([Table.read(f)["ra"], Table.read(f)["dec"]], axis=1)
            for f in sorted(case.glob("gaia/chunk-*.fits"))
        ]
    )
    for visit in visits:
        (vdr,) = butler.registry.fetch_dimension_records("visit_detector_region", visit=visit, detector=0)
        assert region_contains(vdr.region, gaia[:, 0], gaia[:, 1]).sum() >= 1
