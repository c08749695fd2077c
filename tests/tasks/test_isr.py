# SPDX-License-Identifier: GPL-3.0-or-later
"""IsrTask on SimCamTiny raws from the simulator, checked against the simulator's truth."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from skystack.algorithms.isr import IsrInputError
from skystack.config import SourceKind
from skystack.instruments import get_simcam
from skystack.sim import SimulatorConfig, render_electrons, simulate
from skystack.sim.detector_effects import bleed_saturation, electrons_to_segments, make_signature
from skystack.sim.raw_writer import read_raw
from skystack.sim.render import render_point_sources
from skystack.sim.sky import make_sky
from skystack.sim.survey import make_survey
from skystack.tasks.isr import IsrConfig, IsrTask

REPO = Path(__file__).resolve().parents[2]
ALL_EFFECTS = [
    "photon_noise",
    "read_noise",
    "bias",
    "bias_structure",
    "dark",
    "hot_pixels",
    "flat",
    "defects",
    "nonlinearity",
    "crosstalk",
    "saturation",
    "cosmic_rays",
]


class Sim:
    """One simulated tiny survey: raws by type, the camera and the truth renderer."""

    def __init__(self, outdir: Path, on: set[str], **extra: Any) -> None:
        cfg = SimulatorConfig.preset("tiny")
        cfg.survey.n_visits = 1
        cfg.apply_overrides([f"effects.{e}={'true' if e in on else 'false'}" for e in ALL_EFFECTS])
        cfg.apply_overrides([f"{k}={v}" for k, v in extra.items()])
        self.config = cfg
        self.result = simulate(cfg, outdir)
        self.camera = get_simcam(cfg.instrument).camera
        self.detector = self.camera.get_detector(0)
        self.raws: dict[str, list[tuple[Any, dict[str, np.ndarray]]]] = {}
        for path in self.result.raw_files + self.result.calib_files:
            header, amps = read_raw(path)
            if header["DETID"] == 0:
                segs = {name: seg for name, (_, seg) in amps.items()}
                self.raws.setdefault(header["OBSTYPE"], []).append((header, segs))

    def segments(self, kind: str) -> list[dict[str, np.ndarray]]:
        return [s for _, s in self.raws[kind]]

    def truth(self, snap: int = 0) -> np.ndarray:
        """Noiseless electrons of the science exposure (sky and objects times the flat response)."""
        cfg, cam, det = self.config, self.camera, self.detector
        visit = make_survey(cfg, cam)[0]
        radius = cam.field_radius * cam.plate_scale / 3600.0 + 3 * cfg.survey.dither + 0.01
        sky = make_sky(cfg.sky, cfg.survey.ra, cfg.survey.dec, radius, cfg.survey.start_mjd, cfg.seed)
        image, _ = render_electrons(cfg, cam, det, visit, sky, visit.snap_mjd(snap), self.signature)
        return image

    @property
    def signature(self) -> Any:
        return make_signature(self.camera, self.detector, self.config.effects, self.config.seed)

    def bright_scene(self, fluxes: list[float]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Truth plus bright stars (electrons) and its raw segments through the simulator's effects."""
        image = self.truth()
        rng = np.random.default_rng(5)
        n = len(fluxes)
        xs, ys = rng.uniform(20, 236, n), rng.uniform(20, 236, n)
        render_point_sources(image, xs, ys, np.asarray(fluxes, float), np.full(n, 3.0), 3.5)
        electrons = image.copy()
        if self.config.effects.saturation:
            bleed_saturation(electrons, self.config.effects.full_well)
        segs = electrons_to_segments(electrons, self.detector, self.signature, self.config.effects, rng)
        return image, {a.name: seg for a, seg in zip(self.detector.amplifiers, segs, strict=True)}

    def sigma_e(self) -> float:
        """The smallest amplifier read noise (electrons): the '0.1 σ' acceptance scale."""
        return min(a.read_noise for a in self.detector.amplifiers)


