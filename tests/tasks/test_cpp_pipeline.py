# SPDX-License-Identifier: GPL-3.0-or-later
"""Calibration products → certification → ISR on a simulated ``tiny`` repository, against its truth.

The module simulates one SimCamTiny survey with more calibration frames than the preset (so that
the clipped combinations have something to clip), ingests it, and runs the calibration-products
pipeline one subset at a time with ``pipetask run``, certifying each product with ``butler
certify-calibrations`` before the next, then ISR on the science exposures. The tests compare every
product with the simulator's truth (`skystack.sim.detector_effects`): the bias structure, dark
current and hot pixels, pixel response and vignetting, the curated bad columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from skystack.algorithms.isr import IsrInputError, combine_clipped, defect_mask, readout_view
from skystack.algorithms.statistics import MAD_TO_SIGMA
from skystack.butler import Butler
from skystack.cli.butler import main as butler_main
from skystack.cli.pipetask import main as pipetask_main
from skystack.cli.skystack import main as skystack_main
from skystack.instruments import get_simcam
from skystack.pipe.graph import QuantumGraph
from skystack.sim import SimulatorConfig, render_electrons
from skystack.sim.detector_effects import make_signature
from skystack.sim.sky import make_sky
from skystack.sim.survey import make_survey
from skystack.tasks.cpp import BiasTask, DarkConnections, DarkTask, DefectsTask, FlatConnections, FlatTask
from skystack.tasks.isr import IsrConfig, IsrConnections
from skystack.tasks.isr_io import boxes_to_defects, defects_to_boxes, mask_to_boxes

CPP = "$SKYSTACK_CONFIG/pipelines/cpp.yaml"
ISR = "$SKYSTACK_CONFIG/pipelines/isr.yaml"
INSTRUMENT = "SimCamTiny"
N_BIAS, N_DARK, N_FLAT = 5, 5, 3
SIM_OPTIONS = [
    f"calibrations.n_bias={N_BIAS}",
    f"calibrations.n_dark={N_DARK}",
    f"calibrations.n_flat={N_FLAT}",
    "effects.hot_pixel_fraction=0.0005",  # ~30 hot pixels per 256x256 detector
    "sky.star_mag_max=16",  # bright stars only: saturated ones on every detector
]
# The calibration raws are taken on 2024-12-31; the science exposures on 2025-01-07 and 2025-02-25.
EPOCH = "2024-12-31T00:00:00"
SWITCH = "2025-02-01T00:00:00"


@dataclass
class Repo:
    """The simulated repository after the whole calibration and ISR run."""

    root: Path
    config: SimulatorConfig
    graphs: dict[str, QuantumGraph]

    @property
    def butler(self) -> Butler:
        return Butler(str(self.root / "repo"))

    @property
    def camera(self) -> Any:
        return get_simcam(self.config.instrument).camera

    def signature(self, detector: Any) -> Any:
        return make_signature(self.camera, detector, self.config.effects, self.config.seed)


def _invoke(main: Any, args: list[str]) -> str:
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _pipetask(root: Path, spec: str, inputs: str, run: str, where: str, *extra: str) -> QuantumGraph:
    saved = root / f"{run.replace('/', '_')}.qgraph.json.gz"
    args = ["run", "-b", str(root / "repo"), "-i", inputs, "-o", run.rsplit("/", 1)[0], "--output-run", run]
    args += ["-p", spec, "--instrument", INSTRUMENT, "--register-dataset-types", "--no-progress"]
    args += ["--save-qgraph", str(saved), *(["-d", where] if where else []), *extra]
    _invoke(pipetask_main, args)
    return QuantumGraph.load(saved)


def _certify(root: Path, run: str, dataset_type: str, begin: str, end: str | None = None) -> None:
    args = ["certify-calibrations", str(root / "repo"), run, "cpp/calib", "--dataset-type", dataset_type]
    args += ["--begin-date", begin, *(["--end-date", end] if end else [])]
    _invoke(butler_main, args)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Repo:
    root = tmp_path_factory.mktemp("cpp")
    opts = [a for o in SIM_OPTIONS for a in ("-c", o)]
    sim = ["simulate", str(root / "sim"), "--preset", "tiny", "--repo", str(root / "repo")]
    _invoke(skystack_main, [*sim, *opts, "--no-progress"])
    manifest = json.loads((root / "sim" / "manifest.json").read_text())
    config = SimulatorConfig.from_dict(manifest["config"])
    calib_in = f"cpp/calib,{INSTRUMENT}/defaults"
    graphs = {}
    kind = "exposure.observation_type = '{}'"
    graphs["bias1"] = _pipetask(
        root, f"{CPP}#bias", f"{INSTRUMENT}/defaults", "cpp/bias/run1", kind.format("bias")
    )
    # a second bias from the last three frames only, valid from SWITCH on: ISR must pick by time
    graphs["bias2"] = _pipetask(
        root,
        f"{CPP}#bias",
        f"{INSTRUMENT}/defaults",
        "cpp/bias/run2",
        kind.format("bias") + " AND exposure.seq_num > 90002",
    )
    _certify(root, "cpp/bias/run1", "bias", EPOCH, SWITCH)
    _certify(root, "cpp/bias/run2", "bias", SWITCH)
    graphs["dark"] = _pipetask(root, f"{CPP}#dark", calib_in, "cpp/dark/run", kind.format("dark"))
    _certify(root, "cpp/dark/run", "dark", EPOCH)
    graphs["flat"] = _pipetask(root, f"{CPP}#flat", calib_in, "cpp/flat/run", kind.format("flat"))
    _certify(root, "cpp/flat/run", "flat", EPOCH)
    graphs["defects"] = _pipetask(root, f"{CPP}#defects", calib_in, "cpp/defects/run", "")
    _certify(root, "cpp/defects/run", "defects", EPOCH)
    graphs["isr"] = _pipetask(root, ISR, calib_in, "isr/run", kind.format("science"))
    return Repo(root, config, graphs)


def _exposure_records(butler: Butler) -> dict[int, Any]:
    return {r.id: r for r in butler.registry.query_dimension_records("exposure")}


# -- quantum graphs: the right raws and calibrations ------------------------------------------------
def test_where_clause_selects_the_raws_each_master_combines(repo: Repo) -> None:
    with repo.butler as butler:
        records = _exposure_records(butler)
    for name, kind, n in (("bias1", "bias", N_BIAS), ("bias2", "bias", 3), ("dark", "dark", N_DARK)):
        quanta = repo.graphs[name].quanta
        assert len(quanta) == len(repo.camera)  # one per detector
        for q in quanta:
            exposures = [r.data_id["exposure"] for r in q.inputs["raws"]]
            assert len(exposures) == n and {records[e].observation_type for e in exposures} == {kind}
            assert {r.data_id["detector"] for r in q.inputs["raws"]} == {q.data_id["detector"]}
    flats = repo.graphs["flat"].quanta
    bands = set(repo.config.survey.bands)
    assert len(flats) == len(repo.camera) * len(bands)  # per detector and filter with flats
    for q in flats:
        exposures = [r.data_id["exposure"] for r in q.inputs["raws"]]
        assert len(exposures) == N_FLAT
        assert {records[e].physical_filter for e in exposures} == {q.data_id["physical_filter"]}
        assert {records[e].observation_type for e in exposures} == {"flat"}


def test_calibrations_are_found_by_time(repo: Repo) -> None:
    # the darks and flats (taken on 2024-12-31) use the first bias
    for name in ("dark", "flat"):
        assert {q.inputs["bias"][0].run for q in repo.graphs[name].quanta} == {"cpp/bias/run1"}
    with repo.butler as butler:
        records = _exposure_records(butler)
    isr = repo.graphs["isr"].quanta
    assert len(isr) == len(repo.camera) * repo.config.survey.n_visits
    for q in isr:
        record = records[q.data_id["exposure"]]
        expected = "cpp/bias/run1" if record.timespan.begin.isot < SWITCH else "cpp/bias/run2"
        assert q.inputs["bias"][0].run == expected
        assert q.inputs["dark"][0].run == "cpp/dark/run"
        assert q.inputs["defects"][0].run == "cpp/defects/run"  # cpp/calib before the curated ones
        flat = q.inputs["flat"][0]
        assert flat.run == "cpp/flat/run"
        assert flat.data_id["physical_filter"] == record.physical_filter
        assert flat.data_id["detector"] == q.data_id["detector"]
    assert {q.inputs["bias"][0].run for q in isr} == {"cpp/bias/run1", "cpp/bias/run2"}


# -- the products against the simulator's truth -------------------------------------------------------
def _clip_factor(n: int) -> float:
    """Noise of `combine_clipped` of ``n`` unit-Gaussian frames, times √n (≥ 1: clipping costs a little)."""
    frames = np.random.default_rng(3).normal(size=(n, 256, 256)).astype(np.float32)
    return float(np.std(combine_clipped(list(frames))) * np.sqrt(n))


def _truth_bias(detector: Any, signature: Any) -> np.ndarray:
    """SimCam's fixed column pattern (electrons) left after a per-row overscan subtraction."""
    truth = np.zeros(detector.bbox.shape)
    for amp in detector.amplifiers:
        pattern = signature.column_bias[amp.name]
        data = pattern[amp.raw_data_bbox.slices()[1]]
        overscan = pattern[amp.raw_serial_overscan_bbox.slices()[1]]
        readout_view(truth, amp)[...] = amp.gain * (data - overscan.mean())[None, :]
    return truth


