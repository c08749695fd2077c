# SPDX-License-Identifier: GPL-3.0-or-later
"""Camera geometry and the `Instrument` base class (the obs_* / afw.cameraGeom role).

A camera is described by a YAML file (see ``data/simcam.yaml``)::

    name: SimCam
    plate_scale: 20.0            # arcsec per mm in the focal plane
    raw_layout: {prescan: 8, serial_overscan: 32}
    filters:
      - {physical_filter: SimCam-r, band: r, wavelength: 620.0}
    detectors:
      - id: 0
        name: R00S00
        serial: SIM-0000
        width: 1024              # pixels
        height: 1024
        pixel_size: 0.01         # mm
        position: [-5.5, -5.5]   # mm, detector centre in the focal plane
        rotation: 0.0            # degrees, detector +x from focal-plane +x towards +y
        crosstalk: [[0.0, 1.0e-4], [2.0e-4, 0.0]]   # victim row, source column
        defects: [[100, 0, 1, 512]]                 # bad regions [x0, y0, width, height]
        amplifiers:
          - {name: C00, bbox: [0, 0, 512, 1024], gain: 1.7, read_noise: 5.0,
             saturation: 60000, bias_level: 1000.0, linearity_c2: -2.0e-7, flip_x: false}

Coordinates: detector pixel ``(x, y)`` has its centre at integer values (``x`` = column); the focal
plane position of a pixel is ``position + pixel_size * R(rotation) @ ((x, y) - centre)`` with
``centre = ((width - 1) / 2, (height - 1) / 2)``. Each amplifier's raw segment is
``prescan | data | serial overscan`` columns by the amplifier's data rows, in readout order
(``flip_x``/``flip_y`` say whether the readout reverses the detector's x/y axes).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import yaml

from skystack.geom import Box2I

__all__ = [
    "Amplifier",
    "Camera",
    "CameraError",
    "Detector",
    "Filter",
    "Instrument",
    "load_camera_resource",
]


class CameraError(ValueError):
    """A camera description is invalid or a detector/filter/amplifier is unknown."""


def _box(value: Any, what: str) -> Box2I:
    if not (isinstance(value, list | tuple) and len(value) == 4):
        raise CameraError(f"{what}: expected a box [x0, y0, width, height], got {value!r}")
    return Box2I(*(int(v) for v in value))


@dataclass(frozen=True, slots=True)
class Filter:
    """A physical filter and the abstract band it belongs to.

    Parameters
    ----------
    physical_filter : `str`
        The instrument's own filter name (e.g. ``SimCam-r``).
    band : `str`
        The abstract band (``u g r i z y``).
    wavelength : `float`
        Effective wavelength in nm.
    """

    physical_filter: str
    band: str
    wavelength: float

    def to_dict(self) -> dict[str, Any]:
        """Plain values (as in the camera YAML)."""
        return {"physical_filter": self.physical_filter, "band": self.band, "wavelength": self.wavelength}


@dataclass(frozen=True, slots=True)
class Amplifier:
    """One readout amplifier of a detector.

    Parameters
    ----------
    name : `str`
        Amplifier name, unique within its detector (e.g. ``C00``).
    bbox : `~skystack.geom.Box2I`
        Its data pixels in assembled detector coordinates.
    gain : `float`
        Electrons per ADU.
    read_noise : `float`
        Read noise in electrons.
    saturation : `float`
        Level in ADU above which pixels are saturated (bias included).
    bias_level : `float`
        Mean bias level in ADU.
    linearity_c2 : `float`
        Quadratic non-linearity: ``measured = true + linearity_c2 * true**2`` (ADU, bias removed).
    flip_x, flip_y : `bool`
        Whether the readout order reverses the detector's x (y) axis.
    prescan, serial_overscan : `int`
        Number of prescan and serial-overscan columns in the raw segment.
    """

    name: str
    bbox: Box2I
    gain: float
    read_noise: float
    saturation: float
    bias_level: float
    linearity_c2: float = 0.0
    flip_x: bool = False
    flip_y: bool = False
    prescan: int = 0
    serial_overscan: int = 32

    @property
    def raw_shape(self) -> tuple[int, int]:
        """Shape ``(rows, columns)`` of the raw segment (prescan + data + overscan)."""
        return (self.bbox.height, self.prescan + self.bbox.width + self.serial_overscan)

    @property
    def raw_data_bbox(self) -> Box2I:
        """Data pixels within the raw segment (0-based)."""
        return Box2I(self.prescan, 0, self.bbox.width, self.bbox.height)

    @property
    def raw_prescan_bbox(self) -> Box2I:
        """Prescan pixels within the raw segment (empty when ``prescan == 0``)."""
        return Box2I(0, 0, self.prescan, self.bbox.height)

    @property
    def raw_serial_overscan_bbox(self) -> Box2I:
        """Serial-overscan pixels within the raw segment."""
        return Box2I(self.prescan + self.bbox.width, 0, self.serial_overscan, self.bbox.height)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (as in the camera YAML)."""
        b = self.bbox
        return {
            "name": self.name,
            "bbox": [b.min_x, b.min_y, b.width, b.height],
            "gain": self.gain,
            "read_noise": self.read_noise,
            "saturation": self.saturation,
            "bias_level": self.bias_level,
            "linearity_c2": self.linearity_c2,
            "flip_x": self.flip_x,
            "flip_y": self.flip_y,
        }


