# SPDX-License-Identifier: GPL-3.0-or-later
"""`simulate`: the survey simulator's driver (raws, calibration raws, refcat, truth, manifest)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.time import Time

from skystack.geom import SkyWcs
from skystack.instruments import Camera, Detector, get_simcam
from skystack.utils.persist import dump_persistable

from .config import SimulatorConfig
from .detector_effects import (
    DetectorSignature,
    add_cosmic_rays,
    bleed_saturation,
    dark_electrons,
    electrons_to_segments,
    make_signature,
)
from .raw_writer import write_raw
from .refcat import make_refcat, write_refcat
from .render import render_point_sources, render_sersic_galaxies
from .sky import ObjectKind, SkyCatalog, make_sky
from .survey import SimVisit, detector_wcs, make_survey, psf_fwhm_pixels
from .truth import write_object_truth, write_table, write_visit_truth

__all__ = ["SimulationResult", "render_electrons", "simulate"]


@dataclass
class SimulationResult:
    """What `simulate` wrote and how long each step took (seconds)."""

    outdir: Path
    raw_files: list[Path] = field(default_factory=list)
    calib_files: list[Path] = field(default_factory=list)
    refcat_file: Path | None = None
    truth_dir: Path | None = None
    manifest: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def _primary_header(
    camera: Camera,
    det: Detector,
    obstype: str,
    exp_id: int,
    group: str,
    snap: int,
    day_obs: int,
    seq: int,
    mjd: float,
    exptime: float,
    physical_filter: str,
    visit: SimVisit | None,
) -> fits.Header:
    h = fits.Header()
    begin = Time(mjd, format="mjd", scale="tai")
    end = Time(mjd + exptime / 86400.0, format="mjd", scale="tai")
    flt = camera.get_filter(physical_filter)
    for key, value, comment in [
        ("INSTRUME", camera.name, "instrument"),
        ("TELESCOP", "SimTel", "telescope"),
        ("OBSTYPE", obstype, "science, bias, dark or flat"),
        ("EXPID", exp_id, "exposure id"),
        ("OBSID", f"{camera.name}_{exp_id}", "observation id"),
        ("GROUPID", group, "visit group"),
        ("SNAP", snap, "snap index in the group"),
        ("DAYOBS", day_obs, "observing day"),
        ("SEQNUM", seq, "sequence number in the day"),
        ("DATE-BEG", begin.isot, "start of exposure (TAI)"),
        ("DATE-END", end.isot, "end of exposure (TAI)"),
        ("TIMESYS", "TAI", "time scale"),
        ("MJD-BEG", mjd, "start of exposure (TAI MJD)"),
        ("EXPTIME", exptime, "exposure time (s)"),
        ("DARKTIME", exptime, "dark time (s)"),
        ("FILTER", physical_filter, "physical filter"),
        ("BAND", flt.band, "band"),
        ("RA", visit.reported_ra if visit else 0.0, "telescope boresight RA (deg)"),
        ("DEC", visit.reported_dec if visit else 0.0, "telescope boresight Dec (deg)"),
        ("ROTPA", visit.reported_rotation if visit else 0.0, "rotation angle (deg)"),
        ("AIRMASS", visit.airmass if visit else 1.0, "airmass"),
        ("DETID", det.id, "detector id"),
        ("DETNAME", det.name, "detector name"),
        ("DETSER", det.serial, "detector serial"),
    ]:
        h[key] = (value, comment)
    if visit is not None:  # the telescope's WCS: reported pointing, no distortion
        reported = detector_wcs(
            camera, det, visit.reported_ra, visit.reported_dec, visit.reported_rotation, False
        )
        h.extend(reported.to_fits_header(), update=True)
    return h


def render_electrons(
    config: SimulatorConfig,
    camera: Camera,
    det: Detector,
    visit: SimVisit,
    sky: SkyCatalog,
    mjd: float,
    signature: DetectorSignature | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The noiseless image (electrons) of one snap: sky + objects, times the flat response.

    Moving objects are trailed: their flux is spread over point sources along their path during
    the snap (see `_trail_samples`). Returns the image and the per-object truth rows (positions at
    mid-exposure) of the objects whose centre is on the detector.
    """
    wcs = detector_wcs(camera, det, visit.ra, visit.dec, visit.rotation, config.survey.distortion)
    ny, nx = det.bbox.shape
    ra, dec = sky.positions_at(mjd + visit.exposure_time / 172800.0)
    x, y = wcs.sky_to_pixel(ra, dec)
    margin = 80
    near = (x > -margin) & (x < nx + margin) & (y > -margin) & (y < ny + margin)
    flux_njy = sky.flux_at(visit.band, mjd + visit.exposure_time / 172800.0)
    e_per_njy = 10 ** (-0.4 * (31.4 - visit.zero_point)) * visit.exposure_time
    electrons = flux_njy * e_per_njy
    fwhm = psf_fwhm_pixels(config, camera, det, visit, x, y)
    image = np.empty((ny, nx))
    image[:] = visit.sky_level * (1.0 + 0.01 * (np.arange(nx) - nx / 2) / nx)  # sky with a 1 % gradient
    point = near & np.isin(sky.kind, [k for k in ObjectKind if k.is_point]) & (electrons > 0)
    moving = point & (sky.kind == ObjectKind.MOVING)
    still = point & ~moving
    beta = config.survey.psf_beta
    render_point_sources(image, x[still], y[still], electrons[still], fwhm[still], beta)
    if moving.any():
        tx, ty, index = _trail_samples(sky, wcs, np.flatnonzero(moving), mjd, visit.exposure_time)
        counts = np.bincount(index, minlength=sky.id.size)
        render_point_sources(image, tx, ty, electrons[index] / counts[index], fwhm[index], beta)
    gal = near & ~np.isin(sky.kind, [k for k in ObjectKind if k.is_point])
    scale = camera.plate_scale * det.pixel_size
    # Position angle east of north → angle from +x: rotate by the detector's sky orientation.
    pa_pix = np.radians(90.0 + sky.position_angle[gal] - visit.rotation - det.rotation)
    render_sersic_galaxies(
        image,
        x[gal],
        y[gal],
        electrons[gal],
        sky.sersic_n[gal],
        sky.r_eff[gal] / scale,
        sky.axis_ratio[gal],
        pa_pix,
        fwhm[gal],
        beta,
    )
    if signature is not None:
        image *= signature.flat
    on = near & (x >= -0.5) & (x < nx - 0.5) & (y >= -0.5) & (y < ny - 0.5)
    rows = {
        "object_id": sky.id[on],
        "kind": sky.kind[on],
        "visit": np.full(on.sum(), visit.visit_id),
        "detector": np.full(on.sum(), det.id),
        "band": np.full(on.sum(), visit.band),
        "mjd": np.full(on.sum(), mjd),
        "x": x[on],
        "y": y[on],
        "ra": ra[on],
        "dec": dec[on],
        "flux_njy": flux_njy[on],
        "flux_electrons": electrons[on],
        "psf_fwhm": fwhm[on],
    }
    return image, rows


