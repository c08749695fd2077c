# SPDX-License-Identifier: GPL-3.0-or-later
"""Single-frame measurement: a plugin framework in the style of Rubin's ``meas_base``.

A `MeasurementPlugin` declares the catalog fields it fills (with units and docs, always including
``<name>_flag``) and measures *all* the sources it is given at once (plain numpy arrays in, numba
kernels inside); it never loops over rows in Python. Plugin classes register themselves by name
(`register_plugin`); `SingleFrameMeasurement` builds the configured ones, adds their fields to a
`skystack.table.Schema`, and runs them in execution order on a `skystack.table.SourceCatalog`:

====================  =====  ===================================================================
plugin                order  reads
====================  =====  ===================================================================
``centroid``          0      footprint peaks, PSF width
``shape``             1      ``slot_centroid``, PSF moments
``pixel_flags`` …     2      ``slot_centroid``, footprints (fluxes, local background, too)
``gaussian_flux``     2.5    ``slot_centroid``, ``slot_shape``
``extendedness``      5      ``psf_flux``, ``gaussian_flux``
====================  =====  ===================================================================

Slots are schema aliases: ``slot_centroid_x/_y`` name the centroid columns (the footprint peak
``peak_x/_y`` when no centroid plugin runs), ``slot_shape_xx/_yy/_xy`` the shape, ``slot_psf_flux``
the PSF flux, so later plugins read ``catalog["slot_centroid_x"]`` whatever produced it.

Deblended children: when footprints are `skystack.image.HeavyFootprint` objects (or whenever
``do_replace_with_noise`` is on), each source is measured on an image in which the pixels of every
*other* footprint are replaced by noise and its own footprint holds its own (deblended) values, as
Rubin's ``NoiseReplacer`` does. To keep the plugins vectorised, sources are split into layers whose
measurement regions (footprint box grown by the largest distance any plugin reads) do not touch;
each layer is inserted at once and measured in one call of every plugin (see `noise_replacer`).
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt

from skystack.config import Config, field
from skystack.image.footprint import Footprint
from skystack.image.mask import default_plane_dict
from skystack.image.psf import Psf
from skystack.table import Field, Schema, SchemaError, SourceCatalog

from ._inputs import as_image, check_xy0
from .footprint_spans import FootprintSpans
from .noise_replacer import NoiseReplacer, assign_layers

__all__ = [
    "DEFAULT_PLUGINS",
    "MeasurementData",
    "MeasurementError",
    "MeasurementPlugin",
    "SingleFrameMeasurement",
    "SingleFrameMeasurementConfig",
    "get_plugin_class",
    "register_plugin",
    "registered_plugins",
]

_log = logging.getLogger(__name__)

#: Plugins run by default, by registered name.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "centroid",
    "shape",
    "pixel_flags",
    "local_background",
    "ap_flux",
    "psf_flux",
    "gaussian_flux",
    "extendedness",
)


class MeasurementError(ValueError):
    """Raised for an invalid plugin set-up or measurement inputs (the message says how to fix it)."""


@dataclass(frozen=True)
class MeasurementData:
    """The pixels and models a measurement pass reads.

    Attributes
    ----------
    image : `numpy.ndarray`
        2-d image being measured (with neighbours replaced by noise when noise replacement is on).
    variance : `numpy.ndarray` or None
        Variance plane.
    mask : `numpy.ndarray` or None
        Integer mask plane.
    xy0 : `tuple` [`int`, `int`]
        Parent coordinates of ``image[0, 0]``.
    psf : `skystack.image.psf.Psf` or None
        The PSF model.
    plane_dict : mapping
        Mask plane name → bit.
    spans : `FootprintSpans`
        The footprints of all catalog rows.
    """

    image: np.ndarray
    variance: np.ndarray | None
    mask: np.ndarray | None
    xy0: tuple[int, int]
    psf: Psf | None
    plane_dict: Mapping[str, int]
    spans: FootprintSpans

    def bits(self, planes: Sequence[str]) -> int:
        """Bit mask of the named mask planes (planes the mask does not define are skipped)."""
        value = 0
        for name in planes:
            if name in self.plane_dict:
                value |= 1 << int(self.plane_dict[name])
        return value


class MeasurementPlugin(abc.ABC):
    """Base class of measurement plugins.

    Subclasses set the class attributes ``name`` (registered name and column prefix),
    ``ConfigClass``, ``execution_order`` and optionally ``needs_psf`` and ``requires`` (names
    of plugins that must run before), and implement `fields` and `measure`.

    Parameters
    ----------
    config : `Config`, optional
        An instance of ``ConfigClass``; default ``ConfigClass()``.

    Raises
    ------
    MeasurementError
        If ``config`` is not a ``ConfigClass`` instance.
    """

    name: ClassVar[str]
    ConfigClass: ClassVar[type[Config]] = Config
    execution_order: ClassVar[float] = 2.0
    needs_psf: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()
    doc: ClassVar[str] = ""

    def __init__(self, config: Config | None = None) -> None:
        cfg = self.ConfigClass() if config is None else config
        if not isinstance(cfg, self.ConfigClass):
            raise MeasurementError(
                f"plugin {self.name!r} needs a {self.ConfigClass.__name__}, got {type(config).__name__}"
            )
        cfg.check()
        self.config = cfg

    @property
    def flag_name(self) -> str:
        """The plugin's general failure flag column, ``<name>_flag``."""
        return f"{self.name}_flag"

    def schema_fields(self) -> list[Field]:
        """`fields` preceded by the ``<name>_flag`` field."""
        flag = Field(self.flag_name, np.dtype(bool), "", f"General failure flag of the {self.name} plugin")
        return [flag, *self.fields()]

    @abc.abstractmethod
    def fields(self) -> list[Field]:
        """The catalog fields this plugin fills (besides ``<name>_flag``), with units and docs."""

    def slots(self) -> dict[str, str]:
        """Slot aliases this plugin defines: ``{alias: field name}``."""
        return {}

    def reach(self, psf: Psf | None) -> float:
        """How far (pixels) from the centroid this plugin reads pixels (for noise replacement)."""
        return 0.0

    @abc.abstractmethod
    def measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        """Measure the sources at ``rows`` (int64 row numbers) and write their columns.

        Implementations read inputs with ``catalog[name][rows]`` (slots included) and write with
        ``catalog[name][rows] = values``; they must not loop over rows in Python.
        """


