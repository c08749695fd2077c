# SPDX-License-Identifier: GPL-3.0-or-later
"""Datasets: bulk insertion, find-first lookups, simple queries, tags, certification, removal."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from ..dimensions import DataCoordinate, DataIdError
from ..timespan import Timespan
from ._collections import CollectionManager, CollectionRecord, CollectionSearch
from ._dataset_types import DatasetTypeManager, DatasetTypeRecord
from ._datasets import CollectionType, DatasetIdGenEnum, DatasetRef, DatasetType, make_dataset_id
from ._db import Database
from ._dimension_records import DimensionRecordStorage
from ._errors import (
    CalibrationLookupError,
    CollectionTypeError,
    ConflictingDefinitionError,
    DatasetTypeError,
)
from ._prepared import PreparedInsert, PreparedQuery
from ._schema import RegistrySchema

__all__ = ["DatasetStorage"]

_CHUNK = 500


def _chunks(items: list[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _overlaps(table: sa.Table, timespan: Timespan) -> sa.ColumnElement[bool]:
    return sa.and_(
        table.c.timespan_begin < timespan.end_nsec,
        table.c.timespan_end > timespan.begin_nsec,
        table.c.timespan_begin < table.c.timespan_end,
    )


class DatasetStorage:
    """Reads and writes the ``dataset`` table and the per-dimension-group tag and calib tables."""

    def __init__(
        self,
        db: Database,
        schema: RegistrySchema,
        collections: CollectionManager,
        dataset_types: DatasetTypeManager,
        records: DimensionRecordStorage,
    ) -> None:
        self._db = db
        self._schema = schema
        self._collections = collections
        self._types = dataset_types
        self._records = records
        self._find_queries: dict[tuple[int, int], PreparedQuery] = {}
        self._inserts: dict[tuple[str, tuple[str, ...]], PreparedInsert] = {}

    def _type_record(self, dataset_type: str | DatasetType) -> DatasetTypeRecord:
        name = dataset_type.name if isinstance(dataset_type, DatasetType) else dataset_type
        record = self._types.find(name)
        if isinstance(dataset_type, DatasetType) and dataset_type != record.dataset_type:
            raise ConflictingDefinitionError(
                f"dataset type {dataset_type.describe()} differs from the registered "
                f"{record.dataset_type.describe()}"
            )
        return record

    def _collection_of_type(self, name: str, wanted: CollectionType) -> CollectionRecord:
        record = self._collections.find(name)
        if record.type is not wanted:
            raise CollectionTypeError(
                f"collection {name!r} is {record.type.name}; this operation needs a {wanted.name} collection"
            )
        return record

    # -- insertion ------------------------------------------------------------------------------

    def insert(
        self,
        dataset_type: str | DatasetType,
        data_ids: Iterable[Mapping[str, Any] | DataCoordinate],
        run: str,
        id_generation: DatasetIdGenEnum,
    ) -> list[DatasetRef]:
        """Insert datasets into a RUN; see `Registry.insert_datasets`."""
        type_record = self._type_record(dataset_type)
        dtype = type_record.dataset_type
        group = dtype.dimensions
        run_record = self._collection_of_type(run, CollectionType.RUN)
        coords = [DataCoordinate.standardize(d, dimensions=group) for d in data_ids]
        if not coords:
            return []
        mode = DatasetIdGenEnum(id_generation)
        refs = [DatasetRef(make_dataset_id(dtype.name, c, run, mode), dtype, c, run) for c in coords]
        dims = group.required
        dataset_rows = [
            {"id": r.id, "dataset_type_id": type_record.id, "run_id": run_record.id} for r in refs
        ]
        tag_rows = [
            {
                "dataset_id": r.id,
                "dataset_type_id": type_record.id,
                "collection_id": run_record.id,
                **dict(zip(dims, r.data_id.values_tuple, strict=True)),
            }
            for r in refs
        ]
        dataset, tags = self._schema.dataset, type_record.tags
        deterministic = mode is not DatasetIdGenEnum.UNIQUE

        insert_datasets = self._insert(dataset, list(dataset_rows[0]), ("id",) if deterministic else ())
        insert_tags = self._insert(
            tags, list(tag_rows[0]), ("dataset_id", "collection_id") if deterministic else ()
        )

        def run_insert(conn: sa.Connection) -> None:
            try:
                with self._db.savepoint(conn):
                    insert_datasets.run(conn, dataset_rows)
                    insert_tags.run(conn, tag_rows)
            except sa.exc.IntegrityError as err:
                raise self._diagnose_insert(conn, type_record, run_record, refs, err) from None
            if deterministic:
                self._check_existing_ids(conn, type_record, run_record, refs)

        self._db.retry(run_insert)
        return refs

    def _check_existing_ids(
        self,
        conn: sa.Connection,
        type_record: DatasetTypeRecord,
        run: CollectionRecord,
        refs: list[DatasetRef],
    ) -> None:
        dataset = self._schema.dataset
        for chunk in _chunks([r.id for r in refs]):
            bad = conn.execute(
                sa.select(dataset.c.id, dataset.c.run_id).where(
                    dataset.c.id.in_(chunk),
                    sa.or_(dataset.c.run_id != run.id, dataset.c.dataset_type_id != type_record.id),
                )
            ).first()
            if bad is not None:
                other = self._collections.by_id(bad.run_id).name
                raise ConflictingDefinitionError(
                    f"dataset {bad.id} ({type_record.dataset_type.name}) already exists in run {other!r}; "
                    "deterministic IDs of mode DATAID_TYPE cannot be inserted into a second run "
                    f"({run.name!r})"
                )

    def _diagnose_insert(
        self,
        conn: sa.Connection,
        type_record: DatasetTypeRecord,
        run: CollectionRecord,
        refs: list[DatasetRef],
        err: sa.exc.IntegrityError,
    ) -> Exception:
        name = type_record.dataset_type.name
        dims = type_record.dataset_type.dimensions.required
        seen: set[tuple[Any, ...]] = set()
        for ref in refs:
            key = ref.data_id.values_tuple
            if key in seen:
                return ConflictingDefinitionError(
                    f"data ID {ref.data_id} of {name!r} appears twice in the input"
                )
            seen.add(key)
        tags = type_record.tags
        columns = sa.tuple_(*(tags.c[d] for d in dims)) if dims else None
        keys = list(seen)
        for chunk in _chunks(keys):
            where = [tags.c.dataset_type_id == type_record.id, tags.c.collection_id == run.id]
            if columns is not None:
                where.append(columns.in_(chunk))
            found = conn.execute(sa.select(*(tags.c[d] for d in dims)).where(*where).limit(5)).all()
            if found:
                shown = "; ".join(str(dict(zip(dims, f, strict=True))) for f in found)
                return ConflictingDefinitionError(
                    f"{name!r} datasets already exist in run {run.name!r} for data ID(s) {shown}; a run "
                    "holds one dataset per type and data ID (use another run, or DATAID_TYPE_RUN ids "
                    "for idempotent inserts)"
                )
        rows = [dict(zip(dims, r.data_id.values_tuple, strict=True)) for r in refs]
        checks = [(d, list(self._records.universe[d].required)) for d in dims]
        missing = self._records.find_missing_parents(conn, rows, checks)
        if missing:
            return DataIdError(
                f"cannot insert {name!r} datasets: {missing}; insert those dimension records first"
            )
        return ConflictingDefinitionError(
            f"cannot insert {name!r} datasets into run {run.name!r}: {err.orig}"
        )

    # -- lookups --------------------------------------------------------------------------------

    def find(
        self,
        dataset_type: str | DatasetType,
        given: Mapping[str, Any],
        collections: CollectionSearch,
        timespan: Timespan | None,
    ) -> DatasetRef | None:
        """Find-first lookup of one dataset; see `Registry.find_dataset`."""
        type_record = self._type_record(dataset_type)
        dtype = type_record.dataset_type
        data_id = DataCoordinate.standardize(given, dimensions=dtype.dimensions)
        path = self._collections.resolve(collections)
        rank = {c.id: i for i, c in enumerate(path)}
        dims = dtype.dimensions.required
        values = data_id.values_tuple
        candidates: list[tuple[int, uuid.UUID, int]] = []  # (rank, dataset id, run id)
        plain = [c.id for c in path if c.type is not CollectionType.CALIBRATION]
        calib = [c for c in path if c.type is CollectionType.CALIBRATION]
        dataset = self._schema.dataset
        if plain:
            params: dict[str, Any] = {"t": type_record.id, **{f"c{i}": cid for i, cid in enumerate(plain)}}
            params.update(zip(self._dim_params(dims), values, strict=True))
            prepared = self._find_query(type_record, len(plain))
            with self._db.read_cursor() as cursor:
                rows = prepared.all(cursor, params)
            candidates.extend((rank[cid], did, rid) for did, cid, rid in rows)
        if (
            calib
            and type_record.calibs is not None
            and (not candidates or min(candidates)[0] > rank[calib[0].id])
        ):
            with self._db.query() as conn:
                if timespan is None:
                    timespan = self._lookup_timespan(given, calib[0].name, dtype)
                cal = type_record.calibs
                stmt = (
                    sa.select(cal.c.dataset_id, cal.c.collection_id, dataset.c.run_id)
                    .join(dataset, dataset.c.id == cal.c.dataset_id)
                    .where(
                        cal.c.dataset_type_id == type_record.id,
                        cal.c.collection_id.in_([c.id for c in calib]),
                        *(cal.c[d] == v for d, v in zip(dims, values, strict=True)),
                        _overlaps(cal, timespan),
                    )
                )
                found = conn.execute(stmt).all()
                per_collection: dict[int, set[uuid.UUID]] = {}
                for did, cid, _ in found:
                    per_collection.setdefault(cid, set()).add(did)
                for cid, ids in per_collection.items():
                    if len(ids) > 1:
                        raise CalibrationLookupError(
                            f"{len(ids)} {dtype.name!r} datasets for {data_id} in CALIBRATION collection "
                            f"{self._collections.by_id(cid).name!r} are valid during {timespan}; "
                            "narrow the timespan"
                        )
                candidates.extend((rank[cid], did, rid) for did, cid, rid in found)
        if not candidates:
            return None
        _, best_id, run_id = min(candidates, key=lambda c: c[0])
        return DatasetRef(best_id, dtype, data_id, self._collections.by_id(run_id).name)

    def _insert(self, table: sa.Table, columns: list[str], conflict_keys: tuple[str, ...]) -> PreparedInsert:
        key = (table.name, conflict_keys)
        prepared = self._inserts.get(key)
        if prepared is None:
            prepared = self._inserts[key] = PreparedInsert(self._db, table, columns, conflict_keys)
        return prepared

    @staticmethod
    def _dim_params(dims: tuple[str, ...]) -> list[str]:
        return [f"d_{d}" for d in dims]

    def _find_query(self, type_record: DatasetTypeRecord, n_collections: int) -> PreparedQuery:
        """The prepared find-first lookup of a type's tags table in ``n_collections`` collections."""
        key = (type_record.id, n_collections)
        prepared = self._find_queries.get(key)
        if prepared is None:
            tags, dataset = type_record.tags, self._schema.dataset
            dims = type_record.dataset_type.dimensions.required
            ids: list[sa.BindParameter[Any]] = [sa.bindparam(f"c{i}") for i in range(n_collections)]
            stmt = (
                sa.select(tags.c.dataset_id, tags.c.collection_id, dataset.c.run_id)
                .join(dataset, dataset.c.id == tags.c.dataset_id)
                .where(
                    tags.c.dataset_type_id == sa.bindparam("t"),
                    tags.c.collection_id.in_(ids) if n_collections > 1 else tags.c.collection_id == ids[0],
                    *(
                        tags.c[d] == sa.bindparam(p)
                        for d, p in zip(dims, self._dim_params(dims), strict=True)
                    ),
                )
            )
            prepared = self._find_queries[key] = PreparedQuery(self._db, stmt)
        return prepared

    def _lookup_timespan(self, given: Mapping[str, Any], collection: str, dtype: DatasetType) -> Timespan:
        """The timespan of the temporal records named by a data ID (e.g. its exposure's)."""
        universe = self._records.universe
        try:
            full = DataCoordinate.standardize(given, universe=universe)
        except DataIdError:
            full = None
        if full is not None and full.dimensions.temporal:
            span = self._records.expand(full, given).timespan
            if span is not None:
                return span
        raise CalibrationLookupError(
            f"finding {dtype.name!r} in CALIBRATION collection {collection!r} needs a time: pass "
            f"timespan=... or a data ID naming an exposure or visit with a timespan (got {dict(given)})"
        )

    def get(self, dataset_id: uuid.UUID) -> DatasetRef | None:
        """The dataset with an ID, or `None`."""
        dataset = self._schema.dataset
        with self._db.query() as conn:
            row = conn.execute(
                sa.select(dataset.c.dataset_type_id, dataset.c.run_id).where(dataset.c.id == dataset_id)
            ).first()
            if row is None:
                return None
            type_record = self._types.by_id(row.dataset_type_id)
            tags = type_record.tags
            dims = type_record.dataset_type.dimensions.required
            values = conn.execute(
                sa.select(*(tags.c[d] for d in dims)).where(
                    tags.c.dataset_id == dataset_id, tags.c.collection_id == row.run_id
                )
            ).one()
        coord = DataCoordinate.from_trusted(type_record.dataset_type.dimensions, tuple(values), None)
        return DatasetRef(
            dataset_id, type_record.dataset_type, coord, self._collections.by_id(row.run_id).name
        )

    # -- membership -----------------------------------------------------------------------------

    def _group_by_type(
        self, refs: Iterable[DatasetRef]
    ) -> dict[str, tuple[DatasetTypeRecord, list[DatasetRef]]]:
        out: dict[str, tuple[DatasetTypeRecord, list[DatasetRef]]] = {}
        for ref in refs:
            entry = out.get(ref.dataset_type.name)
            if entry is None:
                entry = out[ref.dataset_type.name] = (self._type_record(ref.dataset_type), [])
            entry[1].append(ref)
        return out

    def _rows(
        self, type_record: DatasetTypeRecord, collection_id: int, refs: list[DatasetRef]
    ) -> list[dict[str, Any]]:
        dims = type_record.dataset_type.dimensions.required
        return [
            {
                "dataset_id": r.id,
                "dataset_type_id": type_record.id,
                "collection_id": collection_id,
                **dict(zip(dims, r.data_id.values_tuple, strict=True)),
            }
            for r in refs
        ]

    def associate(self, collection: str, refs: Iterable[DatasetRef]) -> None:
        """Add datasets to a TAGGED collection; see `Registry.associate`."""
        record = self._collection_of_type(collection, CollectionType.TAGGED)
        groups = self._group_by_type(refs)

        def run(conn: sa.Connection) -> None:
            for type_record, type_refs in groups.values():
                stmt = self._db.insert(type_record.tags).on_conflict_do_nothing(
                    index_elements=["dataset_id", "collection_id"]
                )
                try:
                    with conn.begin_nested():
                        conn.execute(stmt, self._rows(type_record, record.id, type_refs))
                except sa.exc.IntegrityError:
                    raise ConflictingDefinitionError(
                        f"cannot tag {type_record.dataset_type.name!r} datasets into {collection!r}: "
                        "another dataset with the same data ID is already tagged there (disassociate it "
                        "first), or a dataset does not exist"
                    ) from None

        self._db.retry(run)

    def disassociate(self, collection: str, refs: Iterable[DatasetRef]) -> None:
        """Remove datasets from a TAGGED collection; see `Registry.disassociate`."""
        record = self._collection_of_type(collection, CollectionType.TAGGED)
        groups = self._group_by_type(refs)

        def run(conn: sa.Connection) -> None:
            for type_record, type_refs in groups.values():
                tags = type_record.tags
                for chunk in _chunks([r.id for r in type_refs]):
                    conn.execute(
                        tags.delete().where(tags.c.collection_id == record.id, tags.c.dataset_id.in_(chunk))
                    )

        self._db.retry(run)

    def certify(self, collection: str, refs: Iterable[DatasetRef], timespan: Timespan) -> None:
        """Certify datasets in a CALIBRATION collection; see `Registry.certify`."""
        if not isinstance(timespan, Timespan):
            raise TypeError(f"certify needs a Timespan, got {timespan!r}")
        record = self._collection_of_type(collection, CollectionType.CALIBRATION)
        groups = self._group_by_type(refs)
        for type_record, _ in groups.values():
            if type_record.calibs is None:
                raise DatasetTypeError(
                    f"dataset type {type_record.dataset_type.name!r} is not a calibration type "
                    "(register it with is_calibration=True to certify it)"
                )

        def run(conn: sa.Connection) -> None:
            for type_record, type_refs in groups.values():
                cal = type_record.calibs
                assert cal is not None
                dims = type_record.dataset_type.dimensions.required
                keys = [r.data_id.values_tuple for r in type_refs]
                if len(set(keys)) != len(keys):
                    raise ConflictingDefinitionError(
                        f"certify: several {type_record.dataset_type.name!r} datasets share a data ID"
                    )
                for chunk in _chunks(keys):
                    where = [cal.c.dataset_type_id == type_record.id, cal.c.collection_id == record.id]
                    if dims:
                        where.append(sa.tuple_(*(cal.c[d] for d in dims)).in_(chunk))
                    clash = conn.execute(
                        sa.select(*(cal.c[d] for d in dims), cal.c.timespan_begin, cal.c.timespan_end).where(
                            *where, _overlaps(cal, timespan)
                        )
                    ).first()
                    if clash is not None:
                        other = Timespan.from_nsec(clash[-2], clash[-1])
                        clash_id = dict(zip(dims, clash[:-2], strict=True))
                        raise ConflictingDefinitionError(
                            f"{type_record.dataset_type.name!r} for {clash_id} "
                            f"is already certified in {collection!r} for {other}, which overlaps "
                            f"{timespan}; decertify first"
                        )
                rows = self._rows(type_record, record.id, type_refs)
                for row in rows:
                    row["timespan_begin"] = timespan.begin_nsec
                    row["timespan_end"] = timespan.end_nsec
                conn.execute(cal.insert(), rows)

        self._db.retry(run)

    def decertify(
        self,
        collection: str,
        dataset_type: str | DatasetType,
        timespan: Timespan,
        data_ids: Iterable[Mapping[str, Any]] | None,
    ) -> int:
        """Remove validity during ``timespan``; see `Registry.decertify`. Returns rows changed."""
        record = self._collection_of_type(collection, CollectionType.CALIBRATION)
        type_record = self._type_record(dataset_type)
        cal = type_record.calibs
        if cal is None:
            raise DatasetTypeError(
                f"dataset type {type_record.dataset_type.name!r} is not a calibration type"
            )
        group = type_record.dataset_type.dimensions
        dims = group.required
        keys = (
            None
            if data_ids is None
            else [DataCoordinate.standardize(d, dimensions=group).values_tuple for d in data_ids]
        )

        def run(conn: sa.Connection) -> int:
            where = [
                cal.c.dataset_type_id == type_record.id,
                cal.c.collection_id == record.id,
                _overlaps(cal, timespan),
            ]
            if keys is not None:
                if not keys:
                    return 0
                where.append(sa.tuple_(*(cal.c[d] for d in dims)).in_(keys))
            rows = conn.execute(sa.select(cal).where(*where)).mappings().all()
            if not rows:
                return 0
            conn.execute(cal.delete().where(cal.c.id.in_([r["id"] for r in rows])))
            keep = []
            for row in rows:
                base = {k: v for k, v in row.items() if k != "id"}
                if row["timespan_begin"] < timespan.begin_nsec:
                    keep.append({**base, "timespan_end": timespan.begin_nsec})
                if row["timespan_end"] > timespan.end_nsec:
                    keep.append({**base, "timespan_begin": timespan.end_nsec})
            if keep:
                conn.execute(cal.insert(), keep)
            return len(rows)

        return self._db.retry(run)

    def remove(self, refs: Iterable[DatasetRef]) -> int:
        """Delete datasets and all their associations; see `Registry.remove_datasets`."""
        ids = list({r.id for r in refs})
        dataset = self._schema.dataset

        def run(conn: sa.Connection) -> int:
            count = 0
            for chunk in _chunks(ids):
                count += conn.execute(dataset.delete().where(dataset.c.id.in_(chunk))).rowcount
            return count

        return self._db.retry(run)
