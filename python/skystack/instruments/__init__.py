# SPDX-License-Identifier: GPL-3.0-or-later
"""Instruments: camera geometry, filters, header translation and curated calibrations (obs_*)."""

from .base import Amplifier, Camera, CameraError, Detector, Filter, Instrument, load_camera_resource
from .generic import GenericInstrument, GenericTranslator, find_image_hdu
from .simcam import SimCam, SimCamBench, SimCamTiny, SimCamTranslator, get_simcam
from .translator import HeaderTranslator, ObservationInfo, TranslationError

__all__ = [
    "Amplifier",
    "Camera",
    "CameraError",
    "Detector",
    "Filter",
    "GenericInstrument",
    "GenericTranslator",
    "HeaderTranslator",
    "Instrument",
    "ObservationInfo",
    "SimCam",
    "SimCamBench",
    "SimCamTiny",
    "SimCamTranslator",
    "TranslationError",
    "find_image_hdu",
    "get_simcam",
    "load_camera_resource",
]