def isr_config(**flags: Any) -> IsrConfig:
    cfg = IsrConfig()
    cfg.load_overrides(REPO / "config" / "simcam" / "isr.yaml", SourceKind.INSTRUMENT)
    for key, value in flags.items():
        setattr(cfg, key, value)
    return cfg


def masters(sim: Sim, task: IsrTask) -> dict[str, Any]:
    det = sim.detector
    bias = task.make_master_bias(sim.segments("bias"), det)
    dark_times = [float(h["DARKTIME"]) for h, _ in sim.raws["dark"]]
    dark = task.make_master_dark(sim.segments("dark"), dark_times, det, bias)
    flat_times = [float(h["DARKTIME"]) for h, _ in sim.raws["flat"]]
    flat = task.make_master_flat(sim.segments("flat"), flat_times, det, bias, dark)
    return {"bias": bias, "dark": dark, "flat": flat}


def line_residuals(diff: np.ndarray, good: np.ndarray) -> tuple[float, float]:
    """Largest |mean| over the rows and over the columns of ``diff`` (good pixels only)."""
    d = np.where(good, diff, np.nan)
    return float(np.nanmax(np.abs(np.nanmean(d, axis=1)))), float(np.nanmax(np.abs(np.nanmean(d, axis=0))))


@pytest.fixture(scope="module")
def bias_sim(tmp_path_factory: pytest.TempPathFactory) -> Sim:
    return Sim(tmp_path_factory.mktemp("bias"), {"bias", "bias_structure"})


def test_bias_and_overscan_leave_no_structure(bias_sim: Sim) -> None:
    sim = bias_sim
    cfg = isr_config(do_dark=False, do_flat=False)
    task = IsrTask(config=cfg)
    bias = task.make_master_bias(sim.segments("bias"), sim.detector)
    exp = task.run(sim.segments("science")[0], detector=sim.detector, bias=bias).exposure
    diff = exp.image.array - sim.truth()
    good = exp.mask.array == 0
    rows, cols = line_residuals(diff, good)
    sigma = sim.sigma_e()
    # The floor is the 16-bit digitisation (±0.5 ADU) seen through 32 overscan columns.
    assert rows < 0.1 * sigma and cols < 0.1 * sigma, (rows, cols, sigma)
    assert np.nanstd(np.nanmean(np.where(good, diff, np.nan), axis=1)) < 0.04 * sigma
    # Without the bias (row structure from the overscan only) the column pattern stays: the test can fail.
    cfg2 = isr_config(do_bias=False, do_dark=False, do_flat=False)
    raw_only = IsrTask(config=cfg2).run(sim.segments("science")[0], detector=sim.detector).exposure
    assert line_residuals(raw_only.image.array - sim.truth(), good)[1] > 0.5 * sigma


def test_overscan_estimator_choice_matters_for_row_jitter(bias_sim: Sim) -> None:
    """A smooth (poly_rows) overscan cannot follow SimCam's row jitter; per_row (the override) can."""
    sim = bias_sim
    results = {}
    for name in ("poly_rows", "per_row"):
        cfg = isr_config(do_dark=False, do_flat=False)
        cfg.overscan.name = name
        task = IsrTask(config=cfg)
        bias = task.make_master_bias(sim.segments("bias"), sim.detector)
        exp = task.run(sim.segments("science")[0], detector=sim.detector, bias=bias).exposure
        results[name] = line_residuals(exp.image.array - sim.truth(), exp.mask.array == 0)[0]
    amp = sim.detector.amplifiers[0]
    assert results["poly_rows"] > 0.5 * sim.config.effects.bias_row_amplitude * amp.gain
    assert results["per_row"] < 0.1 * sim.sigma_e()


