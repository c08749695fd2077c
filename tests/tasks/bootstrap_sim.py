# SPDX-License-Identifier: GPL-3.0-or-later
"""Post-ISR-like exposures of the simulated sky with their truth, for BootstrapImChar tests.

The image is the simulator's noiseless rendering (sky, stars, galaxies, Moffat PSF varying over the
field) in electrons with Poisson and read noise, a variance plane, an empty mask, the telescope's
*reported* WCS (off by the pointing and rotation errors) and the visit information; the truth is the
simulator's per-object rows on the detector, the true WCS and the true calibration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from skystack.geom import SkyWcs
from skystack.image import Exposure, VisitInfo
from skystack.instruments import get_simcam
from skystack.sim import SimulatorConfig, render_electrons
from skystack.sim.refcat import make_refcat
from skystack.sim.sky import SkyCatalog, make_sky
from skystack.sim.survey import SimVisit, detector_wcs, make_survey

READ_NOISE = 5.0


@dataclass
class SimDetector:
    """One simulated visit/detector: the exposure and its truth."""

    exposure: Exposure
    truth: dict[str, np.ndarray]
    true_wcs: SkyWcs
    njy_per_electron: float
    visit: SimVisit
    refcat: pa.Table
    config: SimulatorConfig


def sim_config(**overrides: Any) -> SimulatorConfig:
    """The demo preset with a denser, deeper reference catalogue (tens of stars per 1k detector)."""
    config = SimulatorConfig.preset("demo")
    config.sky.star_density = 40000.0
    config.sky.n_moving = 0
    config.refcat_mag_max = 22.0
    for key, value in overrides.items():
        obj = config
        parts = key.split(".")
        for p in parts[:-1]:
            obj = getattr(obj, p)
        setattr(obj, parts[-1], value)
    return config


_SKY_CACHE: dict[tuple[Any, ...], tuple[SkyCatalog, list[SimVisit], pa.Table]] = {}


def _scene(config: SimulatorConfig) -> tuple[SkyCatalog, list[SimVisit], pa.Table]:
    key = (config.model_dump_json(),)
    if key not in _SKY_CACHE:
        camera = get_simcam(config.instrument).camera
        visits = make_survey(config, camera)
        radius = camera.field_radius * camera.plate_scale / 3600.0 + 3 * config.survey.dither + 0.01
        sky = make_sky(
            config.sky, config.survey.ra, config.survey.dec, radius, config.survey.start_mjd, config.seed
        )
        ref = make_refcat(
            sky,
            config.refcat_mag_max,
            config.refcat_epoch,
            config.refcat_position_error,
            config.refcat_flux_error,
            config.seed,
        )
        _SKY_CACHE[key] = (sky, visits, ref)
    return _SKY_CACHE[key]


def make_detector(config: SimulatorConfig, visit_index: int, detector_id: int, seed: int = 0) -> SimDetector:
    """Render visit ``visit_index`` on detector ``detector_id`` as a post-ISR exposure."""
    camera = get_simcam(config.instrument).camera
    sky, visits, ref = _scene(config)
    visit = visits[visit_index]
    det = next(d for d in camera if d.id == detector_id)
    mjd = visit.snap_mjd(0)
    model, rows = render_electrons(config, camera, det, visit, sky, mjd, None)
    rng = np.random.default_rng([seed, visit.visit_id, det.id])
    image = (rng.poisson(np.clip(model, 0, None)) + rng.normal(0.0, READ_NOISE, model.shape)).astype(
        np.float32
    )
    variance = (np.clip(model, 0, None) + READ_NOISE**2).astype(np.float32)
    reported = detector_wcs(camera, det, visit.reported_ra, visit.reported_dec, visit.reported_rotation)
    true_wcs = detector_wcs(camera, det, visit.ra, visit.dec, visit.rotation, config.survey.distortion)
    info = VisitInfo(
        exposure_id=visit.exposure_ids[0],
        mjd_tai=mjd + visit.exposure_time / 172800.0,
        exposure_time=visit.exposure_time,
        dark_time=visit.exposure_time,
        airmass=visit.airmass,
        instrument=config.instrument,
        detector_id=det.id,
        detector_name=det.name,
        physical_filter=visit.physical_filter,
        band=visit.band,
    )
    exposure = Exposure.from_arrays(
        image, np.zeros(model.shape, dtype=np.int32), variance, wcs=reported, visit_info=info
    )
    truth = {k: np.asarray(v) for k, v in rows.items()}
    njy_per_electron = 10 ** (-0.4 * (visit.zero_point - 31.4)) / visit.exposure_time
    return SimDetector(exposure, truth, true_wcs, njy_per_electron, visit, ref, config)
