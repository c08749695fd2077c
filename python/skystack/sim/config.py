# SPDX-License-Identifier: GPL-3.0-or-later
"""Configuration of the survey simulator, with presets ``tiny``, ``demo``, ``small`` and ``bench``.

Every physical effect has a switch in `EffectsConfig`; `SimulatorConfig.preset` returns a preset
that can then be overridden field by field (``config.apply_overrides(["effects.cosmic_rays=false"])``).
"""

from __future__ import annotations

from typing import Literal

from skystack.config import Config, field

__all__ = [
    "PRESETS",
    "CalibrationConfig",
    "EffectsConfig",
    "SimulatorConfig",
    "SkyConfig",
    "SurveyConfig",
]

PRESETS = ("tiny", "demo", "small", "bench")


class EffectsConfig(Config):
    """Switches and sizes of the detector and photon effects."""

    photon_noise: bool = field(True, doc="Poisson noise on the electrons collected.")
    read_noise: bool = field(True, doc="Gaussian read noise (per amplifier, from the camera).")
    bias: bool = field(True, doc="Bias level per amplifier (from the camera).")
    bias_structure: bool = field(True, doc="Row and column structure on top of the bias level.")
    bias_row_amplitude: float = field(3.0, doc="RMS (ADU) of the row-to-row bias jitter.", ge=0)
    bias_column_amplitude: float = field(2.0, doc="Amplitude (ADU) of the fixed column pattern.", ge=0)
    dark: bool = field(True, doc="Dark current.")
    dark_current: float = field(0.02, doc="Dark current in electrons per second per pixel.", ge=0)
    hot_pixels: bool = field(True, doc="Hot pixels (dark current many times the mean).")
    hot_pixel_fraction: float = field(2e-5, doc="Fraction of hot pixels.", ge=0, le=0.01)
    hot_pixel_current: float = field(200.0, doc="Dark current of hot pixels (e-/s).", gt=0)
    flat: bool = field(True, doc="Pixel response non-uniformity and vignetting.")
    pixel_response_rms: float = field(0.01, doc="RMS of the pixel-to-pixel response.", ge=0, le=0.2)
    vignetting: float = field(0.1, doc="Fractional loss of throughput at the edge of the field.", ge=0, lt=1)
    defects: bool = field(True, doc="The camera's curated bad columns (response 5 %).")
    nonlinearity: bool = field(True, doc="Quadratic non-linearity per amplifier (from the camera).")
    crosstalk: bool = field(True, doc="Crosstalk between the amplifiers of a detector.")
    saturation: bool = field(True, doc="Saturation at full well with bleed trails along columns.")
    full_well: float = field(90000.0, doc="Full-well depth in electrons.", gt=0)
    cosmic_rays: bool = field(True, doc="Cosmic-ray tracks.")
    cosmic_ray_rate: float = field(2.0, doc="Cosmic rays per cm² per second.", ge=0)


class SkyConfig(Config):
    """The astrophysical scene."""

    star_density: float = field(
        40000.0, doc="Stars per square degree with r brighter than mag_max (a mid-latitude field).", ge=0
    )
    star_mag_min: float = field(14.0, doc="Brightest star magnitude (r).")
    star_mag_max: float = field(24.0, doc="Faintest star magnitude (r).")
    star_lf_slope: float = field(0.3, doc="Slope of log10 N(<m) per magnitude (luminosity function).", gt=0)
    proper_motion_sigma: float = field(10.0, doc="RMS proper motion per axis (mas/yr).", ge=0)
    galaxy_density: float = field(20000.0, doc="Galaxies per square degree.", ge=0)
    galaxy_mag_min: float = field(18.0, doc="Brightest galaxy magnitude (r).")
    galaxy_mag_max: float = field(24.0, doc="Faintest galaxy magnitude (r).")
    variable_fraction: float = field(0.02, doc="Fraction of stars that are periodic variables.", ge=0, le=1)
    n_transients: int = field(4, doc="Supernova-like transients on host galaxies.", ge=0)
    n_lensed_quasars: int = field(1, doc="Lensed-quasar-like blends (2–4 images on a lens galaxy).", ge=0)
    n_moving: int = field(3, doc="Moving objects (asteroid-like).", ge=0)
    epoch: float = field(2016.0, doc="Epoch (Julian year) of the catalogue positions.")


