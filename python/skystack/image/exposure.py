# SPDX-License-Identifier: GPL-3.0-or-later
"""`Exposure` (a masked image with its WCS, PSF, calibration and visit information) and `VisitInfo`.

Components other than the pixels are treated as immutable values: a sub-exposure made with
`Exposure.subset` shares the pixels with its parent (a view) and refers to the same component
objects. Because boxes are in parent coordinates, the same WCS, PSF and calibration apply to a
sub-exposure unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from os import PathLike
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from astropy.io.fits import Header

from skystack.geom import Box2I, Point2I
from skystack.utils.persist import register_persistable

from .image import Image
from .mask import Mask
from .masked_image import MaskedImage

if TYPE_CHECKING:
    from astropy.coordinates import EarthLocation
    from astropy.time import Time

    from skystack.geom.wcs import SkyWcs

__all__ = ["Exposure", "Observatory", "VisitInfo"]

_EXTRA_TYPES = (str, int, float, bool)


def _check_optional(name: str, value: Any, kinds: tuple[type, ...]) -> None:
    if value is None:
        return
    if isinstance(value, bool) and bool not in kinds:
        raise TypeError(f"VisitInfo.{name} must be {' or '.join(k.__name__ for k in kinds)}, got {value!r}")
    if not isinstance(value, kinds):
        raise TypeError(
            f"VisitInfo.{name} must be {' or '.join(k.__name__ for k in kinds)} or None, "
            f"got {type(value).__name__} {value!r}"
        )


@register_persistable("Observatory")
@dataclass(frozen=True, slots=True)
class Observatory:
    """Geodetic position of a telescope.

    Parameters
    ----------
    longitude_deg : `float`
        East longitude in degrees.
    latitude_deg : `float`
        Geodetic latitude in degrees, in [-90, 90].
    elevation_m : `float`
        Height above the WGS84 ellipsoid in metres.
    """

    longitude_deg: float
    latitude_deg: float
    elevation_m: float

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"Observatory.{f.name} must be a number, got {value!r}")
            object.__setattr__(self, f.name, float(value))
        if not -90.0 <= self.latitude_deg <= 90.0:
            raise ValueError(f"Observatory.latitude_deg must be in [-90, 90], got {self.latitude_deg}")

    @property
    def earth_location(self) -> EarthLocation:
        """The position as an astropy `~astropy.coordinates.EarthLocation`."""
        from astropy import units as u
        from astropy.coordinates import EarthLocation

        return EarthLocation.from_geodetic(
            self.longitude_deg * u.deg, self.latitude_deg * u.deg, self.elevation_m * u.m
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Observatory:
        return cls(float(data["longitude_deg"]), float(data["latitude_deg"]), float(data["elevation_m"]))


@register_persistable("VisitInfo")
@dataclass(frozen=True, slots=True)
class VisitInfo:
    """What is known about the observation that produced an exposure (all fields optional).

    Parameters
    ----------
    exposure_id : `int`, optional
        Integer id of the exposure.
    mjd_tai : `float`, optional
        Date of the *middle* of the exposure as a Modified Julian Date in the TAI time scale
        (float64 resolves ~1 µs at current dates). Use `time` for an astropy `~astropy.time.Time`.
    exposure_time : `float`, optional
        Shutter-open time in seconds (>= 0).
    dark_time : `float`, optional
        Time since the detector was cleared, in seconds (>= 0).
    airmass : `float`, optional
        Airmass at the middle of the exposure (>= 1).
    boresight_ra_deg, boresight_dec_deg : `float`, optional
        ICRS position of the telescope boresight in degrees (declination in [-90, 90]).
    boresight_rot_angle_deg : `float`, optional
        Rotation angle of the focal plane on the sky in degrees (the Rubin ``SKY`` rotation type:
        position angle of the focal-plane +y axis, east of north).
    instrument : `str`, optional
        Instrument name.
    detector_id : `int`, optional
        Integer detector id.
    detector_name : `str`, optional
        Detector name.
    physical_filter : `str`, optional
        Name of the physical filter in the beam.
    band : `str`, optional
        Abstract band (``"g"``, ``"r"`` …).
    seeing_fwhm_arcsec : `float`, optional
        Delivered seeing FWHM in arcseconds (> 0).
    observatory : `Observatory`, optional
        Where the telescope is.
    extra : `dict` [`str`, `str` | `int` | `float` | `bool`], optional
        Other scalar facts (observation type, program, …); JSON and FITS-card compatible values.

    Raises
    ------
    TypeError
        If a field has the wrong type.
    ValueError
        If a value is out of range.
    """

    exposure_id: int | None = None
    mjd_tai: float | None = None
    exposure_time: float | None = None
    dark_time: float | None = None
    airmass: float | None = None
    boresight_ra_deg: float | None = None
    boresight_dec_deg: float | None = None
    boresight_rot_angle_deg: float | None = None
    instrument: str | None = None
    detector_id: int | None = None
    detector_name: str | None = None
    physical_filter: str | None = None
    band: str | None = None
    seeing_fwhm_arcsec: float | None = None
    observatory: Observatory | None = None
    extra: dict[str, str | int | float | bool] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("exposure_id", "detector_id"):
            _check_optional(name, getattr(self, name), (int,))
        for name in ("instrument", "detector_name", "physical_filter", "band"):
            _check_optional(name, getattr(self, name), (str,))
        for name in (
            "mjd_tai",
            "exposure_time",
            "dark_time",
            "airmass",
            "boresight_ra_deg",
            "boresight_dec_deg",
            "boresight_rot_angle_deg",
            "seeing_fwhm_arcsec",
        ):
            value = getattr(self, name)
            _check_optional(name, value, (int, float))
            if value is not None:
                object.__setattr__(self, name, float(value))
        _check_optional("observatory", self.observatory, (Observatory,))
        if not isinstance(self.extra, Mapping):
            raise TypeError(f"VisitInfo.extra must be a dict, got {type(self.extra).__name__}")
        for key, value in self.extra.items():
            if not isinstance(key, str) or not isinstance(value, _EXTRA_TYPES):
                raise TypeError(
                    f"VisitInfo.extra[{key!r}] must map a str to a str, int, float or bool, got {value!r}"
                )
        object.__setattr__(self, "extra", dict(self.extra))
        self._check_ranges()

    def _check_ranges(self) -> None:
        checks = (
            ("exposure_time", self.exposure_time, lambda v: v >= 0, ">= 0"),
            ("dark_time", self.dark_time, lambda v: v >= 0, ">= 0"),
            ("airmass", self.airmass, lambda v: v >= 1, ">= 1"),
            ("boresight_dec_deg", self.boresight_dec_deg, lambda v: -90 <= v <= 90, "in [-90, 90]"),
            ("seeing_fwhm_arcsec", self.seeing_fwhm_arcsec, lambda v: v > 0, "> 0"),
        )
        for name, value, ok, text in checks:
            if value is not None and not math.isnan(value) and not ok(value):
                raise ValueError(f"VisitInfo.{name} must be {text}, got {value}")

    @property
    def time(self) -> Time | None:
        """`mjd_tai` as an astropy `~astropy.time.Time` (TAI scale), or None."""
        if self.mjd_tai is None:
            return None
        from astropy.time import Time

        return Time(self.mjd_tai, format="mjd", scale="tai")

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["observatory"] = None if self.observatory is None else self.observatory.to_dict()
        data["extra"] = dict(self.extra)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VisitInfo:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"Unknown VisitInfo fields {sorted(unknown)}; known fields: {sorted(known)}")
        values = dict(data)
        if values.get("observatory") is not None:
            values["observatory"] = Observatory.from_dict(values["observatory"])
        return cls(**values)


class Exposure:
    """A `MaskedImage` with its WCS, PSF, photometric calibration and observation metadata.

    Parameters
    ----------
    masked_image : `MaskedImage`
        The pixels (kept, not copied).
    wcs : `~skystack.geom.wcs.SkyWcs`, optional
        Pixel ↔ sky mapping in parent pixel coordinates (0-based, pixel centres at integers).
    psf : optional
        A PSF model (a registered persistable object, see `skystack.utils.persist`).
    photo_calib : optional
        A photometric calibration (registered persistable).
    visit_info : `VisitInfo`, optional
        Observation metadata.
    ap_corr_map : optional
        An aperture-correction map (registered persistable).
    metadata : `astropy.io.fits.Header` or `~collections.abc.Mapping`, optional
        FITS-card-compatible free-form metadata (a mapping is converted to a Header; a Header
        is kept as given).

    Notes
    -----
    Build one from arrays with `from_arrays` or an empty one with `from_bbox`; read and write
    multi-extension FITS with `read_fits` and `write_fits` (see `skystack.image.fits`).
    """

    __slots__ = ("_masked_image", "ap_corr_map", "metadata", "photo_calib", "psf", "visit_info", "wcs")

    def __init__(
        self,
        masked_image: MaskedImage,
        *,
        wcs: SkyWcs | None = None,
        psf: Any = None,
        photo_calib: Any = None,
        visit_info: VisitInfo | None = None,
        ap_corr_map: Any = None,
        metadata: Header | Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(masked_image, MaskedImage):
            raise TypeError(
                f"Exposure needs a MaskedImage, got {type(masked_image).__name__}; "
                "use Exposure.from_arrays() to wrap numpy arrays"
            )
        if visit_info is not None and not isinstance(visit_info, VisitInfo):
            raise TypeError(f"Exposure visit_info must be a VisitInfo, got {type(visit_info).__name__}")
        if wcs is not None and not hasattr(wcs, "astropy_wcs"):
            raise TypeError(
                f"Exposure wcs must be a skystack.geom.wcs.SkyWcs, got {type(wcs).__name__}; "
                "wrap an astropy WCS with SkyWcs(wcs)"
            )
        self._masked_image = masked_image
        self.wcs = wcs
        self.psf = psf
        self.photo_calib = photo_calib
        self.visit_info = visit_info
        self.ap_corr_map = ap_corr_map
        if metadata is None:
            metadata = Header()
        elif not isinstance(metadata, Header):
            metadata = Header(list(metadata.items()))
        self.metadata: Header = metadata

    @classmethod
    def from_bbox(
        cls,
        bbox: Box2I,
        dtype: npt.DTypeLike = np.float32,
        **components: Any,
    ) -> Exposure:
        """A zero exposure covering ``bbox``; ``components`` are the keyword arguments of `Exposure`."""
        return cls(MaskedImage.from_bbox(bbox, dtype=dtype), **components)

    @classmethod
    def from_arrays(
        cls,
        image: npt.NDArray[Any],
        mask: npt.NDArray[np.integer] | None = None,
        variance: npt.NDArray[np.floating] | None = None,
        xy0: tuple[int, int] = (0, 0),
        **components: Any,
    ) -> Exposure:
        """Wrap arrays without copying; ``components`` are the keyword arguments of `Exposure`."""
        return cls(MaskedImage.from_arrays(image, mask, variance, xy0), **components)

    # -- pixels and geometry ---------------------------------------------------------------------
    @property
    def masked_image(self) -> MaskedImage:
        return self._masked_image

    @property
    def image(self) -> Image:
        return self._masked_image.image

    @property
    def mask(self) -> Mask:
        return self._masked_image.mask

    @property
    def variance(self) -> Image:
        return self._masked_image.variance

    @property
    def bbox(self) -> Box2I:
        return self._masked_image.bbox

    @property
    def xy0(self) -> Point2I:
        return self._masked_image.xy0

    @property
    def width(self) -> int:
        return self._masked_image.width

    @property
    def height(self) -> int:
        return self._masked_image.height

    @property
    def dtype(self) -> np.dtype:
        return self._masked_image.dtype

    @property
    def band(self) -> str | None:
        """The band from `visit_info`, or None."""
        return None if self.visit_info is None else self.visit_info.band

    @property
    def physical_filter(self) -> str | None:
        """The physical filter from `visit_info`, or None."""
        return None if self.visit_info is None else self.visit_info.physical_filter

    def _components(self) -> dict[str, Any]:
        return {
            "wcs": self.wcs,
            "psf": self.psf,
            "photo_calib": self.photo_calib,
            "visit_info": self.visit_info,
            "ap_corr_map": self.ap_corr_map,
        }

    def subset(self, bbox: Box2I) -> Exposure:
        """A sub-exposure: a view of the pixels in ``bbox`` with the same components.

        The metadata header is copied (so editing it does not change the parent's).
        """
        return Exposure(self._masked_image.subset(bbox), metadata=self.metadata.copy(), **self._components())

    def __getitem__(self, bbox: Box2I) -> Exposure:
        return self.subset(bbox)

    def copy(self) -> Exposure:
        """A copy with new pixel memory and metadata; model components are shared (immutable)."""
        return Exposure(self._masked_image.copy(), metadata=self.metadata.copy(), **self._components())

    def with_masked_image(self, masked_image: MaskedImage) -> Exposure:
        """An exposure with the same components around other pixels."""
        return Exposure(masked_image, metadata=self.metadata.copy(), **self._components())

    def __repr__(self) -> str:
        present = [name for name, value in self._components().items() if value is not None]
        return f"Exposure(bbox={self.bbox!r}, dtype={self.dtype}, components={present})"

    # -- files -----------------------------------------------------------------------------------
    def write_fits(self, path: str | PathLike[str], compression: Literal["lossless"] | None = None) -> None:
        """Write to multi-extension FITS; see `skystack.image.fits.write_exposure`."""
        from .fits import write_exposure

        write_exposure(path, self, compression=compression)

    @classmethod
    def read_fits(cls, path: str | PathLike[str], bbox: Box2I | None = None) -> Exposure:
        """Read a file written by `write_fits`; see `skystack.image.fits.read_exposure`."""
        from .fits import read_exposure

        return read_exposure(path, bbox=bbox)
