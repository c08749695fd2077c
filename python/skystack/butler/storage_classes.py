# SPDX-License-Identifier: GPL-3.0-or-later
"""Storage classes: what a dataset is in memory, its components, read parameters and conversions.

A `StorageClass` names an in-memory Python type (by import path, so that nothing heavy is
imported until it is used), the formatter that writes and reads it, the components that can be
read on their own (each with its own storage class), the read parameters the formatter accepts
and the other storage classes it can be converted to on read.

=====================  ==================================  ===========================================
storage class          Python type                         file, components, parameters, converts to
=====================  ==================================  ===========================================
Exposure               `skystack.image.Exposure`           FITS; wcs, psf, photo_calib, visit_info,
                                                           ap_corr_map, bbox, metadata, mask_plane_dict,
                                                           image, variance, masked_image; ``bbox``
SourceCatalog          `skystack.table.SourceCatalog`      Parquet; ``columns``; AstropyTable,
                                                           DataFrame, ArrowTable
ArrowTable             `pyarrow.Table`                     Parquet; ``columns``; AstropyTable, DataFrame
AstropyTable           `astropy.table.Table`               Parquet; ``columns``; ArrowTable, DataFrame
DataFrame              `pandas.DataFrame`                  Parquet; ``columns``; ArrowTable, AstropyTable
Config                 `skystack.config.Config`            YAML (with the config class' import path)
TaskMetadata           `skystack.task.TaskMetadata`        JSON
StructuredDataDict     `dict`                              JSON (numpy arrays allowed)
NumpyArray             `numpy.ndarray`                     ``.npy`` (no pickled objects)
Persistable            any registered persistable          JSON via `skystack.utils.persist`
Psf, SkyWcs,           the matching skystack class         JSON via `skystack.utils.persist`
PhotoCalib,
BackgroundList,
ApCorrMap, VisitInfo,
SkyMap
=====================  ==================================  ===========================================
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "StorageClass",
    "StorageClassError",
    "get_storage_class",
    "register_storage_class",
    "storage_class_names",
]


class StorageClassError(ValueError):
    """An unknown storage class, component, parameter or conversion, or an object of a wrong type."""


def import_object(path: str) -> Any:
    """The object named ``"package.module:attribute"`` (imported on demand)."""
    module_name, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class StorageClass:
    """How one kind of in-memory object is stored.

    Parameters
    ----------
    name : `str`
        The name used by dataset types (``"Exposure"``).
    python_type : `str`
        Import path of the in-memory type, ``"module:Name"``; a tuple-free single type.
    formatter : `str`
        Import path of the `~skystack.butler.formatters.Formatter` subclass.
    components : mapping [`str`, `str`], optional
        Component name → storage class name of that component.
    parameters : frozenset [`str`], optional
        Read parameters the formatter accepts.
    converters : mapping [`str`, `str`], optional
        Storage class name → import path of a function converting this type into that one.
    """

    name: str
    python_type: str
    formatter: str
    components: Mapping[str, str] = field(default_factory=dict)
    parameters: frozenset[str] = frozenset()
    converters: Mapping[str, str] = field(default_factory=dict)

    def get_python_type(self) -> type:
        """The in-memory type (imports its module)."""
        cache = _TYPE_CACHE.get(self.name)
        if cache is None:
            cache = _TYPE_CACHE[self.name] = import_object(self.python_type)
        return cache

    def get_formatter(self) -> Any:
        """An instance of the formatter class (imports its module)."""
        formatter = _FORMATTER_CACHE.get(self.name)
        if formatter is None:
            formatter = _FORMATTER_CACHE[self.name] = import_object(self.formatter)(self)
        return formatter

    def component_storage_class(self, component: str) -> StorageClass:
        """The storage class of a component.

        Raises
        ------
        StorageClassError
            If this storage class has no such component; the message lists the valid ones.
        """
        name = self.components.get(component)
        if name is None:
            valid = ", ".join(sorted(self.components)) or "none"
            raise StorageClassError(
                f"storage class {self.name!r} has no component {component!r}; its components: {valid}"
            )
        return get_storage_class(name)

    def check_parameters(self, parameters: Mapping[str, Any] | None) -> None:
        """Raise `StorageClassError` naming unknown read parameters and the valid ones."""
        if parameters:
            unknown = sorted(set(parameters) - self.parameters)
            if unknown:
                valid = ", ".join(sorted(self.parameters)) or "none"
                raise StorageClassError(
                    f"unknown read parameter(s) {', '.join(map(repr, unknown))} for storage class "
                    f"{self.name!r}; valid parameters: {valid}"
                )

    def check_object(self, obj: Any) -> None:
        """Raise `StorageClassError` if ``obj`` is not of this storage class' Python type."""
        expected = self.get_python_type()
        if not isinstance(obj, expected):
            raise StorageClassError(
                f"cannot store a {type(obj).__module__}.{type(obj).__qualname__} as storage class "
                f"{self.name!r}, which holds {expected.__module__}.{expected.__qualname__} objects; "
                "convert the object or use a dataset type with a matching storage class"
            )

    def converter_to(self, other: str) -> Callable[[Any], Any]:
        """The function converting an object of this class into storage class ``other``.

        Raises
        ------
        StorageClassError
            If there is no such conversion (the possible ones are listed).
        """
        path = self.converters.get(other)
        if path is None:
            get_storage_class(other)  # unknown name -> its own error
            valid = ", ".join(sorted(self.converters)) or "none"
            raise StorageClassError(
                f"storage class {self.name!r} cannot be converted to {other!r}; conversions: {valid}"
            )
        return import_object(path)


