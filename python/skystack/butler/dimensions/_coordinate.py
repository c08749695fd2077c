# SPDX-License-Identifier: GPL-3.0-or-later
"""Data IDs (`DataCoordinate`) and dimension records (`DimensionRecord`).

`DataCoordinate.standardize` checks a user's data ID against the universe without touching the
database: missing required keys, unknown keys and wrongly typed values raise `DataIdError` with a
message naming what is wrong and what was given. A registry *expands* a data ID by adding implied
values and the records of its elements.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ._elements import DimensionElement, DimensionGroup, DimensionUniverse, DimensionUniverseError

if TYPE_CHECKING:
    from lsst.sphgeom import Region

    from ..timespan import Timespan

__all__ = ["DataCoordinate", "DataIdError", "DataIdValue", "DimensionRecord"]

DataIdValue = int | str
"""Type of a data-ID value."""


class DataIdError(ValueError):
    """Raised when a data ID is incomplete, has unknown keys, wrongly typed values, or no records."""


def _format(mapping: Mapping[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v!r}" for k, v in mapping.items()) + "}"


def _check_value(universe: DimensionUniverse, name: str, value: Any) -> DataIdValue:
    dtype = universe[name].key_type
    if dtype is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        if type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iu":
            return int(value)
    elif isinstance(value, str):
        return str(value)
    raise DataIdError(
        f"data ID value for {name!r} must be {dtype.__name__}, got {value!r} ({type(value).__name__})"
    )


class DimensionRecord:
    """The record of one dimension element: its keys, implied values, metadata, timespan, region.

    Fields are read as attributes (``record.exposure_time``) or with `to_dict`. Records are
    immutable and compare by element and values.

    Parameters
    ----------
    element : `DimensionElement`
        The element this record belongs to.
    values : `dict` [`str`, `~typing.Any`]
        Field values keyed by the names of ``element.record_fields`` (missing metadata: `None`).
    """

    __slots__ = ("_element", "_values")

    def __init__(self, element: DimensionElement, values: dict[str, Any]) -> None:
        object.__setattr__(self, "_element", element)
        object.__setattr__(self, "_values", values)

    @property
    def element(self) -> DimensionElement:
        """The element of this record."""
        return self._element

    @property
    def data_id_values(self) -> dict[str, DataIdValue]:
        """The required data-ID values identifying this record, keyed by dimension name."""
        return {d: self._values[self._element.column_name(d)] for d in self._element.required}

    def to_dict(self) -> dict[str, Any]:
        """All fields as a new dict (``timespan``: `Timespan`, ``region``: sphgeom region)."""
        return dict(self._values)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(
                f"{self._element.name} records have no field {name!r}; fields are: "
                f"{', '.join(self._element.record_fields)}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"DimensionRecord is immutable (cannot set {name!r})")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DimensionRecord):
            return self._element == other._element and self._values == other._values
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self._element.name, tuple(self.data_id_values.values())))

    def __reduce__(self) -> tuple[Any, ...]:
        return (DimensionRecord, (self._element, self._values))

    def __repr__(self) -> str:
        return f"{self._element.name}Record({_format(self._values)})"


class DataCoordinate(Mapping[str, DataIdValue]):
    """An immutable, validated data ID: values for the required (and maybe implied) dimensions.

    Build with `DataCoordinate.standardize` (validation without database access) or obtain an
    expanded one (implied values and records) from ``Registry.expand_data_id``. Equality and hash
    use the group and the required values only.

    As a mapping it holds the required dimensions and, when known, the implied ones.
    """

    __slots__ = ("_hash", "_id_text", "_implied", "_records", "_required", "dimensions")

    dimensions: DimensionGroup
    _hash: int
    _required: tuple[DataIdValue, ...]
    _implied: tuple[DataIdValue, ...] | None
    _records: dict[str, DimensionRecord | None] | None

    @classmethod
    def from_trusted(
        cls,
        dimensions: DimensionGroup,
        required: tuple[DataIdValue, ...],
        implied: tuple[DataIdValue, ...] | None = None,
        records: dict[str, DimensionRecord | None] | None = None,
    ) -> DataCoordinate:
        """Build without any checks (values already validated, in ``dimensions`` order).

        For registry internals and bulk code paths; use `standardize` for user input.
        """
        self = object.__new__(cls)
        self.dimensions = dimensions
        self._required = required
        self._implied = implied
        self._records = records
        self._hash = hash((dimensions.names, required))
        return self

    @classmethod
    def make_empty(cls, universe: DimensionUniverse) -> DataCoordinate:
        """The data ID with no dimensions."""
        return cls.from_trusted(universe.conform(()), (), (), {})

    @classmethod
    def standardize(
        cls,
        mapping: Mapping[str, Any] | None = None,
        *,
        universe: DimensionUniverse | None = None,
        dimensions: DimensionGroup | Iterable[str] | None = None,
        **kwargs: Any,
    ) -> DataCoordinate:
        """Validate a data ID given as a mapping and/or keyword arguments.

        Parameters
        ----------
        mapping : `~collections.abc.Mapping` or `None`
            Data-ID values keyed by dimension name (a `DataCoordinate` is accepted).
        universe : `DimensionUniverse`, optional
            Defaults to the group's universe, the mapping's, or `DimensionUniverse.default`.
        dimensions : `DimensionGroup` or iterable of `str`, optional
            The dimensions the data ID must identify. Given: every required dimension must have
            a value, and values of other known dimensions are ignored (they may serve lookups,
            e.g. the exposure of a calibration). Not given: the group is that of the keys.
        **kwargs
            More values; they take precedence over ``mapping``.

        Returns
        -------
        data_id : `DataCoordinate`

        Raises
        ------
        DataIdError
            If a required dimension is missing, a key is not a dimension, or a value has the wrong
            type. The message lists what is missing or wrong, and what was given.
        """
        same_group = dimensions is None or (
            isinstance(dimensions, DimensionGroup)
            and isinstance(mapping, DataCoordinate)
            and dimensions == mapping.dimensions
        )
        if isinstance(mapping, DataCoordinate) and not kwargs and same_group:
            return mapping
        if universe is None:
            if isinstance(dimensions, DimensionGroup):
                universe = dimensions.universe
            elif isinstance(mapping, DataCoordinate):
                universe = mapping.dimensions.universe
            else:
                universe = DimensionUniverse.default()
        given: dict[str, Any] = dict(
            mapping.full_items() if isinstance(mapping, DataCoordinate) else mapping or {}
        )
        given.update(kwargs)
        unknown = [k for k in given if k not in universe or not universe[k].is_dimension]
        if unknown:
            raise DataIdError(
                f"unknown data ID key(s) {', '.join(map(repr, unknown))} in {_format(given)}; "
                f"valid keys are: {', '.join(universe.dimension_names)}"
            )
        try:
            group = universe.conform(given if dimensions is None else dimensions)
        except DimensionUniverseError as err:
            raise DataIdError(str(err)) from None
        missing = [d for d in group.required if d not in given]
        if missing:
            raise DataIdError(
                f"data ID for dimensions ({', '.join(group.required)}) is missing "
                f"{', '.join(map(repr, missing))}; given: {_format(given)}"
            )
        required = tuple(_check_value(universe, d, given[d]) for d in group.required)
        implied: tuple[DataIdValue, ...] | None = None
        if group.implied and all(d in given for d in group.implied):
            implied = tuple(_check_value(universe, d, given[d]) for d in group.implied)
        elif not group.implied:
            implied = ()
        else:
            for d in group.implied:
                if d in given:
                    _check_value(universe, d, given[d])
        return cls.from_trusted(group, required, implied)

    @staticmethod
    def check_value(universe: DimensionUniverse, dimension: str, value: Any) -> DataIdValue:
        """Validate one data-ID value and return it as `int` or `str`.

        Raises
        ------
        DataIdError
            If ``dimension`` is not a dimension or ``value`` has the wrong type.
        """
        if dimension not in universe or not universe[dimension].is_dimension:
            raise DataIdError(
                f"unknown data ID key {dimension!r}; valid keys are: {', '.join(universe.dimension_names)}"
            )
        return _check_value(universe, dimension, value)

    @property
    def universe(self) -> DimensionUniverse:
        """The universe of this data ID."""
        return self.dimensions.universe

    @property
    def has_full(self) -> bool:
        """Whether the values of implied dimensions are known."""
        return self._implied is not None

    @property
    def has_records(self) -> bool:
        """Whether the records of the group's elements are attached (an expanded data ID)."""
        return self._records is not None

    @property
    def required(self) -> dict[str, DataIdValue]:
        """Values of the required dimensions."""
        return dict(zip(self.dimensions.required, self._required, strict=True))

    @property
    def full(self) -> dict[str, DataIdValue]:
        """Values of all dimensions (required and implied).

        Raises
        ------
        DataIdError
            If implied values are not known; expand the data ID with the registry first.
        """
        if self._implied is None:
            raise DataIdError(
                f"implied values ({', '.join(self.dimensions.implied)}) of data ID {self} are not "
                "known; expand it with Registry.expand_data_id first"
            )
        return dict(zip(self.dimensions.dimensions, self._required + self._implied, strict=True))

    def full_items(self) -> Iterator[tuple[str, DataIdValue]]:
        """Pairs of (dimension, value) for the required and, when known, the implied dimensions."""
        yield from zip(self.dimensions.required, self._required, strict=True)
        if self._implied is not None:
            yield from zip(self.dimensions.implied, self._implied, strict=True)

    @property
    def id_text(self) -> str:
        """``name=value;...`` of the required values sorted by dimension name (cached).

        The stable text from which deterministic dataset and quantum IDs are made.
        """
        text: str | None = getattr(self, "_id_text", None)
        if text is None:
            pairs = sorted(zip(self.dimensions.required, self._required, strict=True))
            text = ";".join(f"{k}={v!r}" for k, v in pairs)
            self._id_text = text
        return text

    @property
    def values_tuple(self) -> tuple[DataIdValue, ...]:
        """Required values in ``dimensions.required`` order."""
        return self._required

    @property
    def records(self) -> Mapping[str, DimensionRecord | None]:
        """Records of the group's elements (`None` for unstored dimensions such as ``band``).

        Raises
        ------
        DataIdError
            If the data ID was not expanded.
        """
        if self._records is None:
            raise DataIdError(f"data ID {self} has no records; expand it with Registry.expand_data_id first")
        return self._records

    @property
    def region(self) -> Region | None:
        """The region of the most specific spatial element of each spatial family, intersected.

        `None` if the group has no spatial element or the records have no region.
        """
        records = self.records
        regions = []
        seen: set[str] = set()
        for name in self.dimensions.spatial:
            element = self.universe[name]
            if seen & set(element.required):
                continue  # a more specific element of the same family was used
            record = records.get(name)
            if record is not None and record.region is not None:
                regions.append(record.region)
                seen |= set(element.required)
        if not regions:
            return None
        if len(regions) == 1:
            return regions[0]
        from lsst.sphgeom import IntersectionRegion

        return IntersectionRegion(*regions)

    @property
    def timespan(self) -> Timespan | None:
        """Intersection of the timespans of the temporal elements' records; `None` if none."""
        records = self.records
        spans = [r.timespan for n in self.dimensions.temporal if (r := records.get(n)) is not None]
        spans = [s for s in spans if s is not None]
        if not spans:
            return None
        return spans[0].intersection(*spans[1:])

    def subset(self, dimensions: DimensionGroup | Iterable[str]) -> DataCoordinate:
        """This data ID restricted to ``dimensions`` (which must be known values of it)."""
        group = self.universe.conform(dimensions)
        if group == self.dimensions:
            return self
        return DataCoordinate.standardize(dict(self.full_items()), dimensions=group)

    def __getitem__(self, key: str) -> DataIdValue:
        group = self.dimensions
        try:
            return self._required[group.required.index(key)]
        except ValueError:
            pass
        if key in group.implied and self._implied is not None:
            return self._implied[group.implied.index(key)]
        raise KeyError(
            f"{key!r} is not a known value of data ID {self}"
            + ("; expand it to get implied values" if key in group.implied else "")
        )

    def __iter__(self) -> Iterator[str]:
        if self._implied is None:
            return iter(self.dimensions.required)
        return iter(self.dimensions.dimensions)

    def __len__(self) -> int:
        return len(self._required) + (0 if self._implied is None else len(self._implied))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DataCoordinate):
            return self.dimensions.names == other.dimensions.names and self._required == other._required
        if isinstance(other, Mapping):
            return dict(self.full_items()) == dict(other) or self.required == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild_coordinate,
            (self.universe.to_yaml(), tuple(self.dimensions.names), self._required, self._implied),
        )

    def __repr__(self) -> str:
        return _format(dict(self.full_items()))


def _rebuild_coordinate(
    universe_yaml: str,
    names: tuple[str, ...],
    required: tuple[DataIdValue, ...],
    implied: tuple[DataIdValue, ...] | None,
) -> DataCoordinate:
    default = DimensionUniverse.default()
    universe = default if default.to_yaml() == universe_yaml else DimensionUniverse.from_yaml(universe_yaml)
    return DataCoordinate.from_trusted(universe.conform(names), required, implied)