def _trail_samples(
    sky: SkyCatalog, wcs: SkyWcs, rows: np.ndarray, mjd: float, exposure_time: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel positions of the objects ``rows`` at ``K`` evenly spaced times of a snap.

    The times are the midpoints of ``K`` equal slices of the exposure, ``K`` chosen per object so
    that samples are at most 0.25 px apart: rendering the object's flux divided by ``K`` at each
    sample conserves the flux and draws the trail (motion is linear in RA, Dec over a snap).
    Returns ``x``, ``y`` and the object row of every sample.
    """
    ra_begin, dec_begin = sky.positions_at(mjd)
    ra_end, dec_end = sky.positions_at(mjd + exposure_time / 86400.0)
    ra0, dec0 = ra_begin[rows], dec_begin[rows]
    dra = (ra_end[rows] - ra0 + 180.0) % 360.0 - 180.0
    ddec = dec_end[rows] - dec0
    x0, y0 = wcs.sky_to_pixel(ra0, dec0)
    x1, y1 = wcs.sky_to_pixel(ra0 + dra, dec0 + ddec)
    k = np.maximum(1, np.ceil(np.hypot(x1 - x0, y1 - y0) / 0.25)).astype(np.int64)
    owner = np.repeat(np.arange(rows.size), k)
    start = np.repeat(np.cumsum(k) - k, k)
    frac = (np.arange(owner.size) - start + 0.5) / k[owner]
    x, y = wcs.sky_to_pixel(ra0[owner] + frac * dra[owner], dec0[owner] + frac * ddec[owner])
    return np.asarray(x), np.asarray(y), rows[owner]


def _finish(
    image: np.ndarray,
    config: SimulatorConfig,
    det: Detector,
    sig: DetectorSignature,
    exptime: float,
    rng: np.random.Generator,
    counts: dict[str, int],
) -> list[np.ndarray]:
    eff = config.effects
    image += dark_electrons(image.shape, exptime, sig, eff)
    if eff.photon_noise:
        image = rng.poisson(np.clip(image, 0, None)).astype(float)
    if eff.cosmic_rays:
        counts["cosmic_rays"] = counts.get("cosmic_rays", 0) + add_cosmic_rays(
            image, rng, eff.cosmic_ray_rate, exptime, det.pixel_size
        )
    if eff.saturation:
        counts["saturated_pixels"] = counts.get("saturated_pixels", 0) + bleed_saturation(
            image, eff.full_well
        )
    return electrons_to_segments(image, det, sig, eff, rng)


def simulate(
    config: SimulatorConfig, outdir: str | Path, progress: Callable[[str], None] | None = None
) -> SimulationResult:
    """Run the simulator; write raws, calibration raws, refcat, truth and a manifest under ``outdir``.

    Layout: ``raw/``, ``calib_raw/``, ``refcat/refcat.parquet``, ``truth/`` (``objects.parquet``,
    ``fluxes.parquet``, ``visit_detector.parquet``, ``wcs.json``, ``visits.json``) and
    ``manifest.json``. ``progress`` is called with a short message after each file.
    """
    config.check()
    out = Path(outdir)
    for sub in ("raw", "calib_raw", "refcat", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    res = SimulationResult(outdir=out)
    t0 = time.perf_counter()
    camera = get_simcam(config.instrument).camera
    visits = make_survey(config, camera)
    radius = camera.field_radius * camera.plate_scale / 3600.0 + 3 * config.survey.dither + 0.01
    sky = make_sky(
        config.sky, config.survey.ra, config.survey.dec, radius, config.survey.start_mjd, config.seed
    )
    sigs = {d.id: make_signature(camera, d, config.effects, config.seed) for d in camera}
    res.timings["setup"] = time.perf_counter() - t0
    counts: dict[str, int] = {}
    truth_rows: dict[str, list[np.ndarray]] = {}
    vd_records: list[dict[str, Any]] = []
    wcs_json: dict[str, Any] = {}
    t1 = time.perf_counter()
    for v in visits:
        for snap, (exp_id, seq) in enumerate(zip(v.exposure_ids, v.seq_nums, strict=True)):
            mjd = v.snap_mjd(snap)
            for det in camera:
                rng = np.random.default_rng([config.seed, exp_id, det.id])
                image, rows = render_electrons(config, camera, det, v, sky, mjd, sigs[det.id])
                for k, col in rows.items():
                    truth_rows.setdefault(k, []).append(np.asarray(col))
                segs = _finish(image, config, det, sigs[det.id], v.exposure_time, rng, counts)
                hdr = _primary_header(
                    camera,
                    det,
                    "science",
                    exp_id,
                    str(v.visit_id),
                    snap,
                    v.day_obs,
                    seq,
                    mjd,
                    v.exposure_time,
                    v.physical_filter,
                    v,
                )
                path = out / "raw" / f"{camera.name}_{exp_id}_{det.id:03d}.fits"
                res.raw_files.append(write_raw(path, hdr, det, segs))
                if snap == 0:
                    wcs = detector_wcs(camera, det, v.ra, v.dec, v.rotation, config.survey.distortion)
                    wcs_json[f"{v.visit_id}_{det.id}"] = dump_persistable(wcs)
                    cx, cy = det.center
                    vd_records.append(
                        {
                            "visit": v.visit_id,
                            "detector": det.id,
                            "band": v.band,
                            "mjd": mjd,
                            "zero_point": v.zero_point + 2.5 * np.log10(v.exposure_time),
                            "njy_per_electron": 10 ** (-0.4 * (v.zero_point - 31.4)) / v.exposure_time,
                            "sky_level": v.sky_level,
                            "sky_gradient_x": 0.01 * v.sky_level / det.bbox.width,
                            "psf_model": "moffat",
                            "psf_beta": config.survey.psf_beta,
                            "psf_fwhm_center": float(
                                psf_fwhm_pixels(config, camera, det, v, np.array(cx), np.array(cy))
                            ),
                            "seeing": v.seeing,
                            "airmass": v.airmass,
                            "transparency": v.transparency,
                        }
                    )
                if progress:
                    progress(path.name)
    res.timings["science"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    _calibrations(config, camera, sigs, visits, out, res, counts, progress)
    res.timings["calibrations"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    ref = make_refcat(
        sky,
        config.refcat_mag_max,
        config.refcat_epoch,
        config.refcat_position_error,
        config.refcat_flux_error,
        config.seed,
    )
    res.refcat_file = write_refcat(ref, out / "refcat" / "refcat.parquet")
    truth = out / "truth"
    write_object_truth(sky, truth / "objects.parquet")
    write_table({k: np.concatenate(v) for k, v in truth_rows.items()}, truth / "fluxes.parquet")
    write_visit_truth(vd_records, wcs_json, truth)
    (truth / "visits.json").write_text(json.dumps([v.to_dict() for v in visits], indent=1), encoding="utf-8")
    res.truth_dir = truth
    res.timings["refcat_truth"] = time.perf_counter() - t3
    res.timings["total"] = time.perf_counter() - t0
    res.counts = {
        **counts,
        "visits": len(visits),
        "objects": len(sky),
        "refcat": ref.num_rows,
        "raws": len(res.raw_files),
        "calib_raws": len(res.calib_files),
    }
    manifest = {
        "instrument": camera.name,
        "config": config.to_dict(),
        "counts": res.counts,
        "timings": res.timings,
        "raw": [str(p.relative_to(out)) for p in res.raw_files],
        "calib_raw": [str(p.relative_to(out)) for p in res.calib_files],
        "refcat": str(res.refcat_file.relative_to(out)),
        "truth": "truth",
    }
    res.manifest = out / "manifest.json"
    res.manifest.write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return res


def _calibrations(
    config: SimulatorConfig,
    camera: Camera,
    sigs: dict[int, DetectorSignature],
    visits: list[SimVisit],
    out: Path,
    res: SimulationResult,
    counts: dict[str, int],
    progress: Callable[[str], None] | None,
) -> None:
    c = config.calibrations
    mjd0 = config.survey.start_mjd - 0.5
    day_obs = int(Time(mjd0, format="mjd", scale="tai").datetime.strftime("%Y%m%d"))
    plan: list[tuple[str, float, str]] = [("bias", 0.0, visits[0].physical_filter)] * c.n_bias
    plan += [("dark", c.dark_time, visits[0].physical_filter)] * c.n_dark
    for pf in sorted({v.physical_filter for v in visits}):
        plan += [("flat", 5.0, pf)] * c.n_flat
    first_seq = 90001
    for seq, (kind, exptime, pf) in enumerate(plan, start=first_seq):
        exp_id = day_obs * 100000 + seq
        mjd = mjd0 + (seq - first_seq) * 1e-3  # one calibration exposure every 86.4 s from mjd0
        for det in camera:
            rng = np.random.default_rng([config.seed, exp_id, det.id])
            ny, nx = det.bbox.shape
            image = np.zeros((ny, nx))
            if kind == "flat":
                image += c.flat_level * sigs[det.id].flat
            segs = _finish(image, config, det, sigs[det.id], exptime, rng, {})
            hdr = _primary_header(
                camera, det, kind, exp_id, str(exp_id), 0, day_obs, seq, mjd, exptime, pf, None
            )
            path = out / "calib_raw" / f"{camera.name}_{exp_id}_{det.id:03d}.fits"
            res.calib_files.append(write_raw(path, hdr, det, segs))
            if progress:
                progress(path.name)