def test_master_bias_matches_the_truth_structure(repo: Repo) -> None:
    with repo.butler as butler:
        for det in repo.camera:
            truth = _truth_bias(det, repo.signature(det))
            bias = butler.get("bias", instrument=INSTRUMENT, detector=det.id, collections="cpp/bias/run1")
            assert bias.metadata["OBSTYPE"] == "bias" and bias.metadata["NCOMBINE"] == N_BIAS
            residual = bias.image.array - truth
            for amp in det.amplifiers:
                n_os = amp.raw_serial_overscan_bbox.width
                # read noise of N frames, their per-row overscan levels, and the cost of clipping
                expected = amp.read_noise * np.sqrt(1 + 1 / n_os) / np.sqrt(N_BIAS) * _clip_factor(N_BIAS)
                r = residual[amp.bbox.slices()]
                structure = truth[amp.bbox.slices()].std()
                assert structure > expected, "the truth structure must be visible above the noise"
                assert 0.85 * expected < r.std() < 1.15 * expected, (r.std(), expected)
                assert abs(r.mean()) < 3 * expected / np.sqrt(r.size) + 0.05 * expected
                # column pattern removed: column means agree with the truth to their noise
                col = r.mean(axis=0)
                assert col.std() < 2 * expected / np.sqrt(r.shape[0]), (col.std(), expected)
                # the variance plane is the variance of the mean (no clipping, overscan noise)
                var = np.median(bias.variance.array[amp.bbox.slices()])
                assert 0.8 * amp.read_noise**2 / N_BIAS < var < 1.2 * amp.read_noise**2 / N_BIAS


