# SPDX-License-Identifier: GPL-3.0-or-later
"""Parquet formatters for `SourceCatalog` and Arrow, astropy and pandas tables.

All read the ``columns`` parameter (only those columns' data are read from disk).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ._base import Formatter, FormatterError

__all__ = ["ArrowTableFormatter", "AstropyTableFormatter", "DataFrameFormatter", "SourceCatalogFormatter"]


def _columns(parameters: Mapping[str, Any] | None) -> list[str] | None:
    if not parameters or parameters.get("columns") is None:
        return None
    columns = parameters["columns"]
    if isinstance(columns, str):
        return [columns]
    if not isinstance(columns, Sequence) or not all(isinstance(c, str) for c in columns):
        raise TypeError(f"read parameter 'columns' must be a sequence of column names, got {columns!r}")
    return list(columns)


def _read_arrow(path: Path, columns: list[str] | None) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        raise FileNotFoundError(f"dataset file {path} does not exist")
    try:
        file = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise FormatterError(path, f"not a readable Parquet file (truncated?): {err}") from err
    with file:
        if columns is not None:
            missing = [c for c in columns if c not in file.schema_arrow.names]
            if missing:
                raise KeyError(
                    f"column(s) {', '.join(map(repr, missing))} not in {path}; "
                    f"available: {', '.join(file.schema_arrow.names)}"
                )
        try:
            return file.read(columns=columns, use_threads=False)
        except (pa.ArrowInvalid, OSError) as err:
            raise FormatterError(path, f"corrupt Parquet data: {err}") from err


def _write_arrow(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, path)


class SourceCatalogFormatter(Formatter):
    """`SourceCatalog` ↔ Parquet (schema, units and metadata kept; `skystack.table.write_parquet`)."""

    extension: ClassVar[str] = ".parq"

    def write(self, obj: Any, path: Path) -> None:
        from skystack.table import write_parquet

        write_parquet(path, obj)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        from skystack.table import CatalogFileError, read_parquet

        try:
            return read_parquet(path, columns=_columns(parameters))
        except CatalogFileError as err:
            if "has no column" in str(err):
                raise KeyError(str(err)) from err
            raise FormatterError(path, str(err)) from err


class ArrowTableFormatter(Formatter):
    """`pyarrow.Table` ↔ Parquet."""

    extension: ClassVar[str] = ".parq"

    def write(self, obj: Any, path: Path) -> None:
        _write_arrow(obj, path)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        return _read_arrow(path, _columns(parameters))


class AstropyTableFormatter(Formatter):
    """`astropy.table.Table` ↔ Parquet (astropy's own Parquet writer: units and metadata kept)."""

    extension: ClassVar[str] = ".parq"

    def write(self, obj: Any, path: Path) -> None:
        obj.write(path, format="parquet", overwrite=True)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        import astropy.table

        columns = _columns(parameters)
        table = _read_arrow(path, columns)  # validates the file and the columns
        del table
        try:
            return astropy.table.Table.read(path, format="parquet", include_names=columns)
        except (ValueError, OSError) as err:
            raise FormatterError(path, str(err)) from err


class DataFrameFormatter(Formatter):
    """`pandas.DataFrame` ↔ Parquet (index kept)."""

    extension: ClassVar[str] = ".parq"

    def write(self, obj: Any, path: Path) -> None:
        obj.to_parquet(path)

    def read(self, path: Path, parameters: Mapping[str, Any] | None = None) -> Any:
        return _read_arrow(path, _columns(parameters)).to_pandas()
