# SPDX-License-Identifier: GPL-3.0-or-later
"""Header translators: raw FITS headers → observation records (the astro_metadata_translator role).

A translator turns the primary header of a raw file into an `ObservationInfo`, whose
`ObservationInfo.to_exposure_record` gives the ``exposure`` dimension record as a plain dict.
"""

from __future__ import annotations

import abc
import math
from dataclasses import asdict, dataclass
from typing import Any

from astropy.io import fits
from astropy.time import Time

__all__ = ["HeaderTranslator", "ObservationInfo", "TranslationError"]


class TranslationError(ValueError):
    """A raw header lacks a keyword or holds a value the translator cannot use."""


@dataclass(frozen=True, slots=True)
class ObservationInfo:
    """What a raw header says about one exposure of one detector.

    Times are TAI ISO strings; angles are degrees; ``boresight_ra/dec`` are as the telescope
    reported them (not the true pointing).
    """

    instrument: str
    exposure_id: int
    obs_id: str
    group: str
    snap: int
    observation_type: str
    datetime_begin: str
    datetime_end: str
    exposure_time: float
    dark_time: float
    physical_filter: str
    band: str
    boresight_ra: float
    boresight_dec: float
    rotation_angle: float
    airmass: float
    detector_id: int
    detector_name: str
    day_obs: int
    seq_num: int

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return asdict(self)

    def to_exposure_record(self) -> dict[str, Any]:
        """The ``exposure`` dimension record (detector-independent fields)."""
        d = self.to_dict()
        for key in ("detector_id", "detector_name"):
            d.pop(key)
        d["id"] = d.pop("exposure_id")
        return d

    @property
    def timespan_mjd(self) -> tuple[float, float]:
        """``(begin, end)`` as TAI MJD."""
        return (
            float(Time(self.datetime_begin, scale="tai").mjd),
            float(Time(self.datetime_end, scale="tai").mjd),
        )


class HeaderTranslator(abc.ABC):
    """Translate the raw headers of one instrument; subclasses implement `to_observation_info`."""

    def __init__(self, instrument: Any) -> None:
        self.instrument = instrument

    @abc.abstractmethod
    def can_translate(self, header: fits.Header) -> bool:
        """Whether ``header`` comes from this translator's instrument."""

    @abc.abstractmethod
    def to_observation_info(self, header: fits.Header, filename: str = "<header>") -> ObservationInfo:
        """Translate ``header``; raises `TranslationError` naming ``filename`` and the keyword."""

    @staticmethod
    def require(header: fits.Header, key: str, filename: str, kind: type = str) -> Any:
        """``header[key]`` converted to ``kind``; a `TranslationError` names what is missing."""
        if key not in header:
            raise TranslationError(f"{filename}: raw header has no {key!r} keyword")
        try:
            value = kind(header[key])
        except (TypeError, ValueError):
            raise TranslationError(
                f"{filename}: header keyword {key}={header[key]!r} is not a valid {kind.__name__}"
            ) from None
        if kind is float and not math.isfinite(value):
            raise TranslationError(f"{filename}: header keyword {key}={header[key]!r} is not finite")
        return value