def test_master_dark_matches_dark_current_and_hot_pixels(repo: Repo) -> None:
    eff = repo.config.effects
    t = repo.config.calibrations.dark_time
    with repo.butler as butler:
        for det in repo.camera:
            sig = repo.signature(det)
            hot = np.zeros(det.bbox.shape, dtype=bool)
            hot[sig.hot_pixels[:, 0], sig.hot_pixels[:, 1]] = True
            assert hot.sum() > 10
            dark = butler.get("dark", instrument=INSTRUMENT, detector=det.id, collections="cpp/dark/run")
            rate = dark.image.array
            normal = rate[~hot]
            # dark current: 0.02 e-/s, measured over 65k pixels to far better than 5 %
            assert abs(np.median(normal) - eff.dark_current) < 0.05 * eff.dark_current
            # per-pixel noise: dark shot noise and read noise of N clipped frames, plus the
            # master bias' noise common to them all
            read = np.mean([a.read_noise for a in det.amplifiers])
            frame = np.sqrt(eff.dark_current * t + read**2) / t
            bias_noise = read / np.sqrt(N_BIAS) * _clip_factor(N_BIAS) / t
            expected = np.hypot(frame / np.sqrt(N_DARK) * _clip_factor(N_DARK), bias_noise)
            robust = MAD_TO_SIGMA * np.median(np.abs(normal - np.median(normal)))
            assert 0.85 * expected < robust < 1.15 * expected, (robust, expected)
            # hot pixels at their rate (their shot noise: sqrt(rate t) / t / sqrt(N))
            hot_noise = np.sqrt(eff.hot_pixel_current * t) / t / np.sqrt(N_DARK)
            assert np.all(np.abs(rate[hot] - eff.hot_pixel_current - eff.dark_current) < 5 * hot_noise)
            # cosmic rays of the darks are clipped: no other pixel is far off
            assert np.sum(np.abs(normal - eff.dark_current) > 10 * expected) <= 2


