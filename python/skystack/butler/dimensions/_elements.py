# SPDX-License-Identifier: GPL-3.0-or-later
"""Dimension elements, the dimension universe loaded from a versioned YAML file, dimension groups.

A *dimension* is a key of data IDs (``instrument``, ``visit``, ``detector`` ...); a *dimension
element* is anything with records in the registry: every stored dimension, plus join/region
elements such as ``visit_detector_region`` that are keyed by several dimensions but are not data-ID
keys themselves. The universe is read from ``universe.yaml`` shipped in this package (or any file
of the same layout) and is immutable once loaded.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DimensionElement",
    "DimensionGroup",
    "DimensionUniverse",
    "DimensionUniverseError",
    "KeyField",
]

_FIELD_TYPES: dict[str, type] = {"int": int, "float": float, "string": str, "bool": bool}
_KEY_TYPES: dict[str, type] = {"int": int, "string": str}
_RESERVED_FIELDS = frozenset({"timespan", "region"})


class DimensionUniverseError(ValueError):
    """Raised when a universe definition is invalid, or an element name is unknown to it."""


@dataclass(frozen=True, slots=True)
class KeyField:
    """The primary-key field of a dimension: its column name, Python type and maximum length."""

    name: str
    dtype: type
    length: int = 64


class DimensionElement:
    """One element of a `DimensionUniverse` (a dimension, or a join/region element).

    Instances are created only by `DimensionUniverse`; compare them by name.

    Attributes
    ----------
    name : `str`
        Element name, e.g. ``"visit"``.
    doc : `str`
        One-line description.
    required : `tuple` [`str`, ...]
        Names of the dimensions whose values identify one record, in universe order; for a
        dimension this ends with the dimension itself.
    implied : `tuple` [`str`, ...]
        Names of the dimensions whose values a record determines (e.g. ``exposure`` implies
        ``physical_filter``).
    key : `KeyField` or `None`
        The dimension's own primary-key field (`None` for non-dimension elements).
    fields : `dict` [`str`, `type`]
        Metadata fields and their Python types (all optional in records).
    spatial, temporal : `bool`
        Whether records carry a ``region`` / a ``timespan``.
    is_governor, is_dimension, is_stored, is_skypix : `bool`
        Governor dimension; a data-ID key; has a table; a sky-pixelization dimension.
    skypix_level : `int` or `None`
        HEALPix level of a sky-pixelization dimension.
    """

    __slots__ = (
        "doc",
        "fields",
        "implied",
        "is_dimension",
        "is_governor",
        "is_skypix",
        "is_stored",
        "key",
        "name",
        "required",
        "skypix_level",
        "spatial",
        "temporal",
    )

    def __init__(
        self,
        name: str,
        *,
        doc: str,
        required: tuple[str, ...],
        implied: tuple[str, ...],
        key: KeyField | None,
        fields: dict[str, type],
        spatial: bool,
        temporal: bool,
        is_governor: bool,
        is_dimension: bool,
        is_stored: bool,
        skypix_level: int | None = None,
    ) -> None:
        self.name = name
        self.doc = doc
        self.required = required
        self.implied = implied
        self.key = key
        self.fields = fields
        self.spatial = spatial
        self.temporal = temporal
        self.is_governor = is_governor
        self.is_dimension = is_dimension
        self.is_stored = is_stored
        self.is_skypix = skypix_level is not None
        self.skypix_level = skypix_level

    @property
    def key_type(self) -> type:
        """The Python type of this dimension's data-ID values (`int` or `str`)."""
        if self.key is None:
            raise TypeError(f"dimension element {self.name!r} is not a dimension and has no key")
        return self.key.dtype

    def column_name(self, dimension: str) -> str:
        """The column of this element's table that holds the value of ``dimension``.

        A dimension's own value is stored under its key field name (``id``/``name``); the values
        of the dimensions it requires or implies are stored under the dimension names.
        """
        if dimension == self.name and self.key is not None:
            return self.key.name
        return dimension

    @property
    def record_fields(self) -> tuple[str, ...]:
        """All field names of this element's records, keys first."""
        names = [self.column_name(d) for d in self.required] + list(self.implied) + list(self.fields)
        if self.temporal:
            names.append("timespan")
        if self.spatial:
            names.append("region")
        return tuple(names)

    def __repr__(self) -> str:
        return f"DimensionElement({self.name!r})"

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DimensionElement):
            return self.name == other.name
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)


