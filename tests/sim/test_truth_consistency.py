# SPDX-License-Identifier: GPL-3.0-or-later
"""The rendered stars of every noiseless, ISR-free raw are where the truth WCS puts the catalogue
stars (proper motion applied) and as bright as the truth zero point makes their magnitudes.

Unlike the flux/centroid test of ``test_simulator.py``, the expectations here are computed from
the per-object catalogue (``objects.parquet``: position at the catalogue epoch, proper motion, AB
magnitudes) and the per-visit/detector truth (``wcs.json``, ``zero_point``, ``sky_level``,
``sky_gradient_x``), not from the per-visit positions and fluxes the simulator wrote.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.io import fits

from skystack.instruments import SimCamTiny
from skystack.sim import SimulationResult
from skystack.sim.raw_writer import assemble_raw
from skystack.sim.render import moffat_stamp
from skystack.sim.sky import ObjectKind
from skystack.utils.persist import load_persistable

_J2000_MJD = 51544.5


def test_every_raw_matches_the_catalogue_through_the_truth(clean_run: SimulationResult) -> None:
    truth = clean_run.outdir / "truth"
    objects = pq.read_table(truth / "objects.parquet").to_pandas()
    stars = objects[objects.kind == ObjectKind.STAR].reset_index(drop=True)
    vd = pq.read_table(truth / "visit_detector.parquet").to_pandas()
    wcs_json = json.loads((truth / "wcs.json").read_text())
    fluxes = pq.read_table(truth / "fluxes.parquet").to_pandas()
    epoch = json.loads((clean_run.outdir / "manifest.json").read_text())["config"]["sky"]["epoch"]
    camera = SimCamTiny().camera
    beta = float(vd.psf_beta.iloc[0])
    n_checked = 0
    visits_seen = set()
    for path in clean_run.raw_files:
        header = fits.getheader(path, 0)
        visit, det_id = int(header["GROUPID"]), int(header["DETID"])
        det = camera.get_detector(det_id)
        row = vd[(vd.visit == visit) & (vd.detector == det_id)].iloc[0]
        _, adu, _ = assemble_raw(path)
        image = np.empty_like(adu)
        limit = np.empty_like(adu)
        for amp in det.amplifiers:
            image[amp.bbox.slices()] = adu[amp.bbox.slices()] * amp.gain
            limit[amp.bbox.slices()] = min(amp.saturation, 65535.0) * amp.gain
        ny, nx = image.shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        clipped = image >= limit - 1.0  # at the ADC's limit: not measurable
        image -= row.sky_level + row.sky_gradient_x * (xx - nx / 2)
        # catalogue → position at mid-exposure → pixel, through the true WCS
        mid = float(header["MJD-BEG"]) + float(header["EXPTIME"]) / 172800.0
        years = (mid - _J2000_MJD) / 365.25 + 2000.0 - epoch
        cosd = np.cos(np.radians(stars.dec.to_numpy()))
        ra = stars.ra.to_numpy() + stars.pm_ra.to_numpy() * years / 3.6e6 / cosd
        dec = stars.dec.to_numpy() + stars.pm_dec.to_numpy() * years / 3.6e6
        wcs = load_persistable(wcs_json[f"{visit}_{det_id}"])
        x, y = (np.asarray(v) for v in wcs.sky_to_pixel(ra, dec))
        expected = 10 ** (-0.4 * (stars[f"mag_{row.band}"].to_numpy() - row.zero_point))
        # isolated from every other object, on the detector or just off it (catalogue positions;
        # the objects' motions are far below the isolation radius), and from the moving objects
        here = fluxes[(fluxes.visit == visit) & (fluxes.detector == det_id)]
        others_x, others_y = (np.asarray(v) for v in wcs.sky_to_pixel(objects.ra, objects.dec))
        others_x = np.concatenate([others_x, here.x.to_numpy()])
        others_y = np.concatenate([others_y, here.y.to_numpy()])
        d = np.hypot(x[:, None] - others_x[None, :], y[:, None] - others_y[None, :])
        d[d < 1.0] = np.inf  # the star itself
        inside = (x > 20) & (x < nx - 21) & (y > 20) & (y < ny - 21)
        bright = inside & (d.min(axis=1, initial=np.inf) > 30.0) & (expected > 2e4)
        for k in np.flatnonzero(bright):
            near = np.hypot(xx - x[k], yy - y[k])
            if clipped[near < 10].any():
                continue
            fwhm = fluxes.psf_fwhm[(fluxes.visit == visit) & (fluxes.object_id == stars.id[k])].iloc[0]
            stamp, x0, y0 = moffat_stamp(x[k], y[k], fwhm, beta)
            sy, sx = np.mgrid[y0 : y0 + stamp.shape[0], x0 : x0 + stamp.shape[1]]
            share = stamp[np.hypot(sx - x[k], sy - y[k]) < 10].sum()
            assert image[near < 10].sum() == pytest.approx(expected[k] * share, rel=3e-3)
            w = near < 8
            cx = (image[w] * xx[w]).sum() / image[w].sum()
            cy = (image[w] * yy[w]).sum() / image[w].sum()
            assert abs(cx - x[k]) < 0.02 and abs(cy - y[k]) < 0.02, (path.name, k, cx - x[k], cy - y[k])
            n_checked += 1
        visits_seen.add(visit)
    assert len(visits_seen) == 2 and n_checked >= 8