class SurveyConfig(Config):
    """Pointings and observing conditions."""

    ra: float = field(150.0, doc="Field centre right ascension (degrees).", ge=0, lt=360)
    dec: float = field(2.0, doc="Field centre declination (degrees).", ge=-89, le=89)
    n_visits: int = field(6, doc="Number of visits.", ge=1)
    bands: list[str] = field(default_factory=lambda: ["g", "r", "i"], doc="Bands, cycled over visits.")
    snaps: int = field(1, doc="Snaps (exposures) per visit.", ge=1, le=2)
    exposure_time: float = field(30.0, doc="Exposure time per snap (s).", gt=0)
    start_mjd: float = field(60676.1, doc="TAI MJD of the first visit.")
    survey_days: float = field(60.0, doc="Visits are spread over this many days.", gt=0)
    dither: float = field(0.01, doc="RMS dither of the boresight per axis (degrees).", ge=0)
    rotation_sigma: float = field(3.0, doc="RMS of the rotation angle about zero (degrees).", ge=0)
    seeing_min: float = field(0.6, doc="Best seeing FWHM (arcsec).", gt=0)
    seeing_max: float = field(1.2, doc="Worst seeing FWHM (arcsec).", gt=0)
    psf_beta: float = field(3.5, doc="Moffat beta of the PSF.", gt=2)
    psf_field_variation: float = field(0.08, doc="Fractional FWHM increase at the field edge.", ge=0)
    sky_mag_min: float = field(20.0, doc="Brightest sky (mag/arcsec², r).")
    sky_mag_max: float = field(21.0, doc="Darkest sky (mag/arcsec², r).")
    transparency_min: float = field(0.8, doc="Worst transparency (fraction of photons kept).", gt=0, le=1)
    airmass_max: float = field(1.6, doc="Largest airmass.", ge=1)
    distortion: bool = field(True, doc="Optical distortion (the camera's radial term) in the true WCS.")
    pointing_error: float = field(3.0, doc="RMS error (arcsec) of the reported boresight per axis.", ge=0)
    rotation_error: float = field(0.2, doc="RMS error (degrees) of the reported rotation.", ge=0)


class CalibrationConfig(Config):
    """Calibration exposures written beside the science raws."""

    n_bias: int = field(3, doc="Bias exposures.", ge=0)
    n_dark: int = field(2, doc="Dark exposures.", ge=0)
    dark_time: float = field(300.0, doc="Dark exposure time (s).", gt=0)
    n_flat: int = field(2, doc="Dome flats per band used by the survey.", ge=0)
    flat_level: float = field(20000.0, doc="Flat illumination (electrons per pixel).", gt=0)


class SimulatorConfig(Config):
    """Everything `skystack.sim.simulate` needs; start from `SimulatorConfig.preset`."""

    instrument: Literal["SimCam", "SimCamBench", "SimCamTiny"] = field("SimCam", doc="The SimCam camera.")
    seed: int = field(1, doc="Random seed; equal seeds give identical outputs.", ge=0)
    sky: SkyConfig = field(default_factory=SkyConfig, doc="The astrophysical scene.")
    survey: SurveyConfig = field(default_factory=SurveyConfig, doc="Pointings and conditions.")
    effects: EffectsConfig = field(default_factory=EffectsConfig, doc="Detector and photon effects.")
    calibrations: CalibrationConfig = field(default_factory=CalibrationConfig, doc="Calibration raws.")
    zero_points: dict[str, float] = field(
        default_factory=lambda: {"u": 26.5, "g": 28.3, "r": 28.1, "i": 27.8, "z": 27.4, "y": 26.6},
        doc="Magnitude giving 1 electron per second at airmass 0 and full transparency, per band.",
    )
    extinction: dict[str, float] = field(
        default_factory=lambda: {"u": 0.45, "g": 0.2, "r": 0.12, "i": 0.08, "z": 0.06, "y": 0.06},
        doc="Atmospheric extinction (mag per airmass) per band.",
    )
    refcat_mag_max: float = field(
        22.0, doc="Faintest reference-catalogue star (r): a Gaia-like depth, tens of stars per detector."
    )
    refcat_epoch: float = field(2016.0, doc="Epoch (Julian year) of the reference catalogue.")
    refcat_position_error: float = field(5.0, doc="RMS reference position error (mas).", ge=0)
    refcat_flux_error: float = field(0.01, doc="Fractional RMS flux error of the reference catalogue.", ge=0)

    @classmethod
    def preset(cls, name: str) -> SimulatorConfig:
        """A preset config: ``tiny`` (tests), ``demo``, ``small`` or ``bench``.

        Raises
        ------
        ValueError
            If ``name`` is not one of `PRESETS`.
        """
        if name not in PRESETS:
            raise ValueError(f"Unknown simulator preset {name!r}; choose one of {list(PRESETS)}")
        config = cls()
        if name == "tiny":
            config.instrument = "SimCamTiny"
            config.survey.n_visits = 2
            config.survey.bands = ["r", "g"]
            config.survey.dither = 0.001
            config.sky.star_density = 60000.0
            config.calibrations.n_bias = 1
            config.calibrations.n_dark = 1
            config.calibrations.n_flat = 1
        elif name == "small":
            config.survey.n_visits = 3
            config.survey.bands = ["r"]
        elif name == "bench":
            config.instrument = "SimCamBench"
            config.survey.n_visits = 4
            config.survey.dither = 0.05
        return config
