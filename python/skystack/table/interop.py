# SPDX-License-Identifier: GPL-3.0-or-later
"""Conversions between `SourceCatalog` and astropy `~astropy.table.Table`, pandas and Arrow.

Memory sharing (no copies) where the formats allow it:

- astropy: ``to_astropy()`` shares every column; ``from_astropy(copy=False)`` shares columns that
  already have a supported dtype.
- pandas: ``to_pandas()`` shares scalar numeric and flag columns (pandas may still copy on write);
  array columns (fixed shape per row) become one pandas column per element, named
  ``{name}_{i}`` (flattened C order), reassembled by ``from_pandas`` from ``frame.attrs``.
- Arrow: ``to_arrow()`` shares numeric columns (scalar and array); flags are bit-packed and strings
  re-encoded by Arrow, so those are copied. ``from_arrow(copy=False)`` shares numeric columns
  *read-only* when Arrow's buffers allow; the default copies so that the catalog is writeable and
  the Arrow table (immutable by contract) is never modified.

Units and docs travel in the Arrow field metadata (keys ``unit``, ``doc``, plus ``dtype`` and
``shape``), the schema version, aliases and catalog metadata in the table metadata, and an
astropy ``table_meta_yaml`` entry lets `astropy.table.Table.read` recover units and descriptions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .catalog import SourceCatalog
from .schema import SCHEMA_VERSION, Field, Schema, SchemaError

if TYPE_CHECKING:
    import astropy.table
    import pandas
    import pyarrow

__all__ = [
    "catalog_from_arrow",
    "catalog_from_astropy",
    "catalog_from_pandas",
    "catalog_to_arrow",
    "catalog_to_astropy",
    "catalog_to_pandas",
    "schema_from_arrow",
    "schema_to_arrow",
]

_META_VERSION = b"skystack_schema_version"
_META_ALIASES = b"skystack_aliases"
_META_CATALOG = b"skystack_metadata"
_PANDAS_ATTR = "skystack_schema"


# -- astropy ---------------------------------------------------------------------------------------
def catalog_to_astropy(catalog: SourceCatalog, copy: bool = False) -> astropy.table.Table:
    """An astropy Table with each field's unit and doc (as ``description``).

    Columns share memory with the catalog unless ``copy``. Aliases and catalog metadata go into
    ``table.meta`` (``skystack_aliases`` and the metadata keys).
    """
    from astropy.table import Column, Table

    cols = [
        Column(
            catalog[f.name],
            name=f.name,
            unit=f.unit or None,
            description=f.doc or None,
            copy=copy,
        )
        for f in catalog.schema
    ]
    meta: dict[str, Any] = dict(catalog.metadata)
    if catalog.schema.aliases:
        meta["skystack_aliases"] = catalog.schema.aliases
    return Table(cols, copy=copy, meta=meta)


def catalog_from_astropy(table: astropy.table.Table, copy: bool = True) -> SourceCatalog:
    """Build a catalog from an astropy Table, keeping units and descriptions.

    Masked values are replaced by the field default (NaN, 0, False, ''). Quantity columns keep
    their unit. ``table.meta["skystack_aliases"]`` is restored as aliases; the other JSON-compatible
    ``meta`` entries become catalog metadata.

    Raises
    ------
    SchemaError
        If a column has an unsupported type (e.g. object) or an invalid name.
    """
    import astropy.units as u

    schema = Schema()
    columns: dict[str, np.ndarray] = {}
    for name in table.colnames:
        col = table[name]
        unit = getattr(col, "unit", None)
        unit_str = "" if unit is None else u.Unit(unit).to_string()
        doc = getattr(getattr(col, "info", None), "description", None) or ""
        arr = col.value if isinstance(col, u.Quantity) else col
        if getattr(arr, "mask", None) is not None and np.any(arr.mask):
            probe = Field.from_array(name, np.asarray(arr.data))
            arr = arr.filled(probe.default)
        data = np.asarray(arr.data if hasattr(arr, "mask") else arr)
        if data.dtype.kind == "O":
            raise SchemaError(
                f"Column {name!r} holds Python objects; convert it to a numeric or string dtype"
            )
        schema.append(Field.from_array(name, data, unit_str, str(doc)))
        columns[name] = data
    meta = {k: v for k, v in dict(table.meta).items() if k != "skystack_aliases"}
    for alias, target in dict(table.meta.get("skystack_aliases", {})).items():
        schema.set_alias(alias, target)
    return SourceCatalog.from_columns(columns, schema, copy=copy, metadata=meta)


# -- pandas ----------------------------------------------------------------------------------------
def catalog_to_pandas(catalog: SourceCatalog) -> pandas.DataFrame:
    """A pandas DataFrame, one column per field (array fields split into ``{name}_{i}``).

    The schema (units, docs, shapes, aliases) is kept in ``frame.attrs["skystack_schema"]``.
    Scalar numeric columns share memory with the catalog.
    """
    import pandas as pd

    data: dict[str, Any] = {}
    for f in catalog.schema:
        arr = catalog[f.name]
        if f.shape:
            flat = arr.reshape(len(arr), f.size)
            for i in range(f.size):
                data[f"{f.name}_{i}"] = flat[:, i]
        else:
            data[f.name] = arr
    frame = pd.DataFrame(data, copy=False)
    frame.attrs[_PANDAS_ATTR] = catalog.schema.to_dict()
    return frame


def catalog_from_pandas(frame: pandas.DataFrame, schema: Schema | None = None) -> SourceCatalog:
    """Build a catalog from a DataFrame.

    Parameters
    ----------
    frame : `pandas.DataFrame`
        Column names must be valid field names.
    schema : `Schema`, optional
        Column definitions; by default ``frame.attrs["skystack_schema"]`` (written by
        `catalog_to_pandas`) or inferred from the column dtypes (no units or docs).

    Raises
    ------
    SchemaError
        If a column is missing, has an unsupported dtype, or holds missing values that cannot be
        represented (e.g. NA in an integer column).
    """
    if schema is None and _PANDAS_ATTR in frame.attrs:
        schema = Schema.from_dict(frame.attrs[_PANDAS_ATTR])
    columns: dict[str, np.ndarray] = {}
    if schema is None:
        for name in frame.columns:
            columns[str(name)] = _pandas_column(frame, str(name))
        return SourceCatalog.from_columns(columns, copy=False)
    for f in schema:
        if f.shape:
            names = [f"{f.name}_{i}" for i in range(f.size)]
            missing = [n for n in names if n not in frame.columns]
            if missing:
                raise SchemaError(f"DataFrame lacks columns {missing} of array field {f.name!r}")
            stacked = np.stack([_pandas_column(frame, n) for n in names], axis=1)
            columns[f.name] = stacked.reshape(len(frame), *f.shape)
        elif f.name in frame.columns:
            columns[f.name] = _pandas_column(frame, f.name)
        else:
            raise SchemaError(f"DataFrame has no column {f.name!r}; columns: {list(frame.columns)}")
    return SourceCatalog.from_columns(columns, schema, copy=True)


def _pandas_column(frame: pandas.DataFrame, name: str) -> np.ndarray:
    series = frame[name]
    if series.dtype.kind in "fiub" and not hasattr(series.dtype, "na_value"):
        return series.to_numpy()
    if series.dtype.kind == "f":
        return series.to_numpy(dtype=series.dtype.numpy_dtype, na_value=np.nan)
    if series.isna().any():
        raise SchemaError(f"Column {name!r} has missing values that its type cannot hold; fill them first")
    values = series.to_numpy()
    if values.dtype.kind == "O" or str(series.dtype) in ("string", "str"):
        return np.asarray(values, dtype=str)
    return np.asarray(values)


# -- Arrow -----------------------------------------------------------------------------------------
def _arrow_type(f: Field) -> pyarrow.DataType:
    import pyarrow as pa

    base = pa.string() if f.dtype.kind == "U" else pa.from_numpy_dtype(f.dtype)
    return pa.list_(base, f.size) if f.shape else base


def schema_to_arrow(schema: Schema, metadata: Mapping[str, Any] | None = None) -> pyarrow.Schema:
    """The Arrow schema of a catalog: field metadata ``unit``, ``doc``, ``dtype``, ``shape``;
    table metadata: schema version, aliases, catalog metadata and astropy's ``table_meta_yaml``."""
    import pyarrow as pa

    fields = [
        pa.field(
            f.name,
            _arrow_type(f),
            nullable=False,
            metadata={
                "unit": f.unit,
                "doc": f.doc,
                "dtype": f.dtype.str,
                "shape": json.dumps(list(f.shape)),
            },
        )
        for f in schema
    ]
    table_meta = {
        _META_VERSION: str(SCHEMA_VERSION).encode(),
        _META_ALIASES: json.dumps(schema.aliases).encode(),
        _META_CATALOG: json.dumps(dict(metadata or {})).encode(),
        b"table_meta_yaml": _astropy_yaml(schema).encode(),
    }
    # astropy reads fixed-length string columns with this maximum length
    for f in schema:
        if f.dtype.kind == "U":
            table_meta[f"table::len::{f.name}".encode()] = str(f.dtype.itemsize // 4).encode()
    return pa.schema(fields, metadata=table_meta)


def _astropy_yaml(schema: Schema) -> str:
    from astropy.table import meta

    empty = SourceCatalog(schema, 0)
    return "\n".join(meta.get_yaml_from_table(catalog_to_astropy(empty)))


def schema_from_arrow(arrow_schema: pyarrow.Schema) -> tuple[Schema, dict[str, Any]]:
    """Recover the `Schema` and catalog metadata from an Arrow schema.

    Fields written by skystack carry their dtype, shape, unit and doc; other Arrow fields are
    inferred from their types (units and descriptions taken from astropy's ``table_meta_yaml``
    if present).

    Raises
    ------
    SchemaError
        If a column has a type a catalog cannot hold (nested structs, variable-length lists, …)
        or the metadata were written by a newer skystack.
    """
    import pyarrow as pa

    table_meta = arrow_schema.metadata or {}
    version = int(table_meta.get(_META_VERSION, b"1"))
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"Catalog was written with schema version {version}, newer than supported ({SCHEMA_VERSION}); "
            "upgrade skystack"
        )
    astropy_info = _astropy_column_info(table_meta)
    schema = Schema()
    for af in arrow_schema:
        md = af.metadata or {}
        if b"dtype" in md:
            schema.append(
                Field(
                    af.name,
                    np.dtype(md[b"dtype"].decode()),
                    md.get(b"unit", b"").decode(),
                    md.get(b"doc", b"").decode(),
                    tuple(json.loads(md.get(b"shape", b"[]"))),
                )
            )
            continue
        atype = af.type
        shape: tuple[int, ...] = ()
        if pa.types.is_fixed_size_list(atype):
            shape = (atype.list_size,)
            atype = atype.value_type
        if pa.types.is_string(atype) or pa.types.is_large_string(atype):
            dtype = np.dtype("U1")  # widened to the longest value when the data are read
        elif pa.types.is_integer(atype) or pa.types.is_floating(atype) or pa.types.is_boolean(atype):
            dtype = np.dtype(atype.to_pandas_dtype())
        else:
            raise SchemaError(
                f"Column {af.name!r} has Arrow type {af.type}, which a SourceCatalog cannot hold; "
                "read only flat numeric, bool, string or fixed-size-list columns (columns=[...])"
            )
        unit, doc = astropy_info.get(af.name, ("", ""))
        schema.append(Field(af.name, dtype, unit, doc, shape))
    for alias, target in json.loads(table_meta.get(_META_ALIASES, b"{}")).items():
        if target in schema:
            schema.set_alias(alias, target)
    metadata = json.loads(table_meta.get(_META_CATALOG, b"{}"))
    return schema, metadata