@dataclass(frozen=True, slots=True, eq=False)
class Detector:
    """One detector (CCD) of a camera.

    Parameters
    ----------
    id : `int`
        Detector id, unique in the camera.
    name : `str`
        Detector name (e.g. ``R00S00``).
    serial : `str`
        Serial number of the physical device.
    bbox : `~skystack.geom.Box2I`
        Assembled data pixels ``(0, 0, width, height)``.
    pixel_size : `float`
        Pixel size in mm.
    position : `tuple` [`float`, `float`]
        Focal-plane position (mm) of the detector centre.
    rotation : `float`
        Rotation (degrees) of the detector x axis from the focal-plane x axis, towards +y.
    amplifiers : `tuple` [`Amplifier`, ...]
        The amplifiers, in readout (HDU) order; their boxes tile ``bbox``.
    crosstalk : `numpy.ndarray`
        ``(n_amp, n_amp)`` coefficients: ``victim[i] += crosstalk[i, j] * source[j]`` (ADU).
    defects : `tuple` [`~skystack.geom.Box2I`, ...]
        Known bad regions (curated defects).
    """

    id: int
    name: str
    serial: str
    bbox: Box2I
    pixel_size: float
    position: tuple[float, float]
    rotation: float
    amplifiers: tuple[Amplifier, ...]
    crosstalk: np.ndarray
    defects: tuple[Box2I, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        n = len(self.amplifiers)
        if n == 0:
            raise CameraError(f"Detector {self.name}: needs at least one amplifier")
        area = sum(a.bbox.area for a in self.amplifiers)
        if area != self.bbox.area or not all(self.bbox.contains_box(a.bbox) for a in self.amplifiers):
            raise CameraError(
                f"Detector {self.name}: amplifier boxes must tile the detector {self.bbox} exactly; "
                "fix their 'bbox' entries in the camera YAML"
            )
        if self.crosstalk.shape != (n, n):
            raise CameraError(
                f"Detector {self.name}: crosstalk matrix must be {n}x{n} (one row per amplifier), "
                f"got shape {self.crosstalk.shape}"
            )
        names = [a.name for a in self.amplifiers]
        if len(set(names)) != n:
            raise CameraError(f"Detector {self.name}: amplifier names must be unique, got {names}")

    @property
    def center(self) -> tuple[float, float]:
        """Pixel position ``(x, y)`` of the detector centre."""
        return ((self.bbox.width - 1) / 2.0, (self.bbox.height - 1) / 2.0)

    def _rotation_matrix(self) -> np.ndarray:
        t = math.radians(self.rotation)
        return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])

    def pixel_to_focal_plane(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Focal-plane position (mm) of detector pixel positions ``x, y`` (arrays or scalars)."""
        cx, cy = self.center
        r = self._rotation_matrix() * self.pixel_size
        dx, dy = np.asarray(x, dtype=float) - cx, np.asarray(y, dtype=float) - cy
        return self.position[0] + r[0, 0] * dx + r[0, 1] * dy, self.position[1] + r[1, 0] * dx + r[1, 1] * dy

    def focal_plane_to_pixel(self, fx: Any, fy: Any) -> tuple[np.ndarray, np.ndarray]:
        """Detector pixel position of focal-plane positions ``fx, fy`` (mm); inverse of the above."""
        cx, cy = self.center
        r = self._rotation_matrix().T / self.pixel_size
        dx, dy = (
            np.asarray(fx, dtype=float) - self.position[0],
            np.asarray(fy, dtype=float) - self.position[1],
        )
        return cx + r[0, 0] * dx + r[0, 1] * dy, cy + r[1, 0] * dx + r[1, 1] * dy

    def get_amplifier(self, name: str) -> Amplifier:
        """The amplifier called ``name``; raises `CameraError` naming the valid ones."""
        for amp in self.amplifiers:
            if amp.name == name:
                return amp
        raise CameraError(
            f"Detector {self.name} has no amplifier {name!r}; it has {[a.name for a in self.amplifiers]}"
        )

    def defect_mask(self) -> np.ndarray:
        """Boolean ``(height, width)`` array, True on the curated defects."""
        mask = np.zeros(self.bbox.shape, dtype=bool)
        for box in self.defects:
            mask[box.intersection(self.bbox).slices()] = True
        return mask


@dataclass(frozen=True, slots=True, eq=False)
class Camera:
    """A camera: named detectors in a focal plane, its filters and its plate scale.

    Parameters
    ----------
    name : `str`
        Instrument name.
    plate_scale : `float`
        Arcseconds on the sky per mm in the focal plane (at the optical axis).
    radial_distortion : `float`
        Cubic radial distortion coefficient ``k`` (per degree²): a field angle ``θ`` is seen at
        ``θ (1 + k θ²)`` (θ in degrees).
    filters : `tuple` [`Filter`, ...]
        The filters.
    detectors : `tuple` [`Detector`, ...]
        The detectors, ordered by id.
    """

    name: str
    plate_scale: float
    radial_distortion: float
    filters: tuple[Filter, ...]
    detectors: tuple[Detector, ...]

    @classmethod
    def from_yaml(cls, path: str | Path) -> Camera:
        """Read a camera YAML file (format in the module docstring)."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as err:
            raise CameraError(f"Cannot read camera file {p}: {err}") from None
        return cls.from_mapping(yaml.safe_load(text), source=str(p))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "<mapping>") -> Camera:
        """Build from the parsed YAML mapping; errors name ``source`` and the bad entry."""
        try:
            layout = data.get("raw_layout", {})
            prescan = int(layout.get("prescan", 0))
            overscan = int(layout.get("serial_overscan", 32))
            filters = tuple(
                Filter(str(f["physical_filter"]), str(f["band"]), float(f["wavelength"]))
                for f in data["filters"]
            )
            detectors = []
            for d in data["detectors"]:
                amps = tuple(
                    Amplifier(
                        name=str(a["name"]),
                        bbox=_box(a["bbox"], f"{source}: detector {d['name']} amplifier {a['name']}"),
                        gain=float(a["gain"]),
                        read_noise=float(a["read_noise"]),
                        saturation=float(a["saturation"]),
                        bias_level=float(a["bias_level"]),
                        linearity_c2=float(a.get("linearity_c2", 0.0)),
                        flip_x=bool(a.get("flip_x", False)),
                        flip_y=bool(a.get("flip_y", False)),
                        prescan=prescan,
                        serial_overscan=overscan,
                    )
                    for a in d["amplifiers"]
                )
                n = len(amps)
                xt = np.asarray(d.get("crosstalk", np.zeros((n, n))), dtype=float)
                detectors.append(
                    Detector(
                        id=int(d["id"]),
                        name=str(d["name"]),
                        serial=str(d.get("serial", d["name"])),
                        bbox=Box2I(0, 0, int(d["width"]), int(d["height"])),
                        pixel_size=float(d["pixel_size"]),
                        position=(float(d["position"][0]), float(d["position"][1])),
                        rotation=float(d.get("rotation", 0.0)),
                        amplifiers=amps,
                        crosstalk=xt,
                        defects=tuple(
                            _box(b, f"{source}: detector {d['name']} defect") for b in d.get("defects", [])
                        ),
                    )
                )
            camera = cls(
                name=str(data["name"]),
                plate_scale=float(data["plate_scale"]),
                radial_distortion=float(data.get("radial_distortion", 0.0)),
                filters=filters,
                detectors=tuple(sorted(detectors, key=lambda det: det.id)),
            )
        except KeyError as err:
            raise CameraError(f"{source}: missing required camera key {err}") from None
        except (TypeError, ValueError) as err:
            if isinstance(err, CameraError):
                raise
            raise CameraError(f"{source}: invalid camera description: {err}") from None
        ids = [d.id for d in camera.detectors]
        if len(set(ids)) != len(ids):
            raise CameraError(f"{source}: detector ids must be unique, got {ids}")
        return camera

    def __iter__(self) -> Iterator[Detector]:
        return iter(self.detectors)

    def __len__(self) -> int:
        return len(self.detectors)

    def get_detector(self, detector_id: int) -> Detector:
        """The detector with id ``detector_id``; raises `CameraError` listing the valid ids."""
        for det in self.detectors:
            if det.id == detector_id:
                return det
        raise CameraError(
            f"Camera {self.name} has no detector {detector_id}; ids are {[d.id for d in self.detectors]}"
        )

    def get_detector_by_name(self, name: str) -> Detector:
        """The detector called ``name``; raises `CameraError` listing the valid names."""
        for det in self.detectors:
            if det.name == name:
                return det
        raise CameraError(
            f"Camera {self.name} has no detector {name!r}; names are {[d.name for d in self.detectors]}"
        )

    def get_filter(self, physical_filter: str) -> Filter:
        """The filter called ``physical_filter``; raises `CameraError` listing the valid ones."""
        for f in self.filters:
            if f.physical_filter == physical_filter:
                return f
        raise CameraError(
            f"Camera {self.name} has no filter {physical_filter!r}; "
            f"filters are {[f.physical_filter for f in self.filters]}"
        )

    def filter_for_band(self, band: str) -> Filter:
        """The (first) filter of ``band``; raises `CameraError` listing the bands."""
        for f in self.filters:
            if f.band == band:
                return f
        raise CameraError(f"Camera {self.name} has no filter of band {band!r}; bands are {self.bands}")

    @property
    def bands(self) -> list[str]:
        """The bands of the filters, in filter order."""
        return [f.band for f in self.filters]

    @property
    def field_radius(self) -> float:
        """Radius (mm) of the circle about the optical axis that holds every detector corner."""
        r = 0.0
        for det in self.detectors:
            xs = np.array([-0.5, det.bbox.width - 0.5, det.bbox.width - 0.5, -0.5])
            ys = np.array([-0.5, -0.5, det.bbox.height - 0.5, det.bbox.height - 0.5])
            fx, fy = det.pixel_to_focal_plane(xs, ys)
            r = max(r, float(np.hypot(fx, fy).max()))
        return r


