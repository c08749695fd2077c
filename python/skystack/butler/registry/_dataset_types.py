# SPDX-License-Identifier: GPL-3.0-or-later
"""Registration and lookup of dataset types, and creation of their per-dimension-group tables."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import sqlalchemy as sa

from ..dimensions import DimensionUniverse
from ._collections import compile_pattern
from ._datasets import DatasetType
from ._db import Database
from ._errors import ConflictingDefinitionError, MissingDatasetTypeError
from ._names import validate_dataset_type_name
from ._schema import RegistrySchema

__all__ = ["DatasetTypeManager", "DatasetTypeRecord"]

_DDL_LOCK_KEY = 0x736B7973  # PostgreSQL advisory lock taken while creating dataset tables


@dataclass(frozen=True, slots=True)
class DatasetTypeRecord:
    """A registered dataset type with its database id and tables."""

    dataset_type: DatasetType
    id: int
    tags: sa.Table
    calibs: sa.Table | None


class DatasetTypeManager:
    """Reads and writes the ``dataset_type`` table (cached per process)."""

    def __init__(self, db: Database, schema: RegistrySchema) -> None:
        self._db = db
        self._schema = schema
        self.universe: DimensionUniverse = schema.universe
        self._by_name: dict[str, DatasetTypeRecord] = {}
        self._by_id: dict[int, DatasetTypeRecord] = {}

    def refresh(self) -> None:
        """Forget cached dataset types (they are reread on demand)."""
        self._by_name.clear()
        self._by_id.clear()

    def _record_from_row(self, row: sa.Row) -> DatasetTypeRecord:
        dims = [d for d in row.dimensions.split(",") if d]
        dataset_type = DatasetType(
            row.name, dims, row.storage_class, row.is_calibration, universe=self.universe
        )
        group = dataset_type.dimensions
        record = DatasetTypeRecord(
            dataset_type,
            row.dataset_type_id,
            self._schema.tag_table(group),
            self._schema.calib_table(group) if row.is_calibration else None,
        )
        self._by_name[record.dataset_type.name] = record
        self._by_id[record.id] = record
        return record

    def register(self, dataset_type: DatasetType) -> bool:
        """Register a dataset type; see `Registry.register_dataset_type`."""
        if not isinstance(dataset_type, DatasetType):
            raise TypeError(f"register_dataset_type needs a DatasetType, got {dataset_type!r}")
        validate_dataset_type_name(dataset_type.name, allow_component=False)
        # Rebuild in this registry's universe (dimension names are what is stored).
        dataset_type = DatasetType(
            dataset_type.name,
            dataset_type.dimensions.names,
            dataset_type.storage_class_name,
            dataset_type.is_calibration,
            universe=self.universe,
        )
        try:
            existing = self.find(dataset_type.name)
        except MissingDatasetTypeError:
            existing = None
        if existing is not None:
            self._check_same(existing.dataset_type, dataset_type)
            return False
        table = self._schema.dataset_type
        group = dataset_type.dimensions
        tags = self._schema.tag_table(group)
        calibs = self._schema.calib_table(group) if dataset_type.is_calibration else None

        def run(conn: sa.Connection) -> bool:
            if not self._db.is_sqlite:
                # Serialize table creation between processes (SQLite writers are serialized already).
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_LOCK_KEY})
            for t in (tags, calibs):
                if t is not None:
                    with conn.begin_nested():
                        t.create(conn, checkfirst=True)
            stmt = self._db.insert(table).values(
                name=dataset_type.name,
                storage_class=dataset_type.storage_class_name,
                dimensions=",".join(group.required),
                is_calibration=dataset_type.is_calibration,
                tag_table=tags.name,
                calib_table=None if calibs is None else calibs.name,
            )
            result = conn.execute(
                stmt.on_conflict_do_nothing(index_elements=["name"]).returning(table.c.dataset_type_id)
            )
            created = result.first() is not None
            row = conn.execute(sa.select(table).where(table.c.name == dataset_type.name)).one()
            record = self._record_from_row(row)
            self._check_same(record.dataset_type, dataset_type)
            return created

        return self._db.retry(run)

    @staticmethod
    def _check_same(existing: DatasetType, new: DatasetType) -> None:
        if existing != new:
            raise ConflictingDefinitionError(
                f"dataset type {new.name!r} is already registered as {existing.describe()}; cannot "
                f"redefine it as {new.describe()} (use another name, or remove the old type and all "
                "its datasets)"
            )

    def find(self, name: str) -> DatasetTypeRecord:
        """The record of a registered dataset type.

        Raises
        ------
        MissingDatasetTypeError
            If it is not registered; the message lists close matches.
        """
        record = self._by_name.get(name)
        if record is not None:
            return record
        table = self._schema.dataset_type
        with self._db.query() as conn:
            row = conn.execute(sa.select(table).where(table.c.name == name)).first()
            if row is None:
                names = conn.execute(sa.select(table.c.name)).scalars().all()
        if row is None:
            close = difflib.get_close_matches(str(name), names, n=5, cutoff=0.5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            component = ""
            if isinstance(name, str) and "." in name:
                component = " (components are resolved from their parent type by the Butler)"
            raise MissingDatasetTypeError(
                f"dataset type {name!r} is not registered{component}{hint}; register it with "
                "register_dataset_type"
            )
        return self._record_from_row(row)

    def by_id(self, dataset_type_id: int) -> DatasetTypeRecord:
        """The record of the dataset type with a database id."""
        record = self._by_id.get(dataset_type_id)
        if record is None:
            table = self._schema.dataset_type
            with self._db.query() as conn:
                row = conn.execute(sa.select(table).where(table.c.dataset_type_id == dataset_type_id)).one()
            record = self._record_from_row(row)
        return record

    def query(self, pattern: str | re.Pattern[str] | None) -> list[DatasetType]:
        """Registered dataset types whose names match a glob or regex, sorted by name."""
        regex = compile_pattern(pattern)
        table = self._schema.dataset_type
        with self._db.query() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.name)).all()
        return [self._record_from_row(r).dataset_type for r in rows if regex.fullmatch(r.name)]

    def remove(self, name: str) -> None:
        """Remove a dataset type that has no datasets."""
        record = self.find(name)
        dataset, table = self._schema.dataset, self._schema.dataset_type

        def run(conn: sa.Connection) -> None:
            count = conn.execute(
                sa.select(sa.func.count()).select_from(dataset).where(dataset.c.dataset_type_id == record.id)
            ).scalar_one()
            if count:
                raise ConflictingDefinitionError(
                    f"dataset type {name!r} still has {count} dataset(s); remove them before the type"
                )
            conn.execute(table.delete().where(table.c.dataset_type_id == record.id))

        self._db.retry(run)
        self._by_name.pop(name, None)
        self._by_id.pop(record.id, None)