_REGISTRY: dict[str, type[MeasurementPlugin]] = {}


def register_plugin(cls: type[MeasurementPlugin]) -> type[MeasurementPlugin]:
    """Class decorator: register a plugin class under its ``name``.

    Raises
    ------
    MeasurementError
        If the class has no ``name`` or another class has that name.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise MeasurementError(
            f"plugin class {cls.__name__} needs a lower-case identifier `name`, got {name!r}"
        )
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls:
        raise MeasurementError(f"a plugin named {name!r} is already registered ({existing.__qualname__})")
    _REGISTRY[name] = cls
    return cls


def get_plugin_class(name: str) -> type[MeasurementPlugin]:
    """The plugin class registered as ``name``.

    Raises
    ------
    MeasurementError
        If no plugin has that name; the message lists the registered ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise MeasurementError(
            f"no measurement plugin named {name!r}; registered: {', '.join(registered_plugins())}"
        ) from None


def registered_plugins() -> list[str]:
    """Registered plugin names, in execution order (then by name)."""
    return sorted(_REGISTRY, key=lambda n: (_REGISTRY[n].execution_order, n))


class SingleFrameMeasurementConfig(Config):
    """Settings of the measurement driver (each plugin has its own config)."""

    plugins: list[str] = field(default_factory=lambda: list(DEFAULT_PLUGINS), doc="Plugins to run, by name.")
    do_replace_with_noise: bool = field(
        True, doc="Measure each source with the other footprints replaced by noise (deblended children)."
    )
    noise_source: Literal["measure", "variance"] = field(
        "measure",
        doc="Noise for replaced pixels: 'measure' = clipped mean and scatter of the image outside all "
        "footprints; 'variance' = Gaussian with each pixel's variance-plane value and mean noise_offset.",
    )
    noise_offset: float = field(0.0, doc="Mean of the replacement noise for noise_source='variance' (ct).")
    noise_seed: int = field(0, doc="Seed of the replacement noise (results are reproducible).", ge=0)
    extra_margin: int = field(
        3,
        doc="Pixels added to the plugins' reach when separating sources into noise-replacement layers.",
        ge=0,
    )

    def validate_config(self) -> None:
        if len(set(self.plugins)) != len(self.plugins):
            raise ValueError(f"plugins lists a plugin twice: {list(self.plugins)}")


_PEAK_FIELDS = (
    Field("peak_x", np.dtype(np.float64), "pix", "x of the footprint peak the measurement started from"),
    Field("peak_y", np.dtype(np.float64), "pix", "y of the footprint peak the measurement started from"),
)