_REGISTRY: dict[str, StorageClass] = {}
_TYPE_CACHE: dict[str, Any] = {}
_FORMATTER_CACHE: dict[str, Any] = {}


def register_storage_class(storage_class: StorageClass, *, replace: bool = False) -> None:
    """Add a storage class to the process-wide registry.

    Raises
    ------
    StorageClassError
        If a different storage class with that name exists and ``replace`` is false.
    """
    old = _REGISTRY.get(storage_class.name)
    if old is not None and old != storage_class and not replace:
        raise StorageClassError(
            f"storage class {storage_class.name!r} is already defined differently; pass replace=True"
        )
    _REGISTRY[storage_class.name] = storage_class
    _TYPE_CACHE.pop(storage_class.name, None)
    _FORMATTER_CACHE.pop(storage_class.name, None)


def get_storage_class(name: str) -> StorageClass:
    """The storage class called ``name``.

    Raises
    ------
    StorageClassError
        If it is unknown; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise StorageClassError(
            f"unknown storage class {name!r}; known storage classes: {', '.join(sorted(_REGISTRY))} "
            "(define new ones with register_storage_class)"
        ) from None


def storage_class_names() -> list[str]:
    """Names of all known storage classes, sorted."""
    return sorted(_REGISTRY)


_F = "skystack.butler.formatters"
_C = "skystack.butler.formatters._convert"
_TABLE_PARAMS = frozenset({"columns"})

_BUILTIN = [
    StorageClass(
        "Exposure",
        "skystack.image.exposure:Exposure",
        f"{_F}._exposure:ExposureFormatter",
        components={
            "wcs": "SkyWcs",
            "psf": "Psf",
            "photo_calib": "PhotoCalib",
            "visit_info": "VisitInfo",
            "ap_corr_map": "ApCorrMap",
            "bbox": "Box2I",
            "metadata": "PropertyList",
            "mask_plane_dict": "StructuredDataDict",
            "image": "Image",
            "variance": "Image",
            "masked_image": "MaskedImage",
        },
        parameters=frozenset({"bbox"}),
    ),
    StorageClass(
        "MaskedImage",
        "skystack.image.masked_image:MaskedImage",
        f"{_F}._exposure:MaskedImageFormatter",
        parameters=frozenset({"bbox"}),
    ),
    StorageClass(
        "Image",
        "skystack.image.image:Image",
        f"{_F}._exposure:ImageFormatter",
        parameters=frozenset({"bbox"}),
    ),
    StorageClass("Box2I", "skystack.geom.box:Box2I", f"{_F}._json:Box2IFormatter"),
    StorageClass("PropertyList", "astropy.io.fits:Header", f"{_F}._exposure:HeaderFormatter"),
    StorageClass(
        "SourceCatalog",
        "skystack.table.catalog:SourceCatalog",
        f"{_F}._parquet:SourceCatalogFormatter",
        parameters=_TABLE_PARAMS,
        converters={
            "AstropyTable": "skystack.table.interop:catalog_to_astropy",
            "DataFrame": "skystack.table.interop:catalog_to_pandas",
            "ArrowTable": "skystack.table.interop:catalog_to_arrow",
        },
    ),
    StorageClass(
        "ArrowTable",
        "pyarrow:Table",
        f"{_F}._parquet:ArrowTableFormatter",
        parameters=_TABLE_PARAMS,
        converters={"AstropyTable": f"{_C}:arrow_to_astropy", "DataFrame": f"{_C}:arrow_to_pandas"},
    ),
    StorageClass(
        "AstropyTable",
        "astropy.table:Table",
        f"{_F}._parquet:AstropyTableFormatter",
        parameters=_TABLE_PARAMS,
        converters={"ArrowTable": f"{_C}:astropy_to_arrow", "DataFrame": f"{_C}:astropy_to_pandas"},
    ),
    StorageClass(
        "DataFrame",
        "pandas:DataFrame",
        f"{_F}._parquet:DataFrameFormatter",
        parameters=_TABLE_PARAMS,
        converters={"ArrowTable": f"{_C}:pandas_to_arrow", "AstropyTable": f"{_C}:pandas_to_astropy"},
    ),
    StorageClass("Config", "skystack.config.base:Config", f"{_F}._yaml:ConfigFormatter"),
    StorageClass("TaskMetadata", "skystack.task.metadata:TaskMetadata", f"{_F}._json:TaskMetadataFormatter"),
    StorageClass("StructuredDataDict", "builtins:dict", f"{_F}._json:StructuredDataDictFormatter"),
    StorageClass("NumpyArray", "numpy:ndarray", f"{_F}._numpy:NumpyArrayFormatter"),
    StorageClass("Persistable", "builtins:object", f"{_F}._json:PersistableFormatter"),
    StorageClass("Psf", "skystack.image.psf.base:Psf", f"{_F}._json:PersistableFormatter"),
    StorageClass("SkyWcs", "skystack.geom.wcs:SkyWcs", f"{_F}._json:PersistableFormatter"),
    StorageClass("PhotoCalib", "skystack.image.photocalib:PhotoCalib", f"{_F}._json:PersistableFormatter"),
    StorageClass(
        "BackgroundList", "skystack.image.background:BackgroundList", f"{_F}._json:PersistableFormatter"
    ),
    StorageClass("ApCorrMap", "skystack.image.apcorr:ApCorrMap", f"{_F}._json:PersistableFormatter"),
    StorageClass("VisitInfo", "skystack.image.exposure:VisitInfo", f"{_F}._json:PersistableFormatter"),
    StorageClass("SkyMap", "skystack.skymap.base:SkyMap", f"{_F}._json:PersistableFormatter"),
    # A raw file as the camera wrote it (all HDUs), ingested rather than put.
    StorageClass(
        "RawFits",
        "astropy.io.fits:HDUList",
        "skystack.butler.ingest:FitsFileFormatter",
        components={"metadata": "PropertyList"},
    ),
]
for _sc in _BUILTIN:
    register_storage_class(_sc)