def _astropy_column_info(table_meta: Mapping[bytes, bytes]) -> dict[str, tuple[str, str]]:
    raw = table_meta.get(b"table_meta_yaml")
    if not raw:
        return {}
    from astropy.table import meta

    try:
        header = meta.get_header_from_yaml(raw.decode().splitlines())
    except Exception:  # foreign or corrupt YAML: units are a nicety, the data are still readable
        return {}
    return {
        str(c["name"]): (str(c.get("unit", "") or ""), str(c.get("description", "") or ""))
        for c in header.get("datatype", [])
    }


def catalog_to_arrow(catalog: SourceCatalog) -> pyarrow.Table:
    """A pyarrow Table with the catalog's schema metadata (see `schema_to_arrow`).

    Contiguous numeric columns (including array fields, as fixed-size lists) share memory with the
    catalog; flags and strings are converted (copied).
    """
    import pyarrow as pa

    arrow_schema = schema_to_arrow(catalog.schema, catalog.metadata)
    arrays = []
    for f in catalog.schema:
        arr = catalog[f.name]
        if f.shape:
            flat = pa.array(np.ascontiguousarray(arr).reshape(-1))
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, f.size))
        elif f.dtype.kind == "U":
            arrays.append(pa.array(arr, type=pa.string()))
        else:
            arrays.append(pa.array(arr))
    return pa.Table.from_arrays(arrays, schema=arrow_schema)


