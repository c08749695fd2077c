# SPDX-License-Identifier: GPL-3.0-or-later
"""Exceptions raised by the registry."""

from __future__ import annotations

__all__ = [
    "CalibrationLookupError",
    "CollectionCycleError",
    "CollectionTypeError",
    "ConflictingDefinitionError",
    "DatasetTypeError",
    "InvalidNameError",
    "MissingCollectionError",
    "MissingDatasetTypeError",
    "RegistryError",
    "RegistryExistsError",
    "SchemaVersionError",
]


class RegistryError(Exception):
    """Base class of registry errors."""


class RegistryExistsError(RegistryError):
    """Raised by ``Registry.create`` when a registry already exists at the location."""


class SchemaVersionError(RegistryError):
    """Raised when a registry's schema version is not supported by this version of skystack."""


class ConflictingDefinitionError(RegistryError):
    """Raised when something being added conflicts with what the registry already holds."""


class InvalidNameError(RegistryError, ValueError):
    """Raised for an invalid dataset-type or collection name."""


class MissingDatasetTypeError(RegistryError, LookupError):
    """Raised when a dataset type is not registered."""


class DatasetTypeError(RegistryError, ValueError):
    """Raised when a dataset type is used where it does not fit (e.g. a non-calibration type certified)."""


class MissingCollectionError(RegistryError, LookupError):
    """Raised when a collection does not exist."""


class CollectionTypeError(RegistryError, TypeError):
    """Raised when an operation is not possible on a collection of that type."""


class CollectionCycleError(RegistryError, ValueError):
    """Raised when a collection chain would contain itself."""


class CalibrationLookupError(RegistryError, LookupError):
    """Raised when a calibration lookup is ambiguous or lacks the time it needs."""