class SingleFrameMeasurement:
    """Run measurement plugins on all sources of an image.

    Parameters
    ----------
    plugins : sequence of `str` or `MeasurementPlugin`, optional
        Plugin names (built with their config from ``plugin_configs`` or the default) or plugin
        instances; default ``config.plugins``.
    plugin_configs : mapping [`str`, `Config`], optional
        Config per plugin name.
    config : `SingleFrameMeasurementConfig`, optional
        Driver settings.
    schema : `skystack.table.Schema`, optional
        A schema to add the fields and slots to in place (as Rubin's tasks do); default a new
        `Schema.minimal_source`.

    Raises
    ------
    MeasurementError
        For unknown plugins, configs for plugins that are not run, or a plugin whose required
        plugins are missing or run after it.
    """

    def __init__(
        self,
        plugins: Sequence[str | MeasurementPlugin] | None = None,
        plugin_configs: Mapping[str, Config] | None = None,
        config: SingleFrameMeasurementConfig | None = None,
        schema: Schema | None = None,
    ) -> None:
        self.config = SingleFrameMeasurementConfig() if config is None else config
        self.config.check()
        configs = dict(plugin_configs or {})
        chosen = list(self.config.plugins) if plugins is None else list(plugins)
        built: list[MeasurementPlugin] = []
        for item in chosen:
            if isinstance(item, MeasurementPlugin):
                built.append(item)
            else:
                built.append(get_plugin_class(item)(configs.pop(item, None)))
        if configs:
            raise MeasurementError(f"plugin_configs given for plugins that are not run: {sorted(configs)}")
        names = [p.name for p in built]
        if len(set(names)) != len(names):
            raise MeasurementError(f"a plugin is listed twice: {names}")
        order = sorted(range(len(built)), key=lambda k: (built[k].execution_order, k))
        self.plugins: list[MeasurementPlugin] = [built[k] for k in order]
        position = {p.name: k for k, p in enumerate(self.plugins)}
        for k, plugin in enumerate(self.plugins):
            for needed in plugin.requires:
                if needed not in position or position[needed] >= k:
                    raise MeasurementError(
                        f"plugin {plugin.name!r} needs plugin {needed!r} to run before it; add it to plugins"
                    )
        self.schema = Schema.minimal_source() if schema is None else schema
        self._add_fields(self.schema)
        #: Wall seconds per plugin (and ``"noise_replacement"``) of the last `run`.
        self.timing: dict[str, float] = {}

    # -- schema ----------------------------------------------------------------------------------
    def fields(self) -> list[Field]:
        """All fields the measurement fills, in schema order."""
        out = list(_PEAK_FIELDS)
        for plugin in self.plugins:
            out.extend(plugin.schema_fields())
        return out

    def slots(self) -> dict[str, str]:
        """All slot aliases (``slot_centroid`` falls back to the peak)."""
        aliases = {"slot_centroid_x": "peak_x", "slot_centroid_y": "peak_y"}
        for plugin in self.plugins:
            aliases.update(plugin.slots())
        return aliases

    def _add_fields(self, schema: Schema) -> None:
        for f in self.fields():
            if f.name in schema:
                if schema[f.name] != f:
                    raise SchemaError(
                        f"schema already has a field {f.name!r} that differs from the measurement's {f!r}"
                    )
                continue
            schema.append(f)
        for alias, target in self.slots().items():
            schema.remove_alias(alias)
            schema.set_alias(alias, target)

    def prepare_catalog(self, catalog: SourceCatalog) -> None:
        """Add the measurement columns and slots a catalog lacks (in place)."""
        for f in self.fields():
            if f.name not in catalog.schema:
                catalog.add_column(f)
            elif catalog.schema[f.name].dtype != f.dtype:
                raise SchemaError(
                    f"catalog column {f.name!r} has dtype {catalog.schema[f.name].dtype}, the measurement "
                    f"writes {f.dtype}; drop or rename that column"
                )
        for alias, target in self.slots().items():
            catalog.schema.remove_alias(alias)
            catalog.set_alias(alias, target)

    # -- running ---------------------------------------------------------------------------------
    def margin(self, psf: Psf | None) -> int:
        """Pixels around each footprint kept free of other sources in one noise-replacement layer."""
        reach = max((p.reach(psf) for p in self.plugins), default=0.0)
        return int(np.ceil(reach)) + self.config.extra_margin

    def run(
        self,
        catalog: SourceCatalog,
        image: npt.ArrayLike,
        *,
        footprints: Sequence[Footprint],
        variance: npt.ArrayLike | None = None,
        mask: npt.ArrayLike | None = None,
        xy0: tuple[int, int] = (0, 0),
        psf: Psf | None = None,
        peaks: npt.ArrayLike | None = None,
        plane_dict: Mapping[str, int] | None = None,
    ) -> SourceCatalog:
        """Measure every row of ``catalog`` and fill its columns (in place; also returned).

        Parameters
        ----------
        catalog : `skystack.table.SourceCatalog`
            One row per source; missing measurement columns are added.
        image : array_like
            2-d background-subtracted image (not modified).
        footprints : sequence of `skystack.image.Footprint`
            One per row; `HeavyFootprint` values are used for deblended children.
        variance : array_like, optional
            Variance plane (errors are NaN without it).
        mask : array_like, optional
            Integer mask plane (pixel flags need it).
        xy0 : `tuple` [`int`, `int`]
            Parent coordinates of ``image[0, 0]``.
        psf : `skystack.image.psf.Psf`, optional
            PSF model (needed by PSF-based plugins).
        peaks : array_like, optional
            ``(n, 2)`` starting positions ``(x, y)``; default each footprint's first peak.
        plane_dict : mapping, optional
            Mask plane name → bit; default `skystack.image.default_plane_dict`.

        Returns
        -------
        catalog : `skystack.table.SourceCatalog`
            The same catalog.

        Raises
        ------
        MeasurementError
            If the footprints or peaks do not match the rows, a footprint has no peak and no
            ``peaks`` are given, or a plugin needs a PSF and none is given.
        """
        self.timing = {}
        n = len(catalog)
        if len(footprints) != n:
            raise MeasurementError(
                f"got {len(footprints)} footprints for a catalog of {n} rows; give one per row"
            )
        img = as_image(image)
        var = None if variance is None else as_image(variance, "variance")
        msk = None if mask is None else np.asarray(mask)
        for name, plane in (("variance", var), ("mask", msk)):
            if plane is not None and plane.shape != img.shape:
                raise MeasurementError(f"{name} shape {plane.shape} differs from the image shape {img.shape}")
        origin = check_xy0(xy0)
        needing = [p.name for p in self.plugins if p.needs_psf]
        if psf is None and needing:
            raise MeasurementError(f"plugins {needing} need a PSF model; pass psf=...")
        spans = FootprintSpans.from_footprints(footprints)
        self.prepare_catalog(catalog)
        px, py = _peak_positions(footprints, peaks, n)
        catalog["peak_x"] = px
        catalog["peak_y"] = py
        planes = default_plane_dict() if plane_dict is None else dict(plane_dict)
        replace = self.config.do_replace_with_noise and n > 0 and spans.y.size > 0
        if not replace:
            data = MeasurementData(img, var, msk, origin, psf, planes, spans)
            self._measure(catalog, data, np.arange(n, dtype=np.int64))
            return catalog
        start = time.perf_counter()
        replacer = NoiseReplacer(
            img, spans, xy0=origin, variance=var, mask=msk, plane_dict=planes,
            source=self.config.noise_source, offset=self.config.noise_offset, seed=self.config.noise_seed,
        )  # fmt: skip
        layers = assign_layers(spans.bbox, self.margin(psf))
        self.timing["noise_replacement"] = time.perf_counter() - start
        data = MeasurementData(replacer.image, var, msk, origin, psf, planes, spans)
        _log.debug("measuring %d sources in %d noise-replacement layers", n, int(layers.max(initial=-1)) + 1)
        for layer in range(int(layers.max(initial=-1)) + 1):
            rows = np.flatnonzero(layers == layer).astype(np.int64)
            start = time.perf_counter()
            replacer.insert(rows)
            self.timing["noise_replacement"] += time.perf_counter() - start
            try:
                self._measure(catalog, data, rows)
            finally:
                start = time.perf_counter()
                replacer.remove(rows)
                self.timing["noise_replacement"] += time.perf_counter() - start
        return catalog

    def _measure(self, catalog: SourceCatalog, data: MeasurementData, rows: np.ndarray) -> None:
        for plugin in self.plugins:
            start = time.perf_counter()
            plugin.measure(catalog, data, rows)
            self.timing[plugin.name] = self.timing.get(plugin.name, 0.0) + time.perf_counter() - start


def _peak_positions(
    footprints: Sequence[Footprint], peaks: npt.ArrayLike | None, n: int
) -> tuple[np.ndarray, np.ndarray]:
    if peaks is not None:
        arr = np.asarray(peaks, dtype=np.float64)
        if arr.shape != (n, 2):
            raise MeasurementError(f"peaks must have shape ({n}, 2) (x, y per row), got {arr.shape}")
        return arr[:, 0].copy(), arr[:, 1].copy()
    counts = np.array([len(fp.peaks) for fp in footprints], dtype=np.int64)
    if np.any(counts == 0):
        bad = np.flatnonzero(counts == 0)[:5].tolist()
        raise MeasurementError(f"footprints of rows {bad} have no peak; add peaks or pass peaks=")
    first = [fp.peaks[0] for fp in footprints]
    return (
        np.array([p["x"] for p in first], dtype=np.float64),
        np.array([p["y"] for p in first], dtype=np.float64),
    )