def test_crosstalk_ghosts_removed(tmp_path: Path) -> None:
    sim = Sim(tmp_path, {"bias", "crosstalk"})
    det = sim.detector
    truth, raw = sim.bright_scene([6e5, 5e5, 4e5, 3e5])
    # expected ghost image (electrons) in the victims, from the truth in readout order
    from skystack.algorithms.isr import readout_view

    ghost = np.zeros_like(truth)
    for i, victim in enumerate(det.amplifiers):
        for j, source in enumerate(det.amplifiers):
            if i != j:
                src_adu = readout_view(truth, source) / source.gain
                readout_view(ghost, victim)[...] += det.crosstalk[i, j] * src_adu * victim.gain
    in_ghost = ghost > 1.0
    assert in_ghost.sum() > 20, "the scene must have bright stars whose ghosts are visible"
    residual = {}
    for on in (False, True):
        task = IsrTask(config=isr_config(do_dark=False, do_flat=False, do_crosstalk=on))
        bias = task.make_master_bias(sim.segments("bias"), det)
        exp = task.run(raw, detector=det, bias=bias).exposure
        residual[on] = float(np.mean((exp.image.array - truth)[in_ghost & (exp.mask.array == 0)]))
    assert residual[False] > 1.0
    assert abs(residual[True]) < 0.1 * sim.sigma_e()


def test_flat_and_dark_corrected_with_masters(tmp_path: Path) -> None:
    sim = Sim(tmp_path, {"bias", "bias_structure", "dark", "hot_pixels", "flat", "defects"})
    task = IsrTask(config=isr_config())
    cal = masters(sim, task)
    flat_true = sim.signature.flat
    good_flat = ~sim.detector.defect_mask()
    ratio = cal["flat"][good_flat] / flat_true[good_flat]
    assert np.std(ratio) < 1e-3  # noiseless flats: master = true response up to a constant
    h, raw = sim.raws["science"][0]
    exp = task.run(raw, detector=sim.detector, dark_time=float(h["DARKTIME"]), **cal).exposure
    expected = sim.truth() / (flat_true * np.mean(ratio))  # the scene before the flat response
    diff = exp.image.array - expected
    rows, cols = line_residuals(diff, exp.mask.array == 0)
    assert rows < 0.1 * sim.sigma_e() and cols < 0.1 * sim.sigma_e(), (rows, cols)
    # defects: BAD and interpolated
    bad = exp.mask.get_plane("BAD")
    assert bad[sim.detector.defect_mask()].all()
    assert exp.mask.get_plane("INTRP")[sim.detector.defect_mask()].all()
    # interpolated values follow the smooth sky within a few per cent
    sky = np.median(expected)
    col = sim.detector.defects[0]
    interp = exp.image.array[col.slices()]
    assert abs(np.median(interp) / sky - 1) < 0.02


def test_nonlinearity_corrected(tmp_path: Path) -> None:
    sim = Sim(tmp_path, {"bias", "nonlinearity"})
    truth, raw = sim.bright_scene([1e6, 5e5, 2e5])
    bright = truth > 5000
    assert bright.sum() > 10
    out = {}
    for on in (False, True):
        task = IsrTask(config=isr_config(do_dark=False, do_flat=False, do_linearize=on, do_interpolate=False))
        bias = task.make_master_bias(sim.segments("bias"), sim.detector)
        exp = task.run(raw, detector=sim.detector, bias=bias).exposure
        out[on] = (exp.image.array - truth)[bright] / truth[bright]
    assert np.max(np.abs(out[False])) > 2e-3  # c2 ~ -1.2e-7 /ADU: visible at a few thousand ADU
    assert np.max(np.abs(out[True])) < 2e-4


def test_saturation_and_bleed_trails_masked(tmp_path: Path) -> None:
    sim = Sim(tmp_path, {"bias", "saturation"})
    truth, raw = sim.bright_scene([5e7, 1e7, 1e5])
    bled = truth.copy()
    n_full = bleed_saturation(bled, sim.config.effects.full_well)
    assert n_full > 20, "the scene needs saturated stars"
    task = IsrTask(config=isr_config(do_dark=False, do_flat=False))
    bias = task.make_master_bias(sim.segments("bias"), sim.detector)
    exp = task.run(raw, detector=sim.detector, bias=bias).exposure
    sat = exp.mask.get_plane("SAT")
    at_full_well = bled >= sim.config.effects.full_well
    assert sat[at_full_well].all()
    # bleed trails: saturated runs along columns longer than the star's core are masked entirely
    assert (at_full_well.sum(axis=0) > 0).sum() >= 1
    assert exp.mask.get_plane("INTRP")[at_full_well].all()
    assert sat.sum() < 10 * n_full + 200  # growth stays local


