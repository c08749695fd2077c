# SPDX-License-Identifier: GPL-3.0-or-later
"""Instrument registration, raw ingest, visit definition and calibrations on the tiny simulation."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.time import Time

from skystack.butler import Butler, ConflictingDefinitionError, DatasetType, get_storage_class
from skystack.geom import region_contains, unit_vectors_to_radec
from skystack.instruments import SimCamTiny
from skystack.instruments.calib_registration import (
    certify_calibrations,
    curated_calibration_collection,
    write_curated_calibrations,
)
from skystack.instruments.registration import (
    define_visits,
    ingest_raws,
    load_instrument,
    register_instrument,
)
from skystack.sim import SimulationResult, SimulatorConfig, simulate
from skystack.utils.persist import load_persistable

RUN = "SimCamTiny/raw/all"


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    """The tiny preset (2 visits x 2 detectors, 4 calibration exposures)."""
    return simulate(SimulatorConfig.preset("tiny"), tmp_path_factory.mktemp("sim"))


@pytest.fixture
def butler(tmp_path: Path) -> Butler:
    b = Butler.create(tmp_path / "repo")
    register_instrument(b, SimCamTiny())
    return b


def test_register_instrument_records_and_idempotence(tmp_path: Path) -> None:
    b = Butler.create(tmp_path / "repo")
    inst = SimCamTiny()
    assert register_instrument(b, inst) is True
    assert register_instrument(b, inst) is False
    dets = b.registry.fetch_dimension_records("detector", instrument="SimCamTiny")
    assert [d.id for d in dets] == [d.id for d in inst.camera.detectors]
    assert [d.full_name for d in dets] == [d.name for d in inst.camera.detectors]
    filters = {r.name: r.band for r in b.registry.fetch_dimension_records("physical_filter")}
    assert filters == {f.physical_filter: f.band for f in inst.filters}
    (rec,) = b.registry.fetch_dimension_records("instrument")
    assert rec.class_name == "skystack.instruments.simcam:SimCamTiny"
    b.registry.sync_dimension_record(
        "physical_filter", {"instrument": "SimCamTiny", "name": "SimCam-x", "band": "x"}
    )
    assert register_instrument(b, inst) is False  # extra records do not conflict


def test_load_instrument_errors() -> None:
    assert load_instrument("skystack.instruments.simcam:SimCamTiny").name == "SimCamTiny"
    with pytest.raises(ValueError, match="Unknown SimCam instrument 'Nope'"):
        load_instrument("Nope")
    with pytest.raises(ValueError, match="is not an Instrument subclass"):
        load_instrument("skystack.geom:Box2I")
    with pytest.raises(ValueError, match="GenericInstrument.from_fits"):
        load_instrument("skystack.instruments:GenericInstrument")


def test_ingest_raws_exposures_and_reingest(butler: Butler, sim: SimulationResult) -> None:
    result = ingest_raws(butler, [sim.outdir / "raw", sim.outdir / "calib_raw"])
    assert result.ok and result.n_ingested == len(sim.raw_files) + len(sim.calib_files)
    visits = json.loads((sim.outdir / "truth" / "visits.json").read_text())
    science = butler.registry.query_dimension_records(
        "exposure", where="exposure.observation_type = 'science'"
    )
    assert sorted(r.id for r in science) == sorted(v["exposure_ids"][0] for v in visits)
    for v in visits:
        (rec,) = [r for r in science if r.id == v["exposure_ids"][0]]
        assert rec.physical_filter == v["physical_filter"]
        assert rec.exposure_time == pytest.approx(v["exposure_time"])
        assert rec.tracking_ra == pytest.approx(v["reported_ra"], abs=1e-9)
        assert rec.sky_angle == pytest.approx(v["reported_rotation"], abs=1e-9)
        assert rec.airmass == pytest.approx(v["airmass"])
        assert rec.timespan.begin.mjd == pytest.approx(v["mjd"], abs=1e-8)
        assert str(rec.group) == str(v["visit_id"])
    kinds = {r.observation_type for r in butler.registry.query_dimension_records("exposure")}
    assert kinds == {"science", "bias", "dark", "flat"}
    again = ingest_raws(butler, [sim.outdir / "raw", sim.outdir / "calib_raw"], processes=2)
    assert again.n_ingested == 0 and again.n_skipped == result.n_ingested
    assert sorted(r.id for r in again.refs) == sorted(r.id for r in result.refs)
    refs = butler.query_datasets("raw", collections=RUN)
    assert len(refs) == result.n_ingested
    hdus = butler.get(refs[0])
    assert len(hdus) == 1 + len(SimCamTiny().camera.get_detector(int(refs[0].data_id["detector"])).amplifiers)
    assert hdus[1].data.dtype.kind in "iu"


def test_corrupt_and_untranslatable_files_reported(
    butler: Butler, sim: SimulationResult, tmp_path: Path
) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for f in sim.raw_files:
        shutil.copy(f, src / f.name)
    (src / "garbage.fits").write_bytes(b"this is not FITS at all" * 200)
    truncated = src / "truncated.fits"
    truncated.write_bytes(sim.raw_files[0].read_bytes()[:4000])
    from astropy.io import fits

    no_filter = src / "nofilter.fits"
    with fits.open(sim.raw_files[1]) as hdus:
        del hdus[0].header["FILTER"]
        hdus.writeto(no_filter)
    result = ingest_raws(butler, [src])
    assert result.n_ingested == len(sim.raw_files)
    assert set(result.failures) == {str(src / "garbage.fits"), str(truncated), str(no_filter)}
    assert "not a readable FITS file" in result.failures[str(src / "garbage.fits")]
    assert "no 'FILTER' keyword" in result.failures[str(no_filter)]
    assert not result.ok


def test_transfer_modes(butler: Butler, sim: SimulationResult, tmp_path: Path) -> None:
    files = {}
    for mode, f in zip(("symlink", "direct", "move", "link"), sim.raw_files, strict=True):
        files[mode] = tmp_path / f"{mode}_{f.name}"
        shutil.copy(f, files[mode])
        result = ingest_raws(butler, [files[mode]], transfer=mode, run=f"raw/{mode}")
        assert result.ok and result.n_ingested == 1
        (ref,) = result.refs
        path = butler.datastore.path_of(butler.datastore.get_record(ref))
        assert butler.get(ref)[0].header["EXPID"] == int(ref.data_id["exposure"])
        if mode == "symlink":
            assert path.is_symlink() and files[mode].exists() and path.is_relative_to(butler.root)
        elif mode == "direct":
            assert path == files[mode].absolute() and files[mode].exists()
            butler.prune_datasets([ref])
            assert files[mode].exists()  # direct files belong to the user
        elif mode == "move":
            assert not files[mode].exists() and path.is_file() and path.is_relative_to(butler.root)
        else:
            assert os.stat(path).st_ino == os.stat(files[mode]).st_ino
    from skystack.butler.datastore import DatastoreError

    with pytest.raises(DatastoreError, match="unknown transfer mode 'teleport'"):
        butler.datastore.stage_ingest(sim.raw_files[0], get_storage_class("RawFits"), "x", "teleport")


def _truth_wcs(sim: SimulationResult, visit: int, detector: int) -> Any:
    return load_persistable(
        json.loads((sim.outdir / "truth" / "wcs.json").read_text())[f"{visit}_{detector}"]
    )


def _truth_corners(sim: SimulationResult, visit: int, detector: int) -> tuple[np.ndarray, np.ndarray]:
    wcs = _truth_wcs(sim, visit, detector)
    det = SimCamTiny().camera.get_detector(detector)
    xs = np.array([-0.5, det.bbox.width - 0.5, det.bbox.width - 0.5, -0.5, (det.bbox.width - 1) / 2])
    ys = np.array([-0.5, -0.5, det.bbox.height - 0.5, det.bbox.height - 0.5, (det.bbox.height - 1) / 2])
    return wcs.pixel_to_sky(xs, ys)


def test_define_visits_regions_against_truth(butler: Butler, sim: SimulationResult) -> None:
    ingest_raws(butler, [sim.outdir / "raw", sim.outdir / "calib_raw"])
    assert define_visits(butler, "SimCamTiny") == 2
    reg = butler.registry
    before = {r.id: r.to_dict() for r in reg.query_dimension_records("visit")}
    assert define_visits(butler, "SimCamTiny") == 2  # idempotent
    assert {r.id: r.to_dict() for r in reg.query_dimension_records("visit")} == before
    visits = json.loads((sim.outdir / "truth" / "visits.json").read_text())
    assert sorted(before) == sorted(v["visit_id"] for v in visits)
    for v in visits:
        rec = before[v["visit_id"]]
        assert rec["exposure_time"] == pytest.approx(v["exposure_time"])
        assert rec["physical_filter"] == v["physical_filter"]
        assert rec["timespan"].begin.mjd == pytest.approx(v["mjd"], abs=1e-8)
        defs = reg.fetch_dimension_records("visit_definition", visit=v["visit_id"])
        assert [d.exposure for d in defs] == list(v["exposure_ids"])
        for det in SimCamTiny().camera.detectors:
            (vdr,) = reg.fetch_dimension_records(
                "visit_detector_region", visit=v["visit_id"], detector=det.id
            )
            ra, dec = _truth_corners(sim, v["visit_id"], det.id)
            assert region_contains(vdr.region, ra, dec).all()
            assert region_contains(rec["region"], ra, dec).all()
            # The regions are the detector boxes grown by 50 px (10") through the telescope WCS,
            # which is off by a few arcsec: they lie between the true boxes grown by -10 and
            # by 110 px (the telescope error is below 60 px = 12").
            wcs = _truth_wcs(sim, v["visit_id"], det.id)
            box = det.bbox.to_box2d()
            vra, vdec = unit_vectors_to_radec(
                np.array([[p.x(), p.y(), p.z()] for p in vdr.region.getVertices()])
            )
            assert region_contains(wcs.pixel_region(box.grown(110.0)), vra, vdec).all()
            inner = wcs.pixel_to_sky(*box.grown(-10.0).corners().T)
            assert region_contains(vdr.region, *inner).all()
            assert not region_contains(vdr.region, *wcs.pixel_to_sky(*box.grown(150.0).corners().T)).any()
    # an exposure far from the visit's region is not in it
    ids = reg.query_data_ids(
        ["visit", "detector"], where="visit_detector_region.region OVERLAPS CIRCLE(150.0, 2.0, 0.001)"
    )
    assert len(ids) >= 1
    assert (
        reg.query_data_ids(
            ["visit", "detector"], where="visit_detector_region.region OVERLAPS CIRCLE(10.0, 2.0, 0.01)"
        )
        == []
    )


def test_define_visits_two_snaps(tmp_path: Path) -> None:
    config = SimulatorConfig.preset("tiny")
    config.apply_overrides(
        [
            "survey.n_visits=1",
            "survey.snaps=2",
            "calibrations.n_bias=0",
            "calibrations.n_dark=0",
            "calibrations.n_flat=0",
        ]
    )
    res = simulate(config, tmp_path / "sim")
    b = Butler.create(tmp_path / "repo")
    register_instrument(b, SimCamTiny())
    assert ingest_raws(b, res.raw_files).ok
    assert define_visits(b, "SimCamTiny") == 1
    (visit,) = b.registry.query_dimension_records("visit")
    exposures = sorted(b.registry.query_dimension_records("exposure"), key=lambda r: r.id)
    assert len(exposures) == 2 and visit.id == exposures[0].id
    assert visit.exposure_time == pytest.approx(2 * config.survey.exposure_time)
    assert visit.timespan.begin == exposures[0].timespan.begin
    assert visit.timespan.end == exposures[1].timespan.end
    defs = b.registry.fetch_dimension_records("visit_definition", visit=visit.id)
    assert sorted(d.exposure for d in defs) == [r.id for r in exposures]


def test_define_visits_unknown_instrument(butler: Butler) -> None:
    with pytest.raises(LookupError, match="instrument 'HSC' is not registered.*register-instrument"):
        define_visits(butler, "HSC")


def test_curated_calibrations_found_by_exposure(butler: Butler, sim: SimulationResult) -> None:
    ingest_raws(butler, [sim.outdir / "raw"])
    inst = SimCamTiny()
    refs = write_curated_calibrations(butler, inst)
    assert len(refs) == 3 * len(inst.camera)
    assert [r.id for r in write_curated_calibrations(butler, inst)] == [r.id for r in refs]
    exposure = butler.registry.query_dimension_records("exposure")[0].id
    collection = curated_calibration_collection("SimCamTiny")
    for det in inst.camera.detectors:
        truth = inst.curated_calibrations(det.id)
        ref = butler.registry.find_dataset(
            "crosstalk", instrument="SimCamTiny", detector=det.id, exposure=exposure, collections=[collection]
        )
        assert ref is not None
        np.testing.assert_array_equal(butler.get(ref)["coefficients"], truth["crosstalk"])
        defects = butler.get(
            "defects", instrument="SimCamTiny", detector=det.id, exposure=exposure, collections=[collection]
        )
        assert [list(b) for b in defects["bbox"]] == [
            [b.min_x, b.min_y, b.width, b.height] for b in truth["defects"]
        ]
        lin = butler.get(
            "linearizer",
            instrument="SimCamTiny",
            detector=det.id,
            exposure=exposure,
            collections=[collection],
        )
        assert lin["c2"] == [truth["linearity"][a.name] for a in det.amplifiers]


def test_certify_calibrations_validity(butler: Butler, sim: SimulationResult) -> None:
    ingest_raws(butler, [sim.outdir / "raw"])
    exposures = sorted(butler.registry.query_dimension_records("exposure"), key=lambda r: r.id)
    first, last = exposures[0], exposures[-1]
    bias_type = DatasetType("bias", ("instrument", "detector"), "StructuredDataDict", is_calibration=True)
    for det in (0, 1):
        butler.put(
            {"level": np.full(3, 1000.0 + det)},
            bias_type,
            instrument="SimCamTiny",
            detector=det,
            run="calib/bias",
        )
    middle = Time((first.timespan.end.mjd + last.timespan.begin.mjd) / 2, format="mjd", scale="tai")
    refs = certify_calibrations(
        butler, "calib/bias", "SimCamTiny/calib", "bias", begin="2020-01-01", end=middle.isot
    )
    assert len(refs) == 2
    assert (
        len(
            certify_calibrations(
                butler, "calib/bias", "SimCamTiny/calib", "bias", begin="2020-01-01", end=middle.isot
            )
        )
        == 2
    )
    found = butler.registry.find_dataset(
        "bias", instrument="SimCamTiny", detector=1, exposure=first.id, collections=["SimCamTiny/calib"]
    )
    assert found is not None and butler.get(found)["level"][0] == 1001.0
    assert (
        butler.registry.find_dataset(
            "bias", instrument="SimCamTiny", detector=1, exposure=last.id, collections=["SimCamTiny/calib"]
        )
        is None
    )
    with pytest.raises(ValueError, match="begin date 'yesterday' is not an ISO date"):
        certify_calibrations(butler, "calib/bias", "SimCamTiny/calib", "bias", begin="yesterday")
    butler.registry.register_run("calib/empty")
    with pytest.raises(ValueError, match="run 'calib/empty' holds no 'bias' datasets"):
        certify_calibrations(butler, "calib/empty", "SimCamTiny/calib", "bias")


def test_conflicting_skymap_and_records(butler: Butler) -> None:
    from skystack.instruments.skymap_registration import register_skymap
    from skystack.skymap import DiscreteSkyMap, DiscreteSkyMapParams

    sm = DiscreteSkyMap(DiscreteSkyMapParams(ra=(150.0,), dec=(2.0,), radius=(0.05,)))
    ref = register_skymap(butler, "disc", sm)
    assert register_skymap(butler, "disc", sm).id == ref.id
    assert butler.get(ref) == sm
    tract = sm[0]
    patches = butler.registry.fetch_dimension_records("patch", skymap="disc")
    assert len(patches) == len(tract)
    for rec in patches:
        patch = tract.patch_from_sequential_index(rec.id)
        assert (rec.cell_x, rec.cell_y) == (patch.index.x, patch.index.y)
        c = tract.wcs.pixel_to_sky_point(*patch.inner_bbox.center)
        assert region_contains(rec.region, c.ra_deg, c.dec_deg)
    other = DiscreteSkyMap(DiscreteSkyMapParams(ra=(151.0,), dec=(2.0,), radius=(0.05,)))
    with pytest.raises(ConflictingDefinitionError, match="skymap 'disc' is already registered"):
        register_skymap(butler, "disc", other)