def catalog_from_arrow(table: pyarrow.Table, copy: bool = True) -> SourceCatalog:
    """Build a catalog from a pyarrow Table.

    Parameters
    ----------
    table : `pyarrow.Table`
        Flat numeric, bool, string or fixed-size-list columns.
    copy : `bool`, optional
        If False, numeric columns without nulls in a single chunk are shared with the Arrow
        buffers as *read-only* arrays (Arrow data are immutable); others are copied.

    Raises
    ------
    SchemaError
        If a column type is unsupported, or an integer/bool/string column contains nulls.
    """
    schema, metadata = schema_from_arrow(table.schema)
    return _catalog_from_arrow(table, schema, metadata, "shared" if not copy else "copy")


def _catalog_from_arrow(
    table: pyarrow.Table, schema: Schema, metadata: dict[str, Any], mode: str
) -> SourceCatalog:
    """``mode``: "copy" (writeable copies), "shared" (read-only views), "owned" (writeable views of
    buffers this process owns exclusively, e.g. a table just read from a file)."""
    columns: dict[str, np.ndarray] = {}
    fields = list(schema)
    for f, chunked in zip(fields, table.columns, strict=True):
        columns[f.name] = _column_to_numpy(f, chunked, mode)
    # String fields inferred from foreign files start as U1: widen them to the data.
    for i, f in enumerate(fields):
        col = columns[f.name]
        if f.dtype.kind == "U" and col.dtype.itemsize > f.dtype.itemsize:
            fields[i] = Field(f.name, col.dtype, f.unit, f.doc, f.shape)
    final = Schema(fields)
    for alias, target in schema.aliases.items():
        final.set_alias(alias, target)
    return SourceCatalog.from_columns(columns, final, copy=False, metadata=metadata)


