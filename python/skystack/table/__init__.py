# SPDX-License-Identifier: GPL-3.0-or-later
"""Catalogs: schemas, columnar source catalogs, ids, Parquet files and astropy/pandas/Arrow interop."""

from .catalog import SourceCatalog, SourceRecord
from .ids import IdFactory
from .interop import (
    catalog_from_arrow,
    catalog_from_astropy,
    catalog_from_pandas,
    catalog_to_arrow,
    catalog_to_astropy,
    catalog_to_pandas,
    schema_from_arrow,
    schema_to_arrow,
)
from .parquet import CatalogFileError, read_parquet, read_parquet_schema, write_parquet
from .schema import SCHEMA_VERSION, Field, Schema, SchemaError

__all__ = [
    "SCHEMA_VERSION",
    "CatalogFileError",
    "Field",
    "IdFactory",
    "Schema",
    "SchemaError",
    "SourceCatalog",
    "SourceRecord",
    "catalog_from_arrow",
    "catalog_from_astropy",
    "catalog_from_pandas",
    "catalog_to_arrow",
    "catalog_to_astropy",
    "catalog_to_pandas",
    "read_parquet",
    "read_parquet_schema",
    "schema_from_arrow",
    "schema_to_arrow",
    "write_parquet",
]
