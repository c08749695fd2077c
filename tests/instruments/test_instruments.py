# SPDX-License-Identifier: GPL-3.0-or-later
"""Instrument layer: camera YAML, SimCam header translation, the generic instrument on real frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from skystack.instruments import (
    Camera,
    CameraError,
    GenericInstrument,
    SimCam,
    SimCamBench,
    SimCamTiny,
    TranslationError,
)


def test_simcam_geometry() -> None:
    cam = SimCam().camera
    assert len(cam) == 4 and [len(d.amplifiers) for d in cam] == [2, 2, 4, 4]
    assert all(d.bbox.shape == (1024, 1024) for d in cam)
    assert cam.bands == list("ugrizy")
    bench = SimCamBench().camera
    assert all(d.bbox.shape == (4096, 4096) and len(d.amplifiers) == 8 for d in bench)
    det = cam.get_detector(2)
    fx, fy = det.pixel_to_focal_plane(np.array([0.0, 1023.0]), np.array([5.0, 700.0]))
    x, y = det.focal_plane_to_pixel(fx, fy)
    np.testing.assert_allclose([x, y], [[0.0, 1023.0], [5.0, 700.0]], atol=1e-9)
    assert det.crosstalk.shape == (4, 4)


def test_camera_errors() -> None:
    cam = SimCamTiny().camera
    with pytest.raises(CameraError, match="no detector 7; ids are"):
        cam.get_detector(7)
    with pytest.raises(CameraError, match="no filter 'X'"):
        cam.get_filter("X")
    data = {
        "name": "Bad",
        "plate_scale": 1.0,
        "filters": [],
        "detectors": [
            {
                "id": 0,
                "name": "D",
                "width": 10,
                "height": 10,
                "pixel_size": 0.01,
                "position": [0, 0],
                "amplifiers": [
                    {
                        "name": "A",
                        "bbox": [0, 0, 5, 10],
                        "gain": 1,
                        "read_noise": 1,
                        "saturation": 1,
                        "bias_level": 0,
                    }
                ],
            }
        ],
    }
    with pytest.raises(CameraError, match="must tile the detector"):
        Camera.from_mapping(data)
    data["detectors"][0]["amplifiers"][0]["bbox"] = [0, 0, 10, 10]
    assert len(Camera.from_mapping(data)) == 1
    del data["plate_scale"]
    with pytest.raises(CameraError, match="missing required camera key 'plate_scale'"):
        Camera.from_mapping(data)


def test_generic_instrument_on_real_frames(real_data_dir: Path) -> None:
    frames = real_data_dir / "single_frames"
    inst = GenericInstrument.from_fits(frames / "feder_eyuma_r_thumbnail.fit.gz")
    info = inst.observation_info()
    assert info.exposure_time == 90.0 and info.band == "r" and info.exposure_id == 20180417033522
    wcs = inst.wcs()
    ra, dec = wcs.pixel_to_sky(127.5, 127.5)
    assert abs(info.boresight_ra - ra) < 1e-9 and abs(info.boresight_dec - dec) < 1e-9
    with fits.open(frames / "feder_eyuma_r_thumbnail.fit.gz") as hdus:
        scales = proj_plane_pixel_scales(WCS(hdus[0].header)) * 3600.0
    det = inst.camera.detectors[0]
    assert inst.camera.plate_scale * det.pixel_size == pytest.approx(scales.mean(), rel=1e-3)
    apogee = GenericInstrument.from_fits(frames / "feder_apogee_B_sip-wcs.fit")
    assert apogee.camera.detectors[0].bbox.shape == (50, 100)
    assert apogee.observation_info().physical_filter == "B"
    with pytest.raises(TranslationError, match="no image HDU has a celestial WCS"):
        GenericInstrument.from_fits(frames / "saao_ste3_raw_a8280271.fits")
    with pytest.raises(TranslationError, match="no image HDU has a celestial WCS"):
        GenericInstrument.from_fits(real_data_dir / "sep_ntt_emmi" / "image.fits")
    with pytest.raises(TranslationError, match="no 2-D image HDU"):
        GenericInstrument.from_fits(frames / "feder_eyuma_source_list.fit")


def test_simcam_translator_errors() -> None:
    tr = SimCamTiny().get_translator()
    h = fits.Header({"INSTRUME": "SimCam"})
    with pytest.raises(TranslationError, match="is not 'SimCamTiny'"):
        tr.to_observation_info(h, "f.fits")
    h["INSTRUME"] = "SimCamTiny"
    with pytest.raises(TranslationError, match="f.fits: raw header has no 'FILTER'"):
        tr.to_observation_info(h, "f.fits")


def test_simcam_overrides_apply_through_the_pipeline_layer() -> None:
    """config/simcam/isr.yaml reaches IsrTask's config when SimCam is named, with its history."""
    from skystack.config import SourceKind
    from skystack.pipe.instrument_overrides import apply_instrument_overrides, resolve_instrument
    from skystack.tasks.isr import IsrConfig

    instrument = resolve_instrument("SimCam")  # by entry-point name, as a pipeline names it
    config = IsrConfig()
    applied = apply_instrument_overrides(instrument, config, ["isr"])
    assert applied and applied[0].endswith("isr.yaml")
    assert config.overscan.name == "per_row" and config.full_well == 89550.0
    entry = config.history("overscan.name")[-1]
    assert entry.source.kind is SourceKind.INSTRUMENT and entry.source.location.endswith("isr.yaml")
    assert resolve_instrument("SimCamTiny").config_override_dir() is not None
