# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry: dimension records, dataset types, collections and datasets in SQL (SQLite, PostgreSQL)."""

from ._collections import CollectionRecord, CollectionSearch
from ._datasets import CollectionType, DatasetIdGenEnum, DatasetRef, DatasetType, make_dataset_id
from ._errors import (
    CalibrationLookupError,
    CollectionCycleError,
    CollectionTypeError,
    ConflictingDefinitionError,
    DatasetTypeError,
    InvalidNameError,
    MissingCollectionError,
    MissingDatasetTypeError,
    RegistryError,
    RegistryExistsError,
    SchemaVersionError,
)
from ._explain import EmptyQueryResultError, QueryExplanation, QueryStep
from ._names import validate_collection_name, validate_dataset_type_name
from ._registry import Registry
from ._schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "CalibrationLookupError",
    "CollectionCycleError",
    "CollectionRecord",
    "CollectionSearch",
    "CollectionType",
    "CollectionTypeError",
    "ConflictingDefinitionError",
    "DatasetIdGenEnum",
    "DatasetRef",
    "DatasetType",
    "DatasetTypeError",
    "EmptyQueryResultError",
    "InvalidNameError",
    "MissingCollectionError",
    "MissingDatasetTypeError",
    "QueryExplanation",
    "QueryStep",
    "Registry",
    "RegistryError",
    "RegistryExistsError",
    "SchemaVersionError",
    "make_dataset_id",
    "validate_collection_name",
    "validate_dataset_type_name",
]