def _column_to_numpy(f: Field, chunked: pyarrow.ChunkedArray, mode: str) -> np.ndarray:
    import pyarrow as pa

    arr = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    n = len(arr)
    if f.shape:
        if arr.null_count:
            raise SchemaError(f"Array column {f.name!r} contains nulls, which a catalog cannot hold")
        values = arr.flatten()
        flat = _column_to_numpy(Field(f.name, f.dtype, f.unit, f.doc), pa.chunked_array([values]), mode)
        return flat.reshape(n, *f.shape)
    if f.dtype.kind == "U":
        if arr.null_count:
            raise SchemaError(f"String column {f.name!r} contains nulls; fill them before converting")
        return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=str)
    if f.dtype.kind == "b":
        if arr.null_count:
            raise SchemaError(f"Flag column {f.name!r} contains nulls; fill them before converting")
        return arr.to_numpy(zero_copy_only=False)
    if arr.null_count:
        if f.dtype.kind != "f":
            raise SchemaError(f"Integer column {f.name!r} contains nulls, which int columns cannot hold")
        return arr.to_numpy(zero_copy_only=False).astype(f.dtype, copy=False)
    data_buf = arr.buffers()[1]
    np_dtype = np.dtype(arr.type.to_pandas_dtype())
    if mode == "owned" and data_buf is not None and data_buf.is_mutable:
        out = np.frombuffer(data_buf, dtype=np_dtype, count=n, offset=arr.offset * np_dtype.itemsize)
    elif mode == "shared":
        out = arr.to_numpy(zero_copy_only=True)
    else:
        out = arr.to_numpy(zero_copy_only=False).copy()
    if out.dtype != f.dtype:
        out = out.astype(f.dtype)
    return out