def load_camera_resource(filename: str) -> Camera:
    """Load a camera YAML shipped in ``skystack/instruments/data/``."""
    node = resources.files("skystack.instruments.data").joinpath(filename)
    if not node.is_file():
        raise CameraError(f"No camera file {filename!r} is shipped in skystack/instruments/data/")
    return Camera.from_mapping(yaml.safe_load(node.read_text(encoding="utf-8")), source=filename)


class Instrument:
    """An instrument: its camera, filters, header translator, config overrides and curated calibrations.

    Subclasses set `camera_file` (a YAML file in ``skystack/instruments/data``) and
    `translator_class`, or override `load_camera`.
    """

    camera_file: ClassVar[str] = ""
    translator_class: ClassVar[type | None] = None
    #: Name of the folder below the repository's ``config/`` holding per-task overrides.
    config_folder: ClassVar[str] = ""

    def __init__(self) -> None:
        self._camera = self.load_camera()

    def load_camera(self) -> Camera:
        """Build the camera (default: read `camera_file`)."""
        if not self.camera_file:
            raise CameraError(f"{type(self).__name__} sets no camera_file; set it or override load_camera()")
        return load_camera_resource(self.camera_file)

    @property
    def name(self) -> str:
        """Instrument name (the ``instrument`` dimension value)."""
        return self._camera.name

    @property
    def camera(self) -> Camera:
        """The camera geometry."""
        return self._camera

    @property
    def filters(self) -> tuple[Filter, ...]:
        """The filters."""
        return self._camera.filters

    def get_translator(self) -> Any:
        """An instance of the header translator of this instrument's raw files."""
        if self.translator_class is None:
            raise CameraError(f"{type(self).__name__} has no translator_class")
        return self.translator_class(self)

    @property
    def config_dir(self) -> str:
        """Path below ``config/`` of this instrument's per-task overrides (e.g. ``simcam``)."""
        return self.config_folder or self.name.lower()

    def config_override_dir(self) -> Traversable | None:
        """The shipped folder ``config/<config_dir>`` of per-task overrides, or None if absent.

        A pipeline naming this instrument applies ``<task>.yaml`` files from it to its tasks'
        configs (see `skystack.pipe.instrument_overrides`).
        """
        from skystack.resources import config_folder

        return config_folder(self.config_dir)

    def curated_calibrations(self, detector_id: int) -> dict[str, Any]:
        """The curated calibrations of one detector, from the camera description.

        Returns
        -------
        calibs : `dict`
            ``defects`` (list of `~skystack.geom.Box2I`), ``crosstalk`` (``(n_amp, n_amp)`` array,
            ``victim += coeff * source``), ``linearity`` (per-amplifier name → quadratic coefficient,
            ``measured = true + c2 * true**2`` in ADU).
        """
        det = self._camera.get_detector(detector_id)
        return {
            "defects": list(det.defects),
            "crosstalk": det.crosstalk.copy(),
            "linearity": {a.name: a.linearity_c2 for a in det.amplifiers},
        }
