# SPDX-License-Identifier: GPL-3.0-or-later
"""The Butler data repository: dimensions, data IDs, timespans and the SQL registry.

Importing this package loads SQLAlchemy and lsst.sphgeom but not astropy (needed only to convert
`Timespan` bounds to and from `astropy.time.Time`) or numpy.
"""

from .dimensions import (
    DataCoordinate,
    DataIdError,
    DataIdValue,
    DimensionElement,
    DimensionGroup,
    DimensionRecord,
    DimensionUniverse,
    DimensionUniverseError,
)
from .registry import (
    CalibrationLookupError,
    CollectionCycleError,
    CollectionType,
    CollectionTypeError,
    ConflictingDefinitionError,
    DatasetIdGenEnum,
    DatasetRef,
    DatasetType,
    DatasetTypeError,
    EmptyQueryResultError,
    InvalidNameError,
    MissingCollectionError,
    MissingDatasetTypeError,
    QueryExplanation,
    Registry,
    RegistryError,
    RegistryExistsError,
    SchemaVersionError,
)
from .timespan import Timespan

__all__ = [
    "CalibrationLookupError",
    "CollectionCycleError",
    "CollectionType",
    "CollectionTypeError",
    "ConflictingDefinitionError",
    "DataCoordinate",
    "DataIdError",
    "DataIdValue",
    "DatasetIdGenEnum",
    "DatasetRef",
    "DatasetType",
    "DatasetTypeError",
    "DimensionElement",
    "DimensionGroup",
    "DimensionRecord",
    "DimensionUniverse",
    "DimensionUniverseError",
    "EmptyQueryResultError",
    "InvalidNameError",
    "MissingCollectionError",
    "MissingDatasetTypeError",
    "QueryExplanation",
    "Registry",
    "RegistryError",
    "RegistryExistsError",
    "SchemaVersionError",
    "Timespan",
]

# The Butler, its datastore and storage classes (formatters are imported lazily on first use).
from ._butler import Butler, DatasetNotFoundError, DeferredDatasetHandle
from ._export_format import ExportFormatError
from ._transfer import ExportResult, ImportResult
from .datastore import DatastoreError, FileDatastore, VerifyReport
from .repo_config import RepoConfig, RepoConfigError
from .storage_classes import StorageClass, StorageClassError, get_storage_class

__all__ += [
    "Butler",
    "DatasetNotFoundError",
    "DatastoreError",
    "DeferredDatasetHandle",
    "ExportFormatError",
    "ExportResult",
    "FileDatastore",
    "ImportResult",
    "RepoConfig",
    "RepoConfigError",
    "StorageClass",
    "StorageClassError",
    "VerifyReport",
    "get_storage_class",
]