def test_master_flat_matches_pixel_response_and_vignetting(repo: Repo) -> None:
    level = repo.config.calibrations.flat_level
    with repo.butler as butler:
        for det in repo.camera:
            truth = repo.signature(det).flat
            good = ~det.defect_mask()
            truth = truth / truth[good].mean()
            for pf in sorted({f"SimCam-{b}" for b in repo.config.survey.bands}):
                flat = butler.get(
                    "flat",
                    instrument=INSTRUMENT,
                    detector=det.id,
                    physical_filter=pf,
                    collections="cpp/flat/run",
                )
                f = flat.image.array
                assert flat.metadata["FILTER"] == pf and abs(f[good].mean() - 1) < 1e-5
                ratio = f[good] / truth[good]
                expected = 1 / np.sqrt(level * N_FLAT) * _clip_factor(N_FLAT)  # photon noise
                assert ratio.std() < 1.15 * expected, (ratio.std(), expected)
                assert abs(ratio.mean() - 1) < 1e-4
                # the pixel response (1 % rms) is followed, not smoothed away
                assert np.corrcoef(f[good], truth[good])[0, 1] > 0.85
                # large scales (vignetting) to the noise of 16x16-pixel bins
                diff = np.where(good, f / truth - 1, 0.0)
                ny, nx = diff.shape
                bins = diff.reshape(ny // 16, 16, nx // 16, 16).mean(axis=(1, 3))
                assert np.abs(bins).max() < 5 * expected / 16 + 3e-4
                # the curated bad columns (5 % response) are there
                assert np.all(f[~good] < 0.1)
                rel = np.sqrt(flat.variance.array[good]) / f[good]
                assert 0.9 < np.median(rel) / (1 / np.sqrt(level * N_FLAT)) < 1.1


def test_defects_are_the_hot_pixels_and_bad_columns(repo: Repo) -> None:
    with repo.butler as butler:
        for det in repo.camera:
            sig = repo.signature(det)
            truth = det.defect_mask().copy()
            truth[sig.hot_pixels[:, 0], sig.hot_pixels[:, 1]] = True
            stored = butler.get(
                "defects", instrument=INSTRUMENT, detector=det.id, collections="cpp/defects/run"
            )
            found = defect_mask(det.bbox.shape, defects_to_boxes(stored))
            assert np.all(found[truth]), f"missed {(truth & ~found).sum()} defective pixels"
            assert (found & ~truth).sum() <= 3  # coincident cosmic rays in 3+ of the 5 darks are rare


# -- ISR of the science exposures -----------------------------------------------------------------------
def test_post_isr_is_in_electrons_with_masks(repo: Repo) -> None:
    cfg, cam = repo.config, repo.camera
    visits = {v.exposure_ids[0]: v for v in make_survey(cfg, cam)}
    radius = cam.field_radius * cam.plate_scale / 3600.0 + 3 * cfg.survey.dither + 0.01
    sky = make_sky(cfg.sky, cfg.survey.ra, cfg.survey.dec, radius, cfg.survey.start_mjd, cfg.seed)
    n_sat = 0
    with repo.butler as butler:
        for q in repo.graphs["isr"].quanta:
            det = cam.get_detector(q.data_id["detector"])
            visit = visits[q.data_id["exposure"]]
            post = butler.get("post_isr", q.outputs["post_isr"][0].data_id, collections="isr/run")
            assert post.visit_info.exposure_id == visit.exposure_ids[0] and post.wcs is not None
            assert post.visit_info.physical_filter == visit.physical_filter
            flat = butler.get(q.inputs["flat"][0])
            scene, _ = render_electrons(cfg, cam, det, visit, sky, visit.snap_mjd(0), None)
            expected = scene * repo.signature(det).flat / flat.image.array
            mask = post.mask
            good = post.mask.array == 0
            pull = (post.image.array - expected)[good] / np.sqrt(post.variance.array[good])
            width = MAD_TO_SIGMA * np.median(np.abs(pull - np.median(pull)))
            assert abs(np.median(pull)) < 0.05 and 0.95 < width < 1.05, (np.median(pull), width)
            # saturated stars: SAT where the true charge is beyond the full well
            full = scene * repo.signature(det).flat > 1.02 * cfg.effects.full_well
            n_sat += int(full.sum())
            assert mask.get_plane("SAT")[full].all()
            # defects (the certified ones: bad columns and hot pixels) are BAD and interpolated
            sig = repo.signature(det)
            assert mask.get_plane("BAD")[det.defect_mask()].all()
            assert mask.get_plane("BAD")[sig.hot_pixels[:, 0], sig.hot_pixels[:, 1]].all()
            assert mask.get_plane("INTRP")[det.defect_mask()].all()
    assert n_sat > 0, "the scene must hold saturated stars for the SAT check to mean something"


# -- errors and config-driven connections --------------------------------------------------------------
def test_missing_bias_is_explained(repo: Repo) -> None:
    args = ["qgraph", "-b", str(repo.root / "repo"), "-i", f"{INSTRUMENT}/defaults", "-o", "u/x"]
    args += ["-p", ISR, "--instrument", INSTRUMENT, "-d", "exposure.observation_type = 'science'"]
    result = CliRunner().invoke(pipetask_main, args)
    assert result.exit_code != 0
    assert "missing bias (bias) for 4, dark (dark) for 4, flat (flat) for 4 of 4 quanta" in result.output
    assert "the quantum graph is empty" in result.output
    # without the bias step the bias is not needed
    args += ["-c", "isr:do_bias=False", "-c", "isr:do_dark=False", "-c", "isr:do_flat=False"]
    result = CliRunner().invoke(pipetask_main, [*args, "--show", "graph"])
    assert result.exit_code == 0, result.output
    assert "bias" not in result.output and "defects[1]" in result.output


def test_dark_without_certified_bias_is_explained(repo: Repo) -> None:
    args = ["qgraph", "-b", str(repo.root / "repo"), "-i", f"{INSTRUMENT}/defaults", "-o", "u/x"]
    args += ["-p", f"{CPP}#dark", "--instrument", INSTRUMENT, "-d", "exposure.observation_type = 'dark'"]
    result = CliRunner().invoke(pipetask_main, args)
    assert result.exit_code != 0 and "missing bias (bias) for 2 of 2 quanta" in result.output


def test_connections_follow_the_config() -> None:
    config = IsrConfig()
    assert {"bias", "dark", "flat", "defects"} <= set(IsrConnections(config=config).prerequisite_inputs)
    config.do_bias = False
    config.do_flat = False
    conns = IsrConnections(config=config)
    assert "bias" not in conns.connections and "flat" not in conns.prerequisite_inputs
    assert {"raw", "dark", "defects", "post_isr"} <= set(conns.connections)
    dark = DarkTask().config.copy()
    dark.isr.do_bias = False
    assert "bias" not in DarkConnections(config=dark).connections
    flat = FlatTask().config.copy()
    assert {"bias", "dark"} <= set(FlatConnections(config=flat).prerequisite_inputs)
    assert FlatConnections(config=flat).flat.is_calibration  # type: ignore[attr-defined]


def test_butler_free_errors_name_the_fix() -> None:
    det = get_simcam(INSTRUMENT).camera.get_detector(0)
    with pytest.raises(IsrInputError, match=r"no raw bias exposures .*observation_type = 'bias'"):
        BiasTask().run([], detector=det)
    with pytest.raises(IsrInputError, match="needs the master dark"):
        DefectsTask().run(flats=[np.ones((4, 4))])
    with pytest.raises(IsrInputError, match="step 'bias'"):
        DarkTask().run([{}], detector=det, dark_times=[1.0])


def test_mask_to_boxes_round_trip() -> None:
    rng = np.random.default_rng(0)
    mask = rng.random((40, 30)) < 0.05
    mask[:, 7] = True  # a bad column is one box
    rows = mask_to_boxes(mask)
    assert np.array_equal(defect_mask(mask.shape, defects_to_boxes(boxes_to_defects(rows))), mask)
    assert [7, 0, 1, 40] in rows.tolist()
    assert mask_to_boxes(np.zeros((3, 3), bool)).shape == (0, 4)
