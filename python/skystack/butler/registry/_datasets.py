# SPDX-License-Identifier: GPL-3.0-or-later
"""Dataset types, dataset references, collection types and dataset-ID generation."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ...utils.ids import uuid5
from ..dimensions import DataCoordinate, DimensionGroup, DimensionUniverse
from ._names import validate_dataset_type_name

__all__ = ["CollectionType", "DatasetIdGenEnum", "DatasetRef", "DatasetType", "make_dataset_id"]

DATASET_ID_NAMESPACE = uuid.UUID("1f0e6d3c-7b38-5e0a-9a4a-5b1b1a3c9e21")
"""UUID namespace of deterministic (uuid5) dataset IDs; never change it."""


class CollectionType(enum.IntEnum):
    """Kinds of collection (values are stored in the registry; never renumber)."""

    RUN = 1
    """Where datasets are written; each dataset belongs to exactly one RUN."""
    TAGGED = 2
    """A hand-picked set of datasets (at most one per dataset type and data ID)."""
    CHAINED = 3
    """An ordered search path of other collections."""
    CALIBRATION = 4
    """Datasets certified with a validity timespan."""


class DatasetIdGenEnum(enum.Enum):
    """How `Registry.insert_datasets` makes dataset IDs."""

    UNIQUE = 0
    """A random UUID4: every insert makes a new dataset."""
    DATAID_TYPE = 1
    """UUID5 of dataset type and data ID: the same in every run (e.g. raw files ingested once)."""
    DATAID_TYPE_RUN = 2
    """UUID5 of dataset type, data ID and run: re-inserting the same dataset is a no-op."""


def make_dataset_id(
    dataset_type_name: str, data_id: DataCoordinate, run: str, mode: DatasetIdGenEnum
) -> uuid.UUID:
    """The dataset ID for ``mode`` (see `DatasetIdGenEnum`); deterministic modes use uuid5."""
    if mode is DatasetIdGenEnum.UNIQUE:
        return uuid.uuid4()
    text = f"{dataset_type_name}|{data_id.id_text}"
    if mode is DatasetIdGenEnum.DATAID_TYPE_RUN:
        text += f"|{run}"
    return uuid5(DATASET_ID_NAMESPACE, text)


class DatasetType:
    """A named kind of dataset: its dimensions and storage class.

    Parameters
    ----------
    name : `str`
        Letters, digits and underscores; ``parent.component`` names a component.
    dimensions : `DimensionGroup` or iterable of `str`
        The dimensions of its data IDs.
    storage_class_name : `str`
        Name of the storage class (in-memory type and formatter), e.g. ``"Exposure"``.
    is_calibration : `bool`, optional
        Whether datasets of this type may be certified in CALIBRATION collections.
    universe : `DimensionUniverse`, optional
        Universe for dimension names (default: the one of ``dimensions`` or the default universe).

    Raises
    ------
    InvalidNameError
        If the name is invalid.
    DimensionUniverseError
        If a dimension name is unknown.
    """

    __slots__ = ("dimensions", "is_calibration", "name", "storage_class_name")

    def __init__(
        self,
        name: str,
        dimensions: DimensionGroup | Iterable[str],
        storage_class_name: str,
        is_calibration: bool = False,
        *,
        universe: DimensionUniverse | None = None,
    ) -> None:
        self.name = validate_dataset_type_name(name)
        if universe is None:
            universe = (
                dimensions.universe if isinstance(dimensions, DimensionGroup) else DimensionUniverse.default()
            )
        self.dimensions: DimensionGroup = universe.conform(dimensions)
        if not isinstance(storage_class_name, str) or not storage_class_name:
            raise ValueError(f"dataset type {name!r}: storage_class_name must be a non-empty string")
        self.storage_class_name = storage_class_name
        self.is_calibration = bool(is_calibration)

    @property
    def component(self) -> str | None:
        """The component part of the name (``"wcs"`` for ``"calexp.wcs"``), or `None`."""
        return self.name.partition(".")[2] or None

    @property
    def parent_name(self) -> str:
        """The name without its component part."""
        return self.name.partition(".")[0]

    def make_component(self, component: str, storage_class_name: str) -> DatasetType:
        """The dataset type of one component (``calexp`` → ``calexp.wcs``)."""
        return DatasetType(
            f"{self.name}.{component}", self.dimensions, storage_class_name, self.is_calibration
        )

    def describe(self) -> str:
        """A one-line description used in error messages."""
        calib = ", calibration" if self.is_calibration else ""
        dims = ", ".join(self.dimensions.required)
        return f"{self.name}(dimensions=({dims}), {self.storage_class_name}{calib})"

    def _key(self) -> tuple[Any, ...]:
        return (self.name, self.dimensions.names, self.storage_class_name, self.is_calibration)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DatasetType):
            return self._key() == other._key()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_dataset_type,
            (
                self.name,
                tuple(self.dimensions.names),
                self.storage_class_name,
                self.is_calibration,
                self.dimensions.universe.to_yaml(),
            ),
        )

    def __repr__(self) -> str:
        calib = ", is_calibration=True" if self.is_calibration else ""
        return (
            f"DatasetType({self.name!r}, ({', '.join(self.dimensions.required)}), "
            f"{self.storage_class_name!r}{calib})"
        )


def _rebuild_dataset_type(
    name: str, dims: tuple[str, ...], storage_class_name: str, is_calibration: bool, universe_yaml: str
) -> DatasetType:
    default = DimensionUniverse.default()
    universe = default if default.to_yaml() == universe_yaml else DimensionUniverse.from_yaml(universe_yaml)
    return DatasetType(name, dims, storage_class_name, is_calibration, universe=universe)


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """A resolved reference to one dataset in the registry.

    Attributes
    ----------
    id : `uuid.UUID`
        The dataset ID (unique across repositories).
    dataset_type : `DatasetType`
    data_id : `DataCoordinate`
    run : `str`
        The RUN collection the dataset belongs to.
    """

    id: uuid.UUID
    dataset_type: DatasetType = field(compare=False)
    data_id: DataCoordinate = field(compare=False)
    run: str = field(compare=False)

    def __repr__(self) -> str:
        return f"DatasetRef({self.dataset_type.name}, {self.data_id}, run={self.run!r}, id={self.id})"
