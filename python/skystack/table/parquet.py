# SPDX-License-Identifier: GPL-3.0-or-later
"""Catalog files in Apache Parquet (through pyarrow).

Files are plain Parquet: pandas, pyarrow and astropy read them without skystack. Units and docs
are in each Arrow field's metadata, and the schema version, aliases and catalog metadata in the
file's key-value metadata (see `skystack.table.interop.schema_to_arrow`); astropy's
``table_meta_yaml`` entry is written too, so ``astropy.table.Table.read(path)`` shows units and
descriptions.

Writes are atomic: the file is written under a temporary name in the destination folder and
renamed over the target with `os.replace`, so readers never see a partial file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .catalog import SourceCatalog
from .interop import _catalog_from_arrow, catalog_to_arrow, schema_from_arrow
from .schema import SchemaError

if TYPE_CHECKING:
    import pyarrow.parquet

__all__ = ["CatalogFileError", "read_parquet", "read_parquet_schema", "write_parquet"]


class CatalogFileError(ValueError):
    """Raised when a catalog file cannot be read: not Parquet, truncated, or lacking a column."""


def write_parquet(
    path: str | os.PathLike[str],
    catalog: SourceCatalog,
    compression: str | None = "snappy",
    row_group_size: int | None = None,
) -> None:
    """Write a catalog to a Parquet file atomically.

    Parameters
    ----------
    path : path-like
        Destination; its folder must exist. An existing file is replaced.
    catalog : `SourceCatalog`
        The catalog.
    compression : `str` or None, optional
        Parquet codec (``"snappy"``, ``"zstd"``, ``"lz4"``, ``"gzip"`` or None).
    row_group_size : `int`, optional
        Rows per row group (pyarrow's default if not given).

    Notes
    -----
    Float columns are written without dictionary encoding (see the comment in the code).

    Raises
    ------
    FileNotFoundError
        If the destination folder does not exist.
    """
    import pyarrow.parquet as pq

    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"Cannot write catalog {target}: folder {folder} does not exist")
    table = catalog_to_arrow(catalog)
    # Dictionary encoding pays for repetitive ids, flags and strings, but measured floats are nearly
    # all distinct: trying to dictionary-encode them costs ~3x the write time for no size gain.
    dictionary_columns = [f.name for f in catalog.schema if f.dtype.kind != "f"]
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as stream:
            pq.write_table(
                table,
                stream,
                compression=compression,
                row_group_size=row_group_size,
                use_dictionary=dictionary_columns,
            )
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _open(path: Path) -> pyarrow.parquet.ParquetFile:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        raise FileNotFoundError(f"Catalog file {path} does not exist")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as err:
        raise CatalogFileError(
            f"Catalog file {path} is not a readable Parquet file (truncated?): {err}"
        ) from err


def read_parquet_schema(path: str | os.PathLike[str]) -> SourceCatalog:
    """An empty catalog with the file's schema and metadata (reads only the footer)."""
    file = Path(path)
    pf = _open(file)
    try:
        schema, metadata = schema_from_arrow(pf.schema_arrow)
    except SchemaError as err:
        raise CatalogFileError(f"Catalog file {file}: {err}") from err
    finally:
        pf.close()
    return SourceCatalog(schema, 0, metadata)


def read_parquet(path: str | os.PathLike[str], columns: Sequence[str] | None = None) -> SourceCatalog:
    """Read a catalog written by `write_parquet` (or any Parquet file with flat columns).

    Parameters
    ----------
    path : path-like
        The file.
    columns : sequence of `str`, optional
        Read only these columns (in this order); only their data are read from disk.

    Returns
    -------
    catalog : `SourceCatalog`
        Writeable columns; numeric columns use the memory Arrow read into (no extra copy).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    CatalogFileError
        If the file is not Parquet or is truncated or corrupt, a requested column is missing (the
        message lists the available ones), or a column type cannot be held by a catalog.
    """
    import pyarrow as pa

    file = Path(path)
    pf = _open(file)
    try:
        available = pf.schema_arrow.names
        if columns is not None:
            columns = list(columns)
            missing = [c for c in columns if c not in available]
            if missing:
                raise CatalogFileError(
                    f"Catalog file {file} has no column(s) {missing}; available: {', '.join(available)}"
                )
        table = pf.read(columns=columns, use_threads=True)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as err:
        raise CatalogFileError(
            f"Catalog file {file} could not be read (truncated or corrupt?): {err}"
        ) from err
    finally:
        pf.close()
    try:
        schema, metadata = schema_from_arrow(table.schema)
        return _catalog_from_arrow(table, schema, metadata, "owned")
    except SchemaError as err:
        raise CatalogFileError(f"Catalog file {file}: {err}") from err
