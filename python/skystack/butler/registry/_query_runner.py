# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry's expression queries: ``query_data_ids``, ``query_dimension_records``, ``query_datasets``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from ..dimensions import DataCoordinate, DimensionRecord
from ._collections import CollectionManager, CollectionSearch
from ._datasets import CollectionType, DatasetRef, DatasetType
from ._db import Database
from ._dimension_records import DimensionRecordStorage
from ._errors import CalibrationLookupError
from ._explain import (
    EmptyQueryResultError,
    explain_data_ids,
    explain_datasets,
    explain_dimension_records,
)
from ._query import base_for_dimensions, build_restriction, exact_rows
from ._schema import RegistrySchema

__all__ = ["QueryRunner"]


class QueryRunner:
    """Runs queries with ``where`` expressions against one registry's database."""

    def __init__(
        self,
        db: Database,
        schema: RegistrySchema,
        collections: CollectionManager,
        dataset_type_record: Any,
        records: DimensionRecordStorage,
    ) -> None:
        self._db = db
        self._schema = schema
        self._collections = collections
        self._type_record = dataset_type_record
        self._records = records

    def data_ids(
        self,
        dimensions: Iterable[str],
        where: str,
        bind: Mapping[str, Any] | None,
        data_id: Mapping[str, Any],
        explain: bool = False,
    ) -> list[DataCoordinate]:
        """Existing data IDs of ``dimensions`` (with their required values), sorted.

        With ``explain``, an empty result raises `EmptyQueryResultError` saying why.
        """
        group = self._schema.universe.conform(list(dimensions))
        from_clause, base, tables = base_for_dimensions(self._schema, group)
        restriction = build_restriction(self._schema, base, where, bind, data_id, tables)
        keys = [base[d] for d in group.required]
        stmt = sa.select(*keys, *restriction.region_columns).select_from(from_clause)
        stmt = restriction.apply(stmt).distinct().order_by(*keys)
        with self._db.query() as conn:
            rows = exact_rows(conn.execute(stmt).fetchall(), restriction)
        if not rows and explain:
            raise EmptyQueryResultError(explain_data_ids(self, group, where, bind, data_id))
        make = DataCoordinate.from_trusted
        return [make(group, tuple(row), None) for row in rows]

    def dimension_records(
        self,
        element_name: str,
        where: str,
        bind: Mapping[str, Any] | None,
        data_id: Mapping[str, Any],
        explain: bool = False,
    ) -> list[DimensionRecord]:
        """Records of one element passing the constraints, sorted by their keys (``explain``: as for
        `data_ids`)."""
        element = self._schema.universe[element_name]
        if not element.is_stored:
            raise ValueError(f"{element_name} has no records (its values are free-form)")
        table = self._schema.elements[element.name]
        base = {d: table.c[element.column_name(d)] for d in element.required}
        base.update({d: table.c[d] for d in element.implied})
        restriction = build_restriction(self._schema, base, where, bind, data_id, {element.name: table})
        stmt = sa.select(*table.columns, *restriction.region_columns).select_from(table)
        stmt = restriction.apply(stmt).order_by(*(base[d] for d in element.required))
        names = list(table.columns.keys())
        with self._db.query() as conn:
            rows = exact_rows(conn.execute(stmt).fetchall(), restriction)
        if not rows and explain:
            raise EmptyQueryResultError(explain_dimension_records(self, element, where, bind, data_id))
        return [self._records._from_row(element, dict(zip(names, row, strict=True))) for row in rows]

    def datasets(
        self,
        dataset_type: str | DatasetType,
        collections: CollectionSearch,
        where: str,
        bind: Mapping[str, Any] | None,
        data_id: Mapping[str, Any],
        find_first: bool,
        explain: bool = False,
    ) -> list[DatasetRef]:
        """Datasets of one type in a collection search path whose data IDs pass the constraints.

        With ``find_first``, one dataset per data ID: the one in the earliest collection of the
        path. Otherwise every distinct dataset in any of the collections. With ``explain``, an
        empty result raises `EmptyQueryResultError` saying why.
        """
        type_record = self._type_record(dataset_type)
        dtype = type_record.dataset_type
        group = dtype.dimensions
        dims = group.required
        path = self._collections.resolve(collections)
        calib = [c for c in path if c.type is CollectionType.CALIBRATION]
        if type_record.calibs is None:
            calib = []  # a non-calibration type is never in a CALIBRATION collection: skip them
        if calib and find_first:
            raise CalibrationLookupError(
                f"a find-first query cannot search CALIBRATION collection {calib[0].name!r} without a "
                "time; use find_dataset with a timespan, or find_first=False"
            )
        plain = [c for c in path if c.type is not CollectionType.CALIBRATION]
        dataset = self._schema.dataset
        queries = []
        for table, records in ((type_record.tags, plain), (type_record.calibs, calib)):
            if table is None or not records:
                continue
            ids = [c.id for c in records]
            restriction = build_restriction(
                self._schema,
                {d: table.c[d] for d in dims},
                where,
                bind,
                data_id,
                subject=f"{dtype.name!r} datasets",
            )
            need_join = any(c.type is not CollectionType.RUN for c in records)
            run_col = dataset.c.run_id if need_join else table.c.collection_id
            # Raw ids (16 bytes on SQLite) become UUIDs below without a per-row type hook.
            raw_id = (
                table.c.dataset_id if not self._db.is_sqlite else sa.type_coerce(table.c.dataset_id, sa.BLOB)
            )
            cols: list[Any] = [raw_id.label("dataset_id"), run_col.label("run_id")]
            cols += [table.c[d] for d in dims]
            cols += [c.label(f"exact_region_{i}") for i, c in enumerate(restriction.region_columns)]
            ranked = find_first and len(ids) > 1
            if ranked:
                order = sa.case({cid: i for i, cid in enumerate(ids)}, value=table.c.collection_id)
                cols.append(
                    sa.func.row_number()
                    .over(partition_by=[table.c[d] for d in dims], order_by=order)
                    .label("rn")
                )
            stmt = sa.select(*cols).where(
                table.c.dataset_type_id == type_record.id, table.c.collection_id.in_(ids)
            )
            if need_join:
                stmt = stmt.join(dataset, dataset.c.id == table.c.dataset_id)
            stmt = restriction.apply(stmt)
            if ranked:
                sub = stmt.subquery()
                stmt = sa.select(*(sub.c[c.name] for c in cols[:-1])).where(sub.c.rn == 1)
            elif len(ids) > 1 or table is type_record.calibs:
                stmt = stmt.distinct()
            queries.append((stmt, restriction))
        refs: list[DatasetRef] = []
        seen: set[Any] | None = set() if len(queries) > 1 or not find_first else None
        run_names: dict[int, str] = {}
        with self._db.query() as conn:
            for stmt, restriction in queries:
                rows = exact_rows(conn.execute(stmt).fetchall(), restriction)
                for rid in {row[1] for row in rows} - run_names.keys():
                    run_names[rid] = self._collections.by_id(rid).name
                refs += _make_refs(rows, dtype, run_names, seen)
        if not refs and explain:
            raise EmptyQueryResultError(
                explain_datasets(self, type_record, collections, path, where, bind, data_id)
            )
        return refs


_new = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def _make_refs(
    rows: list[Any], dtype: DatasetType, run_names: dict[int, str], seen: set[Any] | None
) -> list[DatasetRef]:
    """DatasetRefs of rows ``(dataset id, run id, *required values)``; IDs in ``seen`` are skipped.

    The UUID and `DatasetRef` are built in place (as `uuid_from_bytes` and the dataclass do, without
    the calls): this loop is most of the time of a large query.
    """
    group = dtype.dimensions
    make = DataCoordinate.from_trusted
    uuid_class, ref_class, from_bytes = uuid.UUID, DatasetRef, int.from_bytes
    out: list[DatasetRef] = []
    append = out.append
    for row in rows:
        raw = row[0]
        if seen is not None:
            if raw in seen:
                continue
            seen.add(raw)
        if raw.__class__ is uuid_class:
            did = raw
        else:
            did = _new(uuid_class)
            _set(did, "int", from_bytes(raw, "big"))
            _set(did, "is_safe", _UNKNOWN)
        ref = _new(ref_class)
        _set(ref, "id", did)
        _set(ref, "dataset_type", dtype)
        _set(ref, "data_id", make(group, tuple(row[2:]), None))
        _set(ref, "run", run_names[row[1]])
        append(ref)
    return out