class DimensionUniverse:
    """The set of all dimension elements, from a versioned YAML definition.

    Use `DimensionUniverse.default` for the universe shipped with skystack, or
    `DimensionUniverse.from_file` / `DimensionUniverse.from_yaml` for another definition.

    Parameters
    ----------
    config : `~collections.abc.Mapping`
        The parsed YAML definition (see ``universe.yaml`` for the layout).

    Raises
    ------
    DimensionUniverseError
        If the definition is inconsistent (unknown or out-of-order references, bad types).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        try:
            self._version = int(config["version"])
            self._namespace = str(config.get("namespace", "skystack"))
            raw_elements = config["elements"]
        except (KeyError, TypeError, ValueError) as err:
            raise DimensionUniverseError(
                f"dimension universe definition needs 'version' (int) and 'elements': {err}"
            ) from err
        self._config = dict(config)
        self._elements: dict[str, DimensionElement] = {}
        for name, spec in raw_elements.items():
            self._elements[name] = self._make_element(name, spec or {})
        skypix = config.get("skypix") or {}
        levels = [int(level) for level in skypix.get("levels", [])]
        if skypix and skypix.get("system", "healpix") != "healpix":
            raise DimensionUniverseError(f"unsupported skypix system {skypix.get('system')!r}; use healpix")
        for level in levels:
            if not 0 <= level <= 29:
                raise DimensionUniverseError(f"healpix level must be within [0, 29], got {level}")
            name = f"healpix{level}"
            self._elements[name] = DimensionElement(
                name,
                doc=f"Nested HEALPix pixel at level {level} (nside {2**level}).",
                required=(name,),
                implied=(),
                key=KeyField("id", int),
                fields={},
                spatial=False,
                temporal=False,
                is_governor=False,
                is_dimension=True,
                is_stored=False,
                skypix_level=level,
            )
        self._common_level = int(skypix.get("common_level", levels[0] if levels else 8))
        self._order = {name: i for i, name in enumerate(self._elements)}
        self._dimension_names = tuple(n for n, e in self._elements.items() if e.is_dimension)

    def _make_element(self, name: str, spec: Mapping[str, Any]) -> DimensionElement:
        unknown = set(spec) - {
            "doc",
            "requires",
            "implies",
            "key",
            "fields",
            "governor",
            "spatial",
            "temporal",
            "stored",
            "dimension",
        }
        if unknown:
            raise DimensionUniverseError(f"element {name!r} has unknown settings {sorted(unknown)}")
        is_dimension = bool(spec.get("dimension", True))
        required: list[str] = []
        for parent in spec.get("requires", []):
            if parent not in self._elements or not self._elements[parent].is_dimension:
                raise DimensionUniverseError(
                    f"element {name!r} requires {parent!r}, which is not a dimension defined before it"
                )
            for dim in self._elements[parent].required:
                if dim not in required:
                    required.append(dim)
        implied = tuple(spec.get("implies", []))
        for dim in implied:
            if dim not in self._elements or not self._elements[dim].is_dimension:
                raise DimensionUniverseError(
                    f"element {name!r} implies {dim!r}, which is not a dimension defined before it"
                )
        key: KeyField | None = None
        if is_dimension:
            key_spec = spec.get("key")
            if not isinstance(key_spec, Mapping) or key_spec.get("type") not in _KEY_TYPES:
                raise DimensionUniverseError(
                    f"dimension {name!r} needs key: {{name: ..., type: int|string}}, got {key_spec!r}"
                )
            key = KeyField(
                str(key_spec["name"]), _KEY_TYPES[key_spec["type"]], int(key_spec.get("length", 64))
            )
            required.append(name)
        fields: dict[str, type] = {}
        for field, type_name in (spec.get("fields") or {}).items():
            if type_name not in _FIELD_TYPES:
                raise DimensionUniverseError(
                    f"field {name}.{field} has type {type_name!r}; use one of {sorted(_FIELD_TYPES)}"
                )
            if field in _RESERVED_FIELDS or field in required or field in implied:
                raise DimensionUniverseError(f"field {name}.{field} clashes with a key or reserved name")
            fields[field] = _FIELD_TYPES[type_name]
        order = {n: i for i, n in enumerate(self._elements)}
        order[name] = len(order)
        return DimensionElement(
            name,
            doc=str(spec.get("doc", "")),
            required=tuple(sorted(required, key=order.__getitem__)),
            implied=implied,
            key=key,
            fields=fields,
            spatial=bool(spec.get("spatial", False)),
            temporal=bool(spec.get("temporal", False)),
            is_governor=bool(spec.get("governor", False)),
            is_dimension=is_dimension,
            is_stored=bool(spec.get("stored", True)),
        )

    @classmethod
    @functools.cache
    def default(cls) -> DimensionUniverse:
        """The universe shipped with skystack (``universe.yaml`` in this package); cached."""
        return cls.from_file(Path(__file__).with_name("universe.yaml"))

    @classmethod
    def from_file(cls, path: str | Path) -> DimensionUniverse:
        """Load a universe from a YAML file.

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        DimensionUniverseError
            If its content is not a valid universe definition.
        """
        return cls.from_yaml(Path(path).read_text(encoding="utf-8"))

    @classmethod
    def from_yaml(cls, text: str) -> DimensionUniverse:
        """Load a universe from YAML text (e.g. the copy a registry stores)."""
        import yaml

        config = yaml.safe_load(text)
        if not isinstance(config, Mapping):
            raise DimensionUniverseError("dimension universe YAML must be a mapping")
        universe = cls(config)
        universe._yaml = text
        return universe

    _yaml: str | None = None

    def to_yaml(self) -> str:
        """The YAML definition of this universe (the text it was loaded from, if any)."""
        if self._yaml is not None:
            return self._yaml
        import yaml

        return yaml.safe_dump(self._config, sort_keys=False)

    @property
    def version(self) -> int:
        """Version number of the universe definition."""
        return self._version

    @property
    def namespace(self) -> str:
        """Namespace of the universe definition (``skystack`` for the default)."""
        return self._namespace

    @property
    def common_skypix(self) -> DimensionElement:
        """The HEALPix dimension whose pixels index spatial records (``<element>_healpix`` tables)."""
        return self[f"healpix{self._common_level}"]

    @property
    def common_skypix_level(self) -> int:
        """HEALPix level of `common_skypix`."""
        return self._common_level

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """Names of all dimensions (data-ID keys), in universe order."""
        return self._dimension_names

    @property
    def elements(self) -> tuple[DimensionElement, ...]:
        """All elements, in universe order (every element after those it depends on)."""
        return tuple(self._elements.values())

    def sort_key(self, name: str) -> int:
        """Position of element ``name`` in universe order."""
        return self._order[name]

    def __getitem__(self, name: str) -> DimensionElement:
        try:
            return self._elements[name]
        except KeyError:
            raise DimensionUniverseError(
                f"no dimension element {name!r} in universe {self._namespace} v{self._version}; "
                f"known elements: {', '.join(self._elements)}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._elements

    def __iter__(self) -> Iterator[str]:
        return iter(self._elements)

    def __len__(self) -> int:
        return len(self._elements)

    def conform(self, dimensions: Iterable[str] | DimensionGroup) -> DimensionGroup:
        """The `DimensionGroup` of ``dimensions`` plus everything they require and imply.

        Parameters
        ----------
        dimensions : iterable of `str` or `DimensionGroup`
            Dimension names (not join elements such as ``visit_detector_region``).

        Raises
        ------
        DimensionUniverseError
            If a name is not a dimension of this universe.
        """
        if isinstance(dimensions, DimensionGroup):
            if dimensions.universe is self:
                return dimensions
            dimensions = dimensions.names
        if isinstance(dimensions, str):
            dimensions = (dimensions,)
        return self._conform(frozenset(dimensions))

    @functools.lru_cache(maxsize=512)  # noqa: B019 - universes live for the whole process
    def _conform(self, names: frozenset[str]) -> DimensionGroup:
        for name in names:
            if name not in self._elements or not self._elements[name].is_dimension:
                raise DimensionUniverseError(
                    f"{name!r} is not a dimension of universe {self._namespace} v{self._version}; "
                    f"dimensions are: {', '.join(self._dimension_names)}"
                )
        closure: set[str] = set()
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in closure:
                continue
            closure.add(name)
            element = self._elements[name]
            todo.extend(element.required)
            todo.extend(element.implied)
        implied = {d for name in closure for d in self._elements[name].implied}
        return DimensionGroup(self, closure - implied, implied & closure)

    def __repr__(self) -> str:
        return f"DimensionUniverse(namespace={self._namespace!r}, version={self._version})"


class DimensionGroup:
    """An immutable, closed set of dimensions: the dimensions of a data ID or dataset type.

    Create with `DimensionUniverse.conform`. Every dimension that a member requires or implies is
    a member too. *Required* dimensions identify a data ID; *implied* ones follow from records.

    Attributes
    ----------
    universe : `DimensionUniverse`
    required : `tuple` [`str`, ...]
        Required dimension names, in universe order.
    implied : `tuple` [`str`, ...]
        Implied dimension names, in universe order.
    names : `frozenset` [`str`]
        All dimension names.
    """

    __slots__ = ("_hash", "elements", "governors", "implied", "names", "required", "universe")

    def __init__(self, universe: DimensionUniverse, required: set[str], implied: set[str]) -> None:
        order = universe.sort_key
        self.universe = universe
        self.required: tuple[str, ...] = tuple(sorted(required, key=order))
        self.implied: tuple[str, ...] = tuple(sorted(implied, key=order))
        self.names: frozenset[str] = frozenset(required | implied)
        self.governors: tuple[str, ...] = tuple(d for d in self.required if universe[d].is_governor)
        self.elements: tuple[str, ...] = tuple(
            e.name
            for e in universe.elements
            if (e.name in self.names) or (not e.is_dimension and set(e.required) <= self.names)
        )
        self._hash = hash(self.names)

    @property
    def dimensions(self) -> tuple[str, ...]:
        """All dimension names: required, then implied."""
        return self.required + self.implied

    @property
    def spatial(self) -> tuple[str, ...]:
        """Names of the spatial elements of the group, most specific first."""
        return self._ranked(True)

    @property
    def temporal(self) -> tuple[str, ...]:
        """Names of the temporal elements of the group, most specific first."""
        return self._ranked(False)

    def _ranked(self, spatial: bool) -> tuple[str, ...]:
        found = [
            self.universe[e]
            for e in self.elements
            if (self.universe[e].spatial if spatial else self.universe[e].temporal)
        ]
        found.sort(key=lambda e: -len(e.required))
        return tuple(e.name for e in found)

    def issubset(self, other: DimensionGroup) -> bool:
        """Whether every dimension of this group is in ``other``."""
        return self.names <= other.names

    def union(self, other: DimensionGroup | Iterable[str]) -> DimensionGroup:
        """The group of the dimensions of both."""
        names = other.names if isinstance(other, DimensionGroup) else frozenset(other)
        return self.universe.conform(self.names | names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.dimensions)

    def __len__(self) -> int:
        return len(self.names)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DimensionGroup):
            return self.names == other.names
        return NotImplemented

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        implied = f" implied: {', '.join(self.implied)}" if self.implied else ""
        return f"DimensionGroup({', '.join(self.required)}{';' if implied else ''}{implied})"
