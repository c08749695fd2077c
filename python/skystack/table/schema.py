# SPDX-License-Identifier: GPL-3.0-or-later
"""Catalog schemas: named, typed, documented columns with units (the afw ``Schema`` role).

A `Schema` is an ordered collection of `Field` objects. Each field has a name (letters, digits and
underscores, e.g. ``coord_ra`` or the Rubin-style ``base_PsfFlux_instFlux``), a numpy dtype, an
optional fixed per-row shape (``(2,)`` for a position, ``(2, 2)`` for a covariance matrix), a unit
that astropy understands, and a docstring. Flags are boolean fields.

A schema also holds *aliases* ("slots"): alternative names that resolve to a column, such as
``psf_flux`` → ``base_PsfFlux_instFlux``, so measurement code can be configured without renaming
columns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["SCHEMA_VERSION", "Field", "Schema", "SchemaError"]

#: Version of the schema description written to files; bump when its meaning changes.
SCHEMA_VERSION = 1

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ALLOWED_KINDS = frozenset("fiubU")


class SchemaError(ValueError):
    """Raised for an invalid field, a duplicate or unknown name, or an incompatible schema."""


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SchemaError(
            f"Invalid {what} name {name!r}: use letters, digits and underscores, not starting with a digit "
            "(e.g. 'coord_ra' or 'base_PsfFlux_instFlux')"
        )
    return name


def _check_unit(unit: str, name: str) -> str:
    if not isinstance(unit, str):
        raise SchemaError(f"Unit of field {name!r} must be a string, got {type(unit).__name__}")
    if unit:
        import astropy.units as u

        try:
            u.Unit(unit, parse_strict="raise")
        except ValueError as err:
            raise SchemaError(
                f"Unit {unit!r} of field {name!r} is not understood by astropy.units ({err}); "
                "use e.g. 'deg', 'nJy', 'pixel', 'mag' or '' for dimensionless"
            ) from err
    return unit


@dataclass(frozen=True)
class Field:
    """One column of a catalog.

    Parameters
    ----------
    name : `str`
        Column name: letters, digits and underscores, not starting with a digit.
    dtype : dtype-like
        Element type: a float, (unsigned) integer, bool (a flag) or fixed-length unicode string
        (``"U16"``; give the maximum length).
    unit : `str`, optional
        A unit astropy understands (``"deg"``, ``"nJy"``, ``"pixel"``); empty for none.
    doc : `str`, optional
        What the column holds.
    shape : `tuple` of `int`, optional
        Fixed per-row shape for array columns (e.g. ``(2, 2)`` for a covariance); ``()`` for scalars.

    Raises
    ------
    SchemaError
        If the name, dtype, unit or shape is invalid.
    """

    name: str
    dtype: np.dtype[Any]
    unit: str = ""
    doc: str = ""
    shape: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        _check_name(self.name, "field")
        try:
            dtype = np.dtype(self.dtype)
        except TypeError as err:
            raise SchemaError(f"Field {self.name!r}: invalid dtype {self.dtype!r} ({err})") from err
        if dtype.kind not in _ALLOWED_KINDS or dtype.names is not None or dtype.subdtype is not None:
            raise SchemaError(
                f"Field {self.name!r}: unsupported dtype {dtype}; use a float, integer, bool (flag) "
                "or fixed-length unicode string such as 'U16' (give array columns a shape instead)"
            )
        if dtype.kind == "U" and dtype.itemsize == 0:
            raise SchemaError(f"Field {self.name!r}: string fields need a maximum length, e.g. 'U16'")
        object.__setattr__(self, "dtype", dtype.newbyteorder("=") if dtype.byteorder == ">" else dtype)
        shape = tuple(int(s) for s in self.shape)
        if any(s <= 0 for s in shape):
            raise SchemaError(f"Field {self.name!r}: array shape {shape} must have positive sizes")
        object.__setattr__(self, "shape", shape)
        _check_unit(self.unit, self.name)
        if not isinstance(self.doc, str):
            raise SchemaError(f"Doc of field {self.name!r} must be a string")

    @property
    def is_flag(self) -> bool:
        """Whether this is a boolean flag column."""
        return self.dtype.kind == "b"

    @property
    def size(self) -> int:
        """Number of elements per row (1 for scalars)."""
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def default(self) -> Any:
        """Fill value for new rows: NaN for floats, 0 for integers, False for flags, '' for strings."""
        kind = self.dtype.kind
        if kind == "f":
            return np.nan
        if kind == "b":
            return False
        if kind == "U":
            return ""
        return 0

    def empty(self, length: int) -> np.ndarray:
        """A new column of ``length`` rows filled with `default`."""
        return np.full((length, *self.shape), self.default, dtype=self.dtype)

    def renamed(self, name: str) -> Field:
        """A copy of this field under another name."""
        return Field(name, self.dtype, self.unit, self.doc, self.shape)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible description: ``name``, ``dtype`` (numpy string), ``unit``, ``doc``, ``shape``."""
        return {
            "name": self.name,
            "dtype": self.dtype.str,
            "unit": self.unit,
            "doc": self.doc,
            "shape": list(self.shape),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Field:
        """Rebuild a field written by `to_dict`."""
        return cls(
            str(data["name"]),
            np.dtype(data["dtype"]),
            str(data.get("unit", "")),
            str(data.get("doc", "")),
            tuple(data.get("shape", ())),
        )

    @classmethod
    def from_array(cls, name: str, array: npt.ArrayLike, unit: str = "", doc: str = "") -> Field:
        """A field describing a column array (first axis = rows), e.g. when importing a table."""
        arr = np.asarray(array)
        if arr.ndim == 0:
            raise SchemaError(f"Column {name!r} must be at least one-dimensional (one value per row)")
        dtype = arr.dtype
        if dtype.kind == "U" and dtype.itemsize == 0:
            dtype = np.dtype("U1")
        return cls(name, dtype, unit, doc, tuple(arr.shape[1:]))


class Schema:
    """An ordered set of `Field` objects plus aliases (slots).

    Parameters
    ----------
    fields : iterable of `Field`, optional
        Initial fields, in column order.

    Notes
    -----
    Build with `add_field` (returns the new field) or pass fields. Catalogs take their own copy of
    a schema, so adding a field to a schema after building a catalog from it does not change the
    catalog (use `SourceCatalog.add_column` for that).
    """

    def __init__(self, fields: Iterator[Field] | list[Field] | tuple[Field, ...] = ()) -> None:
        self._fields: dict[str, Field] = {}
        self._aliases: dict[str, str] = {}
        for f in fields:
            self.append(f)

    # -- building --------------------------------------------------------------------------------
    def append(self, field: Field) -> Field:
        """Add an existing `Field` at the end.

        Raises
        ------
        SchemaError
            If a field or alias of that name already exists.
        """
        if not isinstance(field, Field):
            raise SchemaError(f"Schema.append expects a Field, got {type(field).__name__}")
        if field.name in self._fields:
            raise SchemaError(f"Schema already has a field named {field.name!r}; choose another name")
        if field.name in self._aliases:
            raise SchemaError(f"{field.name!r} is already an alias for {self._aliases[field.name]!r}")
        self._fields[field.name] = field
        return field

    def add_field(
        self,
        name: str,
        dtype: npt.DTypeLike,
        unit: str = "",
        doc: str = "",
        shape: tuple[int, ...] = (),
    ) -> Field:
        """Create a field and add it at the end; see `Field` for the parameters.

        Returns
        -------
        field : `Field`
            The new field.

        Raises
        ------
        SchemaError
            If the field is invalid or its name is taken.
        """
        return self.append(Field(name, np.dtype(dtype), unit, doc, tuple(shape)))

    def add_flag(self, name: str, doc: str = "") -> Field:
        """Add a boolean flag field."""
        return self.add_field(name, np.bool_, "", doc)

    def set_alias(self, alias: str, target: str) -> None:
        """Make ``alias`` (a slot such as ``psf_flux``) resolve to the column ``target``.

        Raises
        ------
        SchemaError
            If ``alias`` is a field name or ``target`` is not a field.
        """
        _check_name(alias, "alias")
        if alias in self._fields:
            raise SchemaError(f"Cannot alias {alias!r}: it is already a field name")
        if target not in self._fields:
            raise SchemaError(f"Alias target {target!r} is not a field; fields: {', '.join(self.names)}")
        self._aliases[alias] = target

    def remove_alias(self, alias: str) -> None:
        """Remove an alias (no error if it does not exist)."""
        self._aliases.pop(alias, None)

    @classmethod
    def minimal_source(cls) -> Schema:
        """The minimal source schema: ``id``, ``coord_ra``, ``coord_dec`` (ICRS, degrees), ``parent``.

        ``parent`` is 0 for sources that are not deblended children.
        """
        schema = cls()
        schema.add_field("id", np.int64, doc="Unique source identifier")
        schema.add_field("coord_ra", np.float64, "deg", "Right ascension (ICRS), degrees")
        schema.add_field("coord_dec", np.float64, "deg", "Declination (ICRS), degrees")
        schema.add_field("parent", np.int64, doc="Id of the deblend parent, 0 if this source is not a child")
        return schema

    # -- access ----------------------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        """The column name for ``name`` (itself or the target of an alias).

        Raises
        ------
        KeyError
            If ``name`` is neither a field nor an alias; the message lists the fields.
        """
        if name in self._fields:
            return name
        target = self._aliases.get(name)
        if target is None:
            raise KeyError(f"No field or alias {name!r} in schema; fields: {', '.join(self.names)}")
        return target

    def __getitem__(self, name: str) -> Field:
        return self._fields[self.resolve(name)]

    def __contains__(self, name: object) -> bool:
        return name in self._fields or name in self._aliases

    def __iter__(self) -> Iterator[Field]:
        return iter(self._fields.values())

    def __len__(self) -> int:
        return len(self._fields)

    @property
    def names(self) -> list[str]:
        """Field names in column order."""
        return list(self._fields)

    @property
    def aliases(self) -> dict[str, str]:
        """A copy of the alias → column mapping."""
        return dict(self._aliases)

    def copy(self) -> Schema:
        """An independent copy (fields are immutable and shared)."""
        out = Schema(list(self._fields.values()))
        out._aliases = dict(self._aliases)
        return out

    def select(self, names: list[str]) -> Schema:
        """A schema with only the named fields (aliases resolved), in the given order.

        Aliases whose targets are kept are kept.
        """
        cols = [self.resolve(n) for n in names]
        out = Schema([self._fields[c] for c in cols])
        out._aliases = {a: t for a, t in self._aliases.items() if t in out._fields}
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schema):
            return NotImplemented
        return list(self._fields.values()) == list(other._fields.values()) and self._aliases == other._aliases

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        body = ", ".join(f"{f.name}:{f.dtype}{list(f.shape) if f.shape else ''}" for f in self)
        return f"Schema({body})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible description: ``version``, ``fields`` (list of dicts) and ``aliases``."""
        return {
            "version": SCHEMA_VERSION,
            "fields": [f.to_dict() for f in self],
            "aliases": dict(self._aliases),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Rebuild a schema written by `to_dict`.

        Raises
        ------
        SchemaError
            If the description is newer than this code understands or malformed.
        """
        version = int(data.get("version", SCHEMA_VERSION))
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"Schema description version {version} is newer than supported ({SCHEMA_VERSION}); "
                "upgrade skystack"
            )
        try:
            schema = cls([Field.from_dict(f) for f in data["fields"]])
        except (KeyError, TypeError) as err:
            raise SchemaError(f"Malformed schema description: {err!r}") from err
        for alias, target in dict(data.get("aliases", {})).items():
            schema.set_alias(alias, target)
        return schema
