# SPDX-License-Identifier: GPL-3.0-or-later
"""BootstrapImCharTask on simulated post-ISR detectors, against the simulator's truth, and its failures."""

from __future__ import annotations

import numpy as np
import pytest
from bootstrap_sim import SimDetector, make_detector, sim_config
from scipy.spatial import cKDTree

from skystack.algorithms.photocal import ap_corr_name
from skystack.image import Exposure
from skystack.image.psf import PixelPsf
from skystack.tasks.bootstrap_imchar import BootstrapImCharTask, CalibrationFailure

CONFIG = sim_config()


@pytest.fixture(scope="module")
def processed() -> list[tuple[SimDetector, object, BootstrapImCharTask]]:
    out = []
    for visit, detector in ((1, 1), (2, 2), (3, 3)):
        sim = make_detector(CONFIG, visit, detector)
        task = BootstrapImCharTask()
        result = task.run(sim.exposure, [sim.refcat])
        out.append((sim, result, task))
    return out


def _matched(sim: SimDetector, catalog: object) -> tuple[np.ndarray, np.ndarray]:
    """(truth index, catalog row) of true stars matched within 1 pixel to primary sources."""
    truth = sim.truth
    tx, ty = sim.true_wcs.sky_to_pixel(truth["ra"], truth["dec"])
    x = np.asarray(catalog["slot_centroid_x"])  # type: ignore[index]
    y = np.asarray(catalog["slot_centroid_y"])  # type: ignore[index]
    primary = np.flatnonzero(np.asarray(catalog["is_primary"]))  # type: ignore[index]
    dist, idx = cKDTree(np.column_stack([x[primary], y[primary]])).query(np.column_stack([tx, ty]))
    ok = (dist < 1.0) & (truth["kind"] == 0)
    return np.flatnonzero(ok), primary[idx[ok]]


def test_calexp_carries_its_calibrations(processed: list) -> None:
    for _sim, result, task in processed:
        calexp: Exposure = result.exposure
        assert isinstance(calexp.psf, PixelPsf)
        assert calexp.wcs is not None and calexp.photo_calib is not None
        assert {ap_corr_name("psf_flux"), ap_corr_name("gaussian_flux")} <= set(calexp.ap_corr_map)
        assert len(result.background) == 2  # coarse + fine pass
        # background subtracted: the median of the unmasked pixels is ~0
        free = ~calexp.mask.any_plane("DETECTED")
        assert abs(float(np.median(calexp.image.array[free]))) < 0.05 * float(
            np.sqrt(np.median(calexp.variance.array))
        )
        md = task.metadata
        assert md["n_sources"] == len(result.source_catalog)
        assert task.measure_psf.metadata["chi2_per_dof_reserved"] < 1.5


def test_src_schema_has_units_and_calibrated_columns(processed: list) -> None:
    catalog = processed[0][1].source_catalog
    schema = catalog.schema
    expected = {
        "coord_ra": "deg",
        "coord_dec": "deg",
        "centroid_x": "pix",
        "shape_xx": "pix2",
        "psf_flux": "ct",
        "psf_flux_njy": "nJy",
        "psf_flux_njy_err": "nJy",
        "psf_flux_mag": "mag",
        "ap_flux_12_0_njy": "nJy",
        "gaussian_flux_mag": "mag",
    }
    for name, unit in expected.items():
        assert schema[name].unit == unit, name
    for flag in ("calib_psf_used", "calib_psf_reserved", "calib_astrometry_used", "calib_photometry_used"):
        assert catalog[flag].dtype == bool and catalog[flag].any(), flag
    assert np.all(np.isfinite(catalog["coord_ra"])) and np.all(np.isfinite(catalog["coord_dec"]))
    ids = np.asarray(catalog["id"])
    assert np.unique(ids).size == ids.size and ids.min() > 0
    children = np.asarray(catalog["parent"]) != 0
    assert set(np.asarray(catalog["parent"])[children]) <= set(ids[~children])


def test_astrometry_against_truth(processed: list) -> None:
    """Bright stars' catalogue positions vs their true positions (the pointing was off by arcsec)."""
    for sim, result, task in processed:
        catalog = result.source_catalog
        ti, rows = _matched(sim, catalog)
        sn = np.asarray(catalog["psf_flux"])[rows] / np.asarray(catalog["psf_flux_err"])[rows]
        bright = sn > 100
        ra = np.asarray(catalog["coord_ra"])[rows][bright]
        dec = np.asarray(catalog["coord_dec"])[rows][bright]
        dra = (ra - sim.truth["ra"][ti][bright]) * np.cos(np.radians(dec)) * 3.6e6
        ddec = (dec - sim.truth["dec"][ti][bright]) * 3.6e6
        rms = float(np.sqrt(np.mean(dra**2 + ddec**2) / 2))
        offset = task.astrometry.metadata["pointing_offset_arcsec"]
        print(
            f"visit {sim.visit.visit_id}: {bright.sum()} bright stars, rms {rms:.1f} mas, "
            f"pointing off by {offset:.1f} arcsec"
        )
        assert bright.sum() >= 5
        assert rms < 20.0
        assert offset > 1.0  # the telescope's WCS really was off


