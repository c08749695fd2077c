# SPDX-License-Identifier: GPL-3.0-or-later
"""Columnar source catalogs with a schema (the afw ``SourceCatalog`` role).

A `SourceCatalog` stores one numpy array per `Field` of its `Schema`. ``catalog["name"]`` is a
writeable view of a column, so measurement code writes straight into the catalog;
``catalog[i]`` is a lightweight `SourceRecord` whose reads and writes go to the columns. Rows are
added in bulk with `SourceCatalog.extend` (amortised: storage grows geometrically) or one at a time
with `SourceCatalog.add_record`.

Growing the catalog may move its storage: column arrays obtained *before* an `add_record`,
`extend` or `reserve` that needed more room no longer share memory with the catalog. Take them
again afterwards (records stay valid, they look the columns up on each access).

Conversions to astropy, pandas and Arrow live in `skystack.table.interop`; the catalog exposes
them as ``to_astropy``/``from_astropy`` and so on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .schema import Field, Schema, SchemaError

if TYPE_CHECKING:
    import astropy.table
    import pandas
    import pyarrow

__all__ = ["SourceCatalog", "SourceRecord"]


class SourceRecord:
    """A view of one row of a `SourceCatalog`.

    Read and write fields with ``record["name"]`` or ``record.name`` (aliases work too); writes go
    into the catalog's columns. Records are cheap and hold no data of their own.
    """

    __slots__ = ("_catalog", "_index")

    def __init__(self, catalog: SourceCatalog, index: int) -> None:
        object.__setattr__(self, "_catalog", catalog)
        object.__setattr__(self, "_index", index)

    @property
    def catalog(self) -> SourceCatalog:
        """The catalog this record belongs to."""
        return self._catalog

    @property
    def index(self) -> int:
        """Row number in the catalog."""
        return self._index

    def __getitem__(self, name: str) -> Any:
        value = self._catalog._column(name)[self._index]
        return value

    def __setitem__(self, name: str, value: Any) -> None:
        self._catalog._column(name)[self._index] = value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(str(err)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._catalog.schema:
            self[name] = value
        else:
            raise AttributeError(
                f"SourceRecord has no field {name!r}; add it with SourceCatalog.add_column first"
            )

    def to_dict(self) -> dict[str, Any]:
        """The row as a ``{name: value}`` dict (array fields as arrays)."""
        return {f.name: self[f.name] for f in self._catalog.schema}

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in list(self.to_dict().items())[:6])
        more = ", ..." if len(self._catalog.schema) > 6 else ""
        return f"SourceRecord({items}{more})"


class SourceCatalog:
    """A table of sources: one numpy column per schema field.

    Parameters
    ----------
    schema : `Schema`
        Column definitions; the catalog keeps its own copy.
    length : `int`, optional
        Number of rows to create, filled with each field's default (NaN, 0, False, '').
    metadata : `dict`, optional
        JSON-compatible metadata carried with the catalog (and written to files).

    Notes
    -----
    Selection with a boolean mask or an index array returns a new catalog with copied columns
    (as numpy does); a slice returns a catalog whose columns are views of this one's.
    """

    def __init__(self, schema: Schema, length: int = 0, metadata: Mapping[str, Any] | None = None) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(f"SourceCatalog needs a Schema, got {type(schema).__name__}")
        if length < 0:
            raise ValueError(f"SourceCatalog length must be >= 0, got {length}")
        self._schema = schema.copy()
        self._data: dict[str, np.ndarray] = {f.name: f.empty(length) for f in self._schema}
        self._size = int(length)
        self.metadata: dict[str, Any] = dict(metadata or {})

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_columns(
        cls,
        columns: Mapping[str, npt.ArrayLike],
        schema: Schema | None = None,
        copy: bool = True,
        metadata: Mapping[str, Any] | None = None,
    ) -> SourceCatalog:
        """Build a catalog from column arrays.

        Parameters
        ----------
        columns : mapping of `str` to array-like
            One array per column, all of the same length (first axis).
        schema : `Schema`, optional
            Column definitions; inferred from the arrays (no units or docs) if not given. Fields
            of the schema missing from ``columns`` are filled with defaults.
        copy : `bool`, optional
            If False, arrays that already have the field's dtype and are C-contiguous are used as
            the catalog's storage without a copy (a read-only array stays read-only).
        metadata : `dict`, optional
            Catalog metadata.

        Raises
        ------
        SchemaError
            If a column is not in the schema, has the wrong shape, or lengths differ.
        """
        arrays = {name: np.asarray(values) for name, values in columns.items()}
        if schema is None:
            schema = Schema([Field.from_array(name, arr) for name, arr in arrays.items()])
        lengths = {name: (arr.shape[0] if arr.ndim else -1) for name, arr in arrays.items()}
        if len(set(lengths.values())) > 1:
            raise SchemaError(f"Columns have different lengths: {lengths}")
        length = next(iter(lengths.values()), 0)
        cat = cls(schema, 0, metadata)
        unknown = [n for n in arrays if n not in cat._schema]
        if unknown:
            raise SchemaError(
                f"Columns {unknown} are not in the schema; fields: {', '.join(cat._schema.names)}"
            )
        data: dict[str, np.ndarray] = {}
        for f in cat._schema:
            if f.name in arrays:
                data[f.name] = _coerce(f, arrays[f.name], length, copy)
            else:
                data[f.name] = f.empty(length)
        cat._data = data
        cat._size = length
        return cat

    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, Any]], schema: Schema, metadata: Mapping[str, Any] | None = None
    ) -> SourceCatalog:
        """Build a catalog from row mappings (convenient for small catalogs; use `from_columns` for big ones).

        Missing keys get the field default; unknown keys raise `SchemaError`.
        """
        rows = list(records)
        names = {k for r in rows for k in r}
        unknown = sorted(n for n in names if n not in schema)
        if unknown:
            raise SchemaError(f"Records have keys {unknown} that are not fields of the schema")
        columns = {
            f.name: np.array([r.get(f.name, f.default) for r in rows], dtype=f.dtype).reshape(-1, *f.shape)
            for f in schema
            if f.name in names
        }
        if not columns:
            return cls(schema, len(rows), metadata)
        return cls.from_columns(columns, schema, copy=False, metadata=metadata)

    @classmethod
    def concatenate(cls, catalogs: Iterable[SourceCatalog]) -> SourceCatalog:
        """One new catalog holding the rows of all ``catalogs`` (schema of the first), in order.

        Raises
        ------
        ValueError
            If no catalogs are given.
        SchemaError
            If a catalog lacks fields of the first or has extra ones.
        """
        cats = list(catalogs)
        if not cats:
            raise ValueError("SourceCatalog.concatenate needs at least one catalog")
        out = cls(cats[0]._schema, 0, cats[0].metadata)
        out.reserve(sum(len(c) for c in cats))
        for c in cats:
            out.extend(c)
        return out

    # -- basic protocol --------------------------------------------------------------------------
    @property
    def schema(self) -> Schema:
        """The catalog's schema (do not modify it; use `add_column`, `remove_column`, `set_alias`)."""
        return self._schema

    def __len__(self) -> int:
        return self._size

    @property
    def capacity(self) -> int:
        """Rows that fit in the current storage without reallocating."""
        first = next(iter(self._data.values()), None)
        return self._size if first is None else int(first.shape[0])

    def _column(self, name: str) -> np.ndarray:
        return self._data[self._schema.resolve(name)][: self._size]

    @property
    def columns(self) -> dict[str, np.ndarray]:
        """``{name: column view}`` for every field, in schema order."""
        return {name: arr[: self._size] for name, arr in self._data.items()}

    def __getitem__(self, key: Any) -> Any:
        """``catalog["name"]`` → writeable column view; ``catalog[i]`` → `SourceRecord`;
        ``catalog[slice]`` → catalog of views; ``catalog[mask or indices]`` → new catalog."""
        if isinstance(key, str):
            return self._column(key)
        if isinstance(key, int | np.integer) and not isinstance(key, bool | np.bool_):
            index = int(key)
            if index < -self._size or index >= self._size:
                raise IndexError(f"Row {index} is out of range for a catalog of {self._size} rows")
            return SourceRecord(self, index % self._size if self._size else index)
        if isinstance(key, slice):
            return self._subset({n: a[: self._size][key] for n, a in self._data.items()})
        sel = np.asarray(key)
        if sel.dtype.kind == "b":
            if sel.shape != (self._size,):
                raise IndexError(f"Boolean selection has shape {sel.shape}, expected ({self._size},)")
        elif sel.dtype.kind not in "iu" or sel.ndim != 1:
            raise IndexError(
                "Select rows with a field name, an integer, a slice, a boolean mask or a 1-d integer array; "
                f"got {type(key).__name__}"
            )
        return self._subset({n: a[: self._size][sel] for n, a in self._data.items()})

    def __setitem__(self, key: str, values: npt.ArrayLike) -> None:
        if not isinstance(key, str):
            raise TypeError("Assign whole columns only: catalog['name'] = values (use records for rows)")
        field = self._schema[key]
        col = self._column(key)
        _check_strings(field, np.asarray(values))
        col[...] = values

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._column(name)
        except KeyError as err:
            raise AttributeError(str(err)) from None

    def __iter__(self) -> Iterator[SourceRecord]:
        return (SourceRecord(self, i) for i in range(self._size))

    def __repr__(self) -> str:
        return f"<SourceCatalog: {self._size} rows, {len(self._schema)} columns>"

    def _subset(self, data: dict[str, np.ndarray]) -> SourceCatalog:
        out = SourceCatalog.__new__(SourceCatalog)
        out._schema = self._schema.copy()
        out._data = data
        out._size = int(next(iter(data.values())).shape[0]) if data else 0
        out.metadata = dict(self.metadata)
        return out

    def copy(self) -> SourceCatalog:
        """A deep copy with compact storage."""
        return self._subset({n: a[: self._size].copy() for n, a in self._data.items()})

    def set_alias(self, alias: str, target: str) -> None:
        """Make ``catalog.<alias>`` and ``catalog[alias]`` resolve to column ``target``."""
        self._schema.set_alias(alias, target)

    # -- growth ----------------------------------------------------------------------------------
    def reserve(self, capacity: int) -> None:
        """Make room for at least ``capacity`` rows without changing the length."""
        if capacity <= self.capacity:
            return
        new: dict[str, np.ndarray] = {}
        for f in self._schema:
            arr = np.empty((capacity, *f.shape), dtype=f.dtype)
            arr[: self._size] = self._data[f.name][: self._size]
            new[f.name] = arr
        self._data = new

    def _grow_for(self, extra: int) -> None:
        needed = self._size + extra
        if needed > self.capacity:
            self.reserve(max(needed, 2 * self.capacity, 16))

    def add_record(self, values: Mapping[str, Any] | None = None) -> SourceRecord:
        """Append one row and return its record.

        Parameters
        ----------
        values : mapping, optional
            Field values; missing fields get their default.

        Raises
        ------
        SchemaError
            If ``values`` names a field the schema does not have.
        """
        values = dict(values or {})
        unknown = [k for k in values if k not in self._schema]
        if unknown:
            raise SchemaError(f"Unknown fields {unknown}; add them with add_column first")
        self._grow_for(1)
        i = self._size
        for f in self._schema:
            self._data[f.name][i] = f.default
        self._size += 1
        record = SourceRecord(self, i)
        for k, v in values.items():
            record[k] = v
        return record

    def extend(self, other: SourceCatalog | Mapping[str, npt.ArrayLike]) -> None:
        """Append all rows of another catalog or of a mapping of column arrays (vectorised).

        Fields missing from ``other`` are filled with defaults; values are cast to the field dtypes.

        Raises
        ------
        SchemaError
            If ``other`` has columns this catalog lacks, or columns have inconsistent lengths or shapes.
        """
        cols = (
            other.columns
            if isinstance(other, SourceCatalog)
            else {k: np.asarray(v) for k, v in other.items()}
        )
        unknown = [k for k in cols if k not in self._schema]
        if unknown:
            raise SchemaError(
                f"Cannot extend: columns {unknown} are not in this catalog; add_column them first"
            )
        lengths = {len(v) if np.ndim(v) else -1 for v in cols.values()}
        if len(lengths) > 1 or -1 in lengths:
            raise SchemaError("Cannot extend: the columns to append have different lengths or are scalars")
        n = lengths.pop() if lengths else 0
        self._grow_for(n)
        start, stop = self._size, self._size + n
        for f in self._schema:
            dest = self._data[f.name][start:stop]
            key = f.name if f.name in cols else None
            if key is None:
                dest[...] = f.default
                continue
            src = cols[key]
            if src.shape[1:] != f.shape:
                raise SchemaError(f"Column {f.name!r} rows have shape {src.shape[1:]}, expected {f.shape}")
            _check_strings(f, src)
            dest[...] = src
        self._size = stop

    def add_column(self, field: Field, values: npt.ArrayLike | None = None) -> np.ndarray:
        """Add a column after creation and return its view.

        Parameters
        ----------
        field : `Field`
            The new field.
        values : array-like, optional
            Initial values (broadcast to the column); the field default if not given.

        Raises
        ------
        SchemaError
            If the name is taken or the values do not fit.
        """
        self._schema.append(field)
        arr = np.empty((self.capacity, *field.shape), dtype=field.dtype)
        try:
            if values is None:
                arr[...] = field.default
            else:
                vals = np.asarray(values)
                _check_strings(field, vals)
                arr[: self._size] = vals
        except (ValueError, SchemaError) as err:
            self._schema = self._schema.select([n for n in self._schema.names if n != field.name])
            raise SchemaError(f"Values for new column {field.name!r} do not fit: {err}") from err
        self._data[field.name] = arr
        return arr[: self._size]

    def remove_column(self, name: str) -> None:
        """Remove a column (and aliases to it).

        Raises
        ------
        KeyError
            If there is no such field.
        """
        if name not in self._data:
            raise KeyError(f"No column {name!r} to remove; columns: {', '.join(self._schema.names)}")
        self._schema = self._schema.select([n for n in self._schema.names if n != name])
        del self._data[name]

    # -- ordering and search ---------------------------------------------------------------------
    def sort(self, key: str = "id") -> None:
        """Sort the rows in place by a scalar column (stable)."""
        order = np.argsort(self._column(key), kind="stable")
        for arr in self._data.values():
            arr[: self._size] = arr[: self._size][order]

    def is_sorted(self, key: str = "id") -> bool:
        """Whether a scalar column is in non-decreasing order."""
        col = self._column(key)
        return bool(np.all(col[1:] >= col[:-1]))

    def find_indices(self, ids: npt.ArrayLike, key: str = "id") -> np.ndarray:
        """Row numbers of the rows whose ``key`` equals each of ``ids`` (-1 where absent); vectorised.

        Raises
        ------
        ValueError
            If the catalog is not sorted by ``key``; call ``catalog.sort(key)`` first.
        """
        col = self._column(key)
        if not self.is_sorted(key):
            raise ValueError(f"Catalog is not sorted by {key!r}; call catalog.sort({key!r}) before find")
        wanted = np.asarray(ids)
        pos = np.searchsorted(col, wanted)
        inside = pos < len(col)
        found = np.zeros(wanted.shape, dtype=bool)
        found[inside] = col[pos[inside]] == wanted[inside]
        return np.where(found, pos, -1)

    def find(self, id_value: int, key: str = "id") -> SourceRecord | None:
        """The record whose ``key`` equals ``id_value``, or None (catalog must be sorted by ``key``)."""
        index = int(self.find_indices(np.asarray([id_value]), key)[0])
        return None if index < 0 else SourceRecord(self, index)

    # -- deblending ------------------------------------------------------------------------------
    @property
    def is_child(self) -> np.ndarray:
        """Boolean array: rows whose ``parent`` is non-zero (deblended children)."""
        return self._column("parent") != 0

    def get_children(self, parent_id: int) -> SourceCatalog:
        """A new catalog of the rows whose ``parent`` equals ``parent_id``."""
        return self[self._column("parent") == parent_id]

    def count_children(self) -> np.ndarray:
        """For each row, how many rows name it as parent (vectorised)."""
        ids = self._column("id")
        parents = self._column("parent")
        parents = np.sort(parents[parents != 0])
        lo = np.searchsorted(parents, ids, side="left")
        hi = np.searchsorted(parents, ids, side="right")
        return (hi - lo).astype(np.int64)

    # -- interop (implemented in skystack.table.interop) -----------------------------------------
    def to_astropy(self, copy: bool = False) -> astropy.table.Table:
        """An astropy `~astropy.table.Table` with units and descriptions (columns shared unless ``copy``)."""
        from .interop import catalog_to_astropy

        return catalog_to_astropy(self, copy=copy)

    @classmethod
    def from_astropy(cls, table: astropy.table.Table, copy: bool = True) -> SourceCatalog:
        """Build from an astropy Table (see `skystack.table.interop.catalog_from_astropy`)."""
        from .interop import catalog_from_astropy

        return catalog_from_astropy(table, copy=copy)

    def to_pandas(self) -> pandas.DataFrame:
        """A pandas DataFrame (see `skystack.table.interop.catalog_to_pandas`)."""
        from .interop import catalog_to_pandas

        return catalog_to_pandas(self)

    @classmethod
    def from_pandas(cls, frame: pandas.DataFrame, schema: Schema | None = None) -> SourceCatalog:
        """Build from a pandas DataFrame (see `skystack.table.interop.catalog_from_pandas`)."""
        from .interop import catalog_from_pandas

        return catalog_from_pandas(frame, schema=schema)

    def to_arrow(self) -> pyarrow.Table:
        """A pyarrow Table; numeric columns share memory (see `skystack.table.interop.catalog_to_arrow`)."""
        from .interop import catalog_to_arrow

        return catalog_to_arrow(self)

    @classmethod
    def from_arrow(cls, table: pyarrow.Table, copy: bool = True) -> SourceCatalog:
        """Build from a pyarrow Table (see `skystack.table.interop.catalog_from_arrow`)."""
        from .interop import catalog_from_arrow

        return catalog_from_arrow(table, copy=copy)


def _check_strings(field: Field, values: np.ndarray) -> None:
    if field.dtype.kind == "U" and values.dtype.kind == "U" and values.dtype.itemsize > field.dtype.itemsize:
        longest = int(np.max(np.char.str_len(values))) if values.size else 0
        if longest > field.dtype.itemsize // 4:
            raise SchemaError(
                f"Strings of up to {longest} characters do not fit field {field.name!r} "
                f"(maximum {field.dtype.itemsize // 4}); define the field with a longer 'U' dtype"
            )


def _coerce(field: Field, arr: np.ndarray, length: int, copy: bool) -> np.ndarray:
    if arr.shape[1:] != field.shape:
        raise SchemaError(f"Column {field.name!r} rows have shape {arr.shape[1:]}, expected {field.shape}")
    _check_strings(field, arr)
    if not copy and arr.dtype == field.dtype and arr.flags.c_contiguous:
        return arr
    out = np.empty((length, *field.shape), dtype=field.dtype)
    out[...] = arr
    return out
