# SPDX-License-Identifier: GPL-3.0-or-later
"""SimCam, the simulated camera, and the translator of its raw headers.

Three cameras share the SimCam header format: `SimCam` (demo: 4 detectors of 1k×1k, 2–4
amplifiers), `SimCamBench` (4 detectors of 4k×4k, 8 amplifiers) and `SimCamTiny` (2 detectors of
256×256, for tests). Each is a YAML file in ``skystack/instruments/data`` plus a few lines here.

Raw SimCam primary-header keywords (all written by `skystack.sim.raw_writer`): ``INSTRUME``,
``OBSTYPE``, ``EXPID``, ``OBSID``, ``GROUPID``, ``SNAP``, ``DAYOBS``, ``SEQNUM``, ``DATE-BEG``,
``DATE-END`` (TAI ISO), ``TIMESYS``, ``EXPTIME``, ``DARKTIME``, ``FILTER``, ``BAND``, ``RA``,
``DEC``, ``ROTPA`` (the telescope's boresight and rotation, degrees), ``AIRMASS``, ``DETID``,
``DETNAME``, ``DETSER``, and a TAN WCS as reported by the telescope.
"""

from __future__ import annotations

from astropy.io import fits

from .base import Instrument
from .translator import HeaderTranslator, ObservationInfo, TranslationError

__all__ = ["SimCam", "SimCamBench", "SimCamTiny", "SimCamTranslator", "get_simcam"]


class SimCamTranslator(HeaderTranslator):
    """Translate SimCam raw primary headers into `ObservationInfo`."""

    def can_translate(self, header: fits.Header) -> bool:
        """True for headers whose ``INSTRUME`` is this translator's instrument name."""
        return str(header.get("INSTRUME", "")) == self.instrument.name

    def to_observation_info(self, header: fits.Header, filename: str = "<header>") -> ObservationInfo:
        """Translate a SimCam primary header (keywords in the module docstring).

        Raises
        ------
        TranslationError
            If a keyword is missing or invalid, or the header is from another instrument, or the
            filter or detector is not part of the camera.
        """
        req = self.require
        instrument = req(header, "INSTRUME", filename)
        if instrument != self.instrument.name:
            raise TranslationError(
                f"{filename}: INSTRUME={instrument!r} is not {self.instrument.name!r}; "
                "use that instrument's translator"
            )
        physical_filter = req(header, "FILTER", filename)
        camera = self.instrument.camera
        try:
            band = camera.get_filter(physical_filter).band
            det = camera.get_detector(req(header, "DETID", filename, int))
        except ValueError as err:
            raise TranslationError(f"{filename}: {err}") from None
        exptime = req(header, "EXPTIME", filename, float)
        obstype = req(header, "OBSTYPE", filename).lower()
        return ObservationInfo(
            instrument=instrument,
            exposure_id=req(header, "EXPID", filename, int),
            obs_id=req(header, "OBSID", filename),
            group=req(header, "GROUPID", filename),
            snap=req(header, "SNAP", filename, int),
            observation_type=obstype,
            datetime_begin=req(header, "DATE-BEG", filename),
            datetime_end=req(header, "DATE-END", filename),
            exposure_time=exptime,
            dark_time=float(header.get("DARKTIME", exptime)),
            physical_filter=physical_filter,
            band=band,
            boresight_ra=req(header, "RA", filename, float),
            boresight_dec=req(header, "DEC", filename, float),
            rotation_angle=req(header, "ROTPA", filename, float),
            airmass=req(header, "AIRMASS", filename, float),
            detector_id=det.id,
            detector_name=det.name,
            day_obs=req(header, "DAYOBS", filename, int),
            seq_num=req(header, "SEQNUM", filename, int),
        )


class SimCam(Instrument):
    """The demo simulated camera: 4 detectors of 1024×1024 pixels with 2–4 amplifiers."""

    camera_file = "simcam.yaml"
    translator_class = SimCamTranslator
    config_folder = "simcam"


class SimCamBench(SimCam):
    """The benchmark simulated camera: 4 detectors of 4096×4096 pixels with 8 amplifiers."""

    camera_file = "simcam_bench.yaml"


class SimCamTiny(SimCam):
    """A tiny simulated camera for tests: 2 detectors of 256×256 pixels with 2 amplifiers."""

    camera_file = "simcam_tiny.yaml"


_BY_NAME: dict[str, type[SimCam]] = {"SimCam": SimCam, "SimCamBench": SimCamBench, "SimCamTiny": SimCamTiny}


def get_simcam(name: str) -> SimCam:
    """The SimCam instrument called ``name`` (``SimCam``, ``SimCamBench`` or ``SimCamTiny``)."""
    try:
        return _BY_NAME[name]()
    except KeyError:
        raise ValueError(f"Unknown SimCam instrument {name!r}; choose one of {sorted(_BY_NAME)}") from None