def test_photometry_against_truth(processed: list) -> None:
    """Calibrated PSF fluxes of bright stars vs their true fluxes: bias and pulls."""
    biases = []
    for sim, result, _task in processed:
        catalog = result.source_catalog
        ti, rows = _matched(sim, catalog)
        flux = np.asarray(catalog["psf_flux_njy"])[rows]
        err = np.asarray(catalog["psf_flux_njy_err"])[rows]
        true = sim.truth["flux_njy"][ti]
        sn = flux / err
        bright = (sn > 50) & ~np.asarray(catalog["pixel_flags_saturated_center"])[rows]
        bias = float(np.median(flux[bright] / true[bright]) - 1.0)
        pulls = (flux[bright] - true[bright]) / err[bright]
        width = float(1.4826 * np.median(np.abs(pulls - np.median(pulls))))
        print(
            f"visit {sim.visit.visit_id}: {bright.sum()} stars, bias {100 * bias:+.2f} %, "
            f"pull width {width:.2f}"
        )
        biases.append(bias)
        assert abs(bias) < 0.01
        assert 0.3 < width < 2.0
    assert abs(float(np.median(biases))) < 0.005


def test_two_snaps_are_combined_with_rejection() -> None:
    sim = make_detector(CONFIG, 2, 2)
    second = make_detector(CONFIG, 2, 2, seed=1).exposure
    track = np.zeros(second.image.array.shape, dtype=bool)
    track[300, 100:400] = True  # a satellite-like trail in the second snap only
    second.image.array[track] += 5000.0
    task = BootstrapImCharTask()
    task.config.do_astrometry = task.config.do_photocal = False
    first_image = sim.exposure.image.array.copy()
    combined = task.combine_snaps([sim.exposure, second])
    rejected = combined.mask.get_plane("CR")
    assert rejected[track].all()
    assert rejected.mean() < 0.01
    clean = ~rejected
    np.testing.assert_allclose(
        combined.image.array[clean], first_image[clean] + second.image.array[clean], rtol=1e-6
    )
    assert combined.visit_info is not None and combined.visit_info.exposure_time == pytest.approx(
        2 * sim.visit.exposure_time
    )
    assert task.metadata["n_snaps"] == 2


def test_saturated_detector_fails_cleanly() -> None:
    sim = make_detector(CONFIG, 1, 1)
    mask = sim.exposure.mask
    mask.add_plane("SAT")
    mask.set_plane("SAT", np.ones(mask.array.shape, dtype=bool))
    with pytest.raises(CalibrationFailure, match=r"check: 100\.0% of the pixels are saturated") as err:
        BootstrapImCharTask().run(sim.exposure, [sim.refcat])
    assert err.value.step == "check"


def test_empty_sky_fails_at_the_psf() -> None:
    sim = make_detector(CONFIG, 1, 1)
    rng = np.random.default_rng(3)
    sim.exposure.image.array[...] = 400.0 + rng.normal(0, 20.0, sim.exposure.image.array.shape)
    sim.exposure.variance.array[...] = 400.0
    with pytest.raises(CalibrationFailure, match="psf: PSF determination found") as err:
        BootstrapImCharTask().run(sim.exposure, [sim.refcat])
    assert err.value.step == "psf"


def test_missing_or_wrong_reference_catalogue_is_explained() -> None:
    sim = make_detector(CONFIG, 3, 3)
    with pytest.raises(CalibrationFailure, match="refcat: no reference-catalogue shard overlaps"):
        BootstrapImCharTask().run(sim.exposure, [])
    # the reference catalogue of another part of the sky (6' away, beyond the 90" search): no match
    import pyarrow as pa

    shifted = sim.refcat.set_column(
        sim.refcat.schema.get_field_index("dec"), "dec", pa.array(np.asarray(sim.refcat["dec"]) + 0.1)
    )
    with pytest.raises(CalibrationFailure) as err:
        BootstrapImCharTask().run(make_detector(CONFIG, 3, 3).exposure, [shifted])
    assert err.value.step in {"astrometry", "refcat"}