def test_variance_matches_empirical_noise(tmp_path: Path) -> None:
    on = {"photon_noise", "read_noise", "bias", "bias_structure", "flat"}
    sim = Sim(tmp_path, on, **{"calibrations.n_flat": 2, "calibrations.n_bias": 5})
    task = IsrTask(config=isr_config(do_dark=False, do_flat=False, do_defects=False, do_interpolate=False))
    bias = task.make_master_bias(sim.segments("bias"), sim.detector)
    flats = [task.run(s, detector=sim.detector, bias=bias).exposure for s in sim.segments("flat")[:2]]
    for amp in sim.detector.amplifiers:
        sl = amp.bbox.slices()
        diff = flats[0].image.array[sl] - flats[1].image.array[sl]  # flat pattern cancels
        empirical = np.var(diff) / 2.0
        predicted = np.mean(flats[0].variance.array[sl] + flats[1].variance.array[sl]) / 2.0
        assert abs(empirical / predicted - 1) < 0.03, (amp.name, empirical, predicted)


def test_two_snaps_reject_cosmic_rays(tmp_path: Path) -> None:
    on = {"photon_noise", "read_noise", "bias", "bias_structure", "cosmic_rays"}
    sim = Sim(tmp_path, on, **{"survey.snaps": 2, "effects.cosmic_ray_rate": 40.0, "calibrations.n_bias": 5})
    task = IsrTask(config=isr_config(do_dark=False, do_flat=False, do_defects=False))
    bias = task.make_master_bias(sim.segments("bias"), sim.detector)
    snaps = sim.segments("science")
    assert len(snaps) == 2
    truth = sim.truth(0) + sim.truth(1)
    single = IsrTask(config=isr_config(do_dark=False, do_flat=False, do_defects=False, do_interpolate=False))
    singles = [single.run(s, detector=sim.detector, bias=bias).exposure for s in snaps]
    hits = np.zeros(truth.shape, dtype=bool)
    for s, snap in zip(singles, (0, 1), strict=True):
        hits |= (s.image.array - sim.truth(snap)) > 8 * np.sqrt(s.variance.array)
    assert hits.sum() > 10, "the cosmic-ray rate should give hits"
    exp = task.run(snaps[0], detector=sim.detector, bias=bias, second_snap=snaps[1]).exposure
    cr = exp.mask.get_plane("CR")
    assert cr[hits].mean() > 0.95
    pull = (exp.image.array - truth) / np.sqrt(exp.variance.array)
    # pixels hit in both snaps cannot be repaired (a few, by chance overlap of tracks)
    assert np.mean(np.abs(pull[hits]) > 5) < 0.02
    assert np.abs(np.median(pull[hits])) < 0.5
    from scipy import ndimage

    near_hits = ndimage.binary_dilation(hits, iterations=2)
    assert (cr & ~near_hits).mean() < 0.002  # few false rejections away from the tracks
    assert task.metadata["n_snaps"] == 2


def test_masters_from_noisy_calibrations_give_noise_limited_residuals(tmp_path: Path) -> None:
    on = {"photon_noise", "read_noise", "bias", "bias_structure", "dark", "hot_pixels", "flat", "defects"}
    extra = {
        "calibrations.n_bias": 8,
        "calibrations.n_dark": 4,
        "calibrations.n_flat": 4,
        "effects.hot_pixel_fraction": 1e-3,
    }
    sim = Sim(tmp_path, on, **extra)
    task = IsrTask(config=isr_config())
    cal = masters(sim, task)
    h, raw = sim.raws["science"][0]
    exp = task.run(raw, detector=sim.detector, dark_time=float(h["DARKTIME"]), **cal).exposure
    flat_true = sim.signature.flat
    scale = np.median(cal["flat"] / flat_true)  # the master is normalised to mean 1, the truth is not
    expected = sim.truth() / (flat_true * scale)
    good = exp.mask.array == 0
    pulls = (exp.image.array - expected) / np.sqrt(exp.variance.array)
    pull = pulls[good]
    assert abs(np.mean(pull)) < 0.05
    assert abs(np.std(pull) - 1) < 0.1
    # hot pixels (200 e-/s, i.e. 6000 e- in 30 s) are removed by the master dark
    hot_y, hot_x = sim.signature.hot_pixels.T
    assert len(hot_y) > 20
    assert np.all(np.abs(pulls[hot_y, hot_x]) < 5)
    defects = task.find_defects(dark=cal["dark"], flat=cal["flat"])
    assert defects[sim.detector.defect_mask()].all()


def test_errors_name_the_problem(bias_sim: Sim) -> None:
    det = bias_sim.detector
    raw = dict(bias_sim.segments("science")[0])
    task = IsrTask(config=isr_config(do_dark=False, do_flat=False))
    with pytest.raises(IsrInputError, match="step 'bias'.*do_bias = False"):
        task.run(raw, detector=det)
    with pytest.raises(IsrInputError, match=r"step 'bias'.*shape \(10, 10\)"):
        task.run(raw, detector=det, bias=np.zeros((10, 10)))
    bad = dict(raw)
    bad["C01"] = raw["C01"][:, :-3]
    with pytest.raises(IsrInputError, match=r"amplifier C01 .*expected \(256, 168\).*overscan"):
        task.run(bad, detector=det, bias=np.zeros((256, 256)))
    with pytest.raises(IsrInputError, match=r"\['C01'\] missing"):
        task.run({"C00": raw["C00"]}, detector=det, bias=np.zeros((256, 256)))
    dark_task = IsrTask(config=isr_config(do_bias=False, do_flat=False))
    with pytest.raises(IsrInputError, match="dark time"):
        dark_task.run(raw, detector=det, dark=np.zeros((256, 256)))


def test_instrument_override_file_sets_per_row_overscan() -> None:
    cfg = isr_config()
    assert cfg.overscan.name == "per_row"
    assert IsrConfig().overscan.name == "poly_rows"
    assert cfg.history("overscan.name")[-1].source.kind is SourceKind.INSTRUMENT


def test_preassembled_input_and_config_validation(bias_sim: Sim) -> None:
    from skystack.algorithms.isr import assemble_amplifiers
    from skystack.task import TaskError

    det = bias_sim.detector
    raw = bias_sim.segments("science")[0]
    flags = {"do_dark": False, "do_flat": False, "do_bias": False, "do_crosstalk": False}
    full = IsrTask(config=isr_config(**flags)).run(raw, detector=det).exposure
    # without assembly the overscan is unavailable: subtract the same per-amplifier levels by hand
    assembled = assemble_amplifiers(raw, det)
    levels = IsrTask(config=isr_config(**flags)).run(raw, detector=det)
    pre = IsrTask(config=isr_config(do_assembly=False, do_overscan=False, **flags))
    out = pre.run(assembled, detector=det).exposure
    diff = out.image.array - full.image.array
    amp = det.amplifiers[0]
    assert np.std(diff[amp.bbox.slices()][:, 10]) > 1.0  # row jitter left without the overscan
    assert levels.n_snaps == 1
    with pytest.raises(TaskError, match="with do_assembly=False set do_overscan=False"):
        IsrTask(config=isr_config(do_assembly=False))
    with pytest.raises(IsrInputError, match=r"needs an image of detector R00S00's shape \(256, 256\)"):
        pre.run(assembled[:10], detector=det)
