# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry side of export, import and transfer between repositories.

Bulk reads that an export needs (dimension records by key, the certifications of a CALIBRATION
collection) and *idempotent* writes that an import needs: dimension records, datasets with their
original IDs, and certifications. Each write compares what is imported with what the registry
already holds: identical entries are skipped, so importing the same export twice changes nothing;
different ones raise `ConflictingDefinitionError` naming both versions.

These functions work on a `Registry`'s storage objects directly and run inside its current
transaction when there is one (`Registry.transaction`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..dimensions import DataCoordinate, DataIdError, DimensionElement, DimensionRecord
from ..timespan import Timespan
from ._datasets import CollectionType, DatasetRef
from ._errors import CollectionTypeError, ConflictingDefinitionError

if TYPE_CHECKING:
    from ._registry import Registry

__all__ = [
    "check_dataset_refs",
    "fetch_certifications",
    "fetch_records_by_keys",
    "import_certifications",
    "import_dataset_refs",
    "import_dimension_records",
]

_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _key_columns(element: DimensionElement) -> list[str]:
    return [element.column_name(d) for d in element.required]


def _same(stored: Any, new: Any) -> bool:
    if stored == new:
        return True
    return isinstance(stored, float) and isinstance(new, float) and stored != stored and new != new  # NaN


def _select_rows(
    conn: sa.Connection, table: sa.Table, keys: list[str], wanted: Sequence[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    columns = [table.c[k] for k in keys]
    key_expr = sa.tuple_(*columns) if len(columns) > 1 else columns[0]
    for chunk in _chunks(wanted):
        values = list(chunk) if len(columns) > 1 else [k[0] for k in chunk]
        rows.extend(dict(r) for r in conn.execute(sa.select(table).where(key_expr.in_(values))).mappings())
    return rows


def fetch_records_by_keys(
    registry: Registry, element: str | DimensionElement, keys: Iterable[tuple[Any, ...]]
) -> list[DimensionRecord]:
    """The records of ``element`` with these key tuples (values of its required dimensions).

    Keys without a record are left out; the result is sorted by key.
    """
    storage = registry._records
    elem = storage._element(element)
    wanted = sorted(set(keys))
    if not wanted:
        return []
    table = registry._schema.elements[elem.name]
    names = _key_columns(elem)
    with registry._db.query() as conn:
        rows = _select_rows(conn, table, names, wanted)
    rows.sort(key=lambda r: tuple(r[k] for k in names))
    return [storage._from_row(elem, r) for r in rows]


def import_dimension_records(
    registry: Registry,
    element: str | DimensionElement,
    records: Iterable[Mapping[str, Any] | DimensionRecord],
) -> int:
    """Insert records of ``element`` that the registry does not have; returns how many were new.

    Records already present with identical values are skipped.

    Raises
    ------
    ConflictingDefinitionError
        If a record with the same keys but other values exists (up to five are shown with the
        fields that differ).
    DataIdError
        If a record refers to records that exist neither in the registry nor in the input.
    """
    storage = registry._records
    elem = storage._element(element)
    rows = [storage._to_row(elem, r) for r in records]
    if not rows:
        return 0
    keys = _key_columns(elem)
    table = registry._schema.elements[elem.name]
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        previous = by_key.get(key)
        if previous is not None and previous != row:
            raise ConflictingDefinitionError(
                f"the input has two different {elem.name} records for {dict(zip(keys, key, strict=True))}"
            )
        by_key[key] = row

    def run(conn: sa.Connection) -> int:
        existing = {tuple(r[k] for k in keys): r for r in _select_rows(conn, table, keys, list(by_key))}
        problems = []
        for key, stored in existing.items():
            new = by_key[key]
            diffs = [
                f"{k}: stored {stored[k]!r} vs imported {v!r}"
                for k, v in new.items()
                if not _same(stored[k], v)
            ]
            if diffs:
                problems.append(f"{dict(zip(keys, key, strict=True))} ({'; '.join(diffs)})")
        if problems:
            more = f" and {len(problems) - 5} more" if len(problems) > 5 else ""
            raise ConflictingDefinitionError(
                f"{len(problems)} imported {elem.name} record(s) differ from the ones in the registry: "
                f"{', '.join(problems[:5])}{more}; the repositories disagree about these records "
                "(fix or remove one side's records before importing)"
            )
        todo = [storage._from_row(elem, row) for key, row in by_key.items() if key not in existing]
        if not todo:
            return 0
        return storage.insert(elem, todo)

    return registry._db.retry(run)


def _check_refs(registry: Registry, conn: sa.Connection, refs: Sequence[DatasetRef]) -> set[uuid.UUID]:
    """IDs of ``refs`` already registered identically; raise if any is registered differently, or
    if a run already holds another dataset with an imported dataset's type and data ID."""
    by_id = {r.id: r for r in refs}
    if len(by_id) != len(refs):
        raise ConflictingDefinitionError("the input lists a dataset ID twice")
    dataset = registry._schema.dataset
    present: dict[uuid.UUID, tuple[int, int]] = {}
    for chunk in _chunks(list(by_id)):
        stmt = sa.select(dataset.c.id, dataset.c.dataset_type_id, dataset.c.run_id).where(
            dataset.c.id.in_(chunk)
        )
        present.update((i, (t, r)) for i, t, r in conn.execute(stmt))
    to_compare: dict[tuple[int, int], list[uuid.UUID]] = {}
    for dataset_id, (type_id, run_id) in present.items():
        ref = by_id[dataset_id]
        other_type = registry._types.by_id(type_id).dataset_type.name
        other_run = registry._collections.by_id(run_id).name
        if other_type != ref.dataset_type.name or other_run != ref.run:
            raise ConflictingDefinitionError(
                f"dataset {dataset_id} is already registered as a {other_type!r} dataset in run "
                f"{other_run!r}; the import has it as {ref.dataset_type.name!r} in run {ref.run!r}"
            )
        to_compare.setdefault((type_id, run_id), []).append(dataset_id)
    for (type_id, run_id), ids in to_compare.items():
        type_record = registry._types.by_id(type_id)
        tags, dims = type_record.tags, type_record.dataset_type.dimensions.required
        for chunk in _chunks(ids):
            stmt = sa.select(tags.c.dataset_id, *(tags.c[d] for d in dims)).where(
                tags.c.dataset_id.in_(chunk), tags.c.collection_id == run_id
            )
            for dataset_id, *values in conn.execute(stmt):
                ref = by_id[dataset_id]
                if tuple(values) != ref.data_id.values_tuple:
                    raise ConflictingDefinitionError(
                        f"dataset {dataset_id} ({ref.dataset_type.name!r} in run {ref.run!r}) has data ID "
                        f"{dict(zip(dims, values, strict=True))} in the registry but {ref.data_id.required} "
                        "in the import"
                    )
    groups: dict[tuple[str, str], list[DatasetRef]] = {}
    for ref in refs:
        if ref.id not in present:
            groups.setdefault((ref.dataset_type.name, ref.run), []).append(ref)
    for (type_name, run), group in groups.items():
        try:
            type_record = registry._types.find(type_name)
        except LookupError:
            continue  # a new type holds no dataset yet
        if type_record.dataset_type != group[0].dataset_type:
            raise ConflictingDefinitionError(
                f"dataset type {type_name!r} is registered as {type_record.dataset_type.describe()} but the "
                f"import defines it as {group[0].dataset_type.describe()}"
            )
        try:
            run_record = registry._collections.find(run)
        except LookupError:
            continue  # a new run holds no dataset yet
        clash = _data_id_clash(conn, type_record, run_record.id, group)
        if clash:
            raise ConflictingDefinitionError(
                f"run {run!r} already holds other {type_name!r} datasets (other IDs) with the data IDs of "
                f"imported ones: {clash}; remove them (butler prune-datasets) or import into another "
                "repository"
            )
    return set(present)


def _data_id_clash(conn: sa.Connection, type_record: Any, run_id: int, refs: Sequence[DatasetRef]) -> str:
    """Up to five data IDs of ``refs`` that another dataset holds in the run ('' if none)."""
    tags, dims = type_record.tags, type_record.dataset_type.dimensions.required
    keys = list({r.data_id.values_tuple for r in refs})
    where = [tags.c.dataset_type_id == type_record.id, tags.c.collection_id == run_id]
    ids = {r.id for r in refs}
    found: list[str] = []
    for chunk in _chunks(keys):
        clause = list(where)
        if dims:
            columns = sa.tuple_(*(tags.c[d] for d in dims)) if len(dims) > 1 else tags.c[dims[0]]
            clause.append(columns.in_(list(chunk) if len(dims) > 1 else [k[0] for k in chunk]))
        stmt = sa.select(tags.c.dataset_id, *(tags.c[d] for d in dims)).where(*clause)
        for dataset_id, *values in conn.execute(stmt):
            if dataset_id not in ids:
                found.append(f"{dict(zip(dims, values, strict=True))} (id {dataset_id})")
                if len(found) == 5:
                    return "; ".join(found)
    return "; ".join(found)


def check_dataset_refs(registry: Registry, refs: Iterable[DatasetRef]) -> set[uuid.UUID]:
    """Check, without writing, whether datasets can be imported with their IDs (see
    `import_dataset_refs`); returns the IDs already registered identically.

    Raises
    ------
    ConflictingDefinitionError
        As `import_dataset_refs` would.
    """
    items = list(refs)
    with registry._db.query() as conn:
        return _check_refs(registry, conn, items)


def import_dataset_refs(registry: Registry, refs: Iterable[DatasetRef]) -> list[DatasetRef]:
    """Insert datasets with the IDs they have in another repository; returns the new ones.

    A dataset whose ID is already registered with the same type, run and data ID is skipped.
    The dataset types and runs must exist.

    Raises
    ------
    ConflictingDefinitionError
        If an ID is registered with another type, run or data ID, or the run holds another
        dataset (another ID) of the same type and data ID.
    DataIdError
        If a data ID refers to dimension records that do not exist.
    MissingDatasetTypeError, MissingCollectionError, CollectionTypeError
        If a dataset type or run does not exist, or a run is not a RUN collection.
    """
    items = list(refs)
    datasets = registry._datasets
    groups: dict[tuple[str, str], list[DatasetRef]] = {}
    for ref in items:
        groups.setdefault((ref.dataset_type.name, ref.run), []).append(ref)
    plans = []
    for (_, run), group in groups.items():
        type_record = datasets._type_record(group[0].dataset_type)
        run_record = registry._collections.find(run)
        if run_record.type is not CollectionType.RUN:
            raise CollectionTypeError(
                f"cannot import datasets into {run!r}: it is a {run_record.type.name} collection, not a RUN"
            )
        plans.append((type_record, run_record, group))
    dataset = registry._schema.dataset

    def run_imports(conn: sa.Connection) -> list[DatasetRef]:
        present = _check_refs(registry, conn, items)
        new_refs: list[DatasetRef] = []
        for type_record, run_record, group in plans:
            todo = [r for r in group if r.id not in present]
            if not todo:
                continue
            dataset_rows = [
                {"id": r.id, "dataset_type_id": type_record.id, "run_id": run_record.id} for r in todo
            ]
            tag_rows = datasets._rows(type_record, run_record.id, todo)
            try:
                with conn.begin_nested():
                    conn.execute(dataset.insert(), dataset_rows)
                    conn.execute(type_record.tags.insert(), tag_rows)
            except sa.exc.IntegrityError as err:
                raise _diagnose(registry, conn, type_record, run_record, todo, err) from None
            new_refs.extend(todo)
        return new_refs

    return registry._db.retry(run_imports)


def _diagnose(
    registry: Registry,
    conn: sa.Connection,
    type_record: Any,
    run_record: Any,
    refs: list[DatasetRef],
    err: sa.exc.IntegrityError,
) -> Exception:
    name = type_record.dataset_type.name
    dims = type_record.dataset_type.dimensions.required
    if len({r.data_id.values_tuple for r in refs}) != len(refs):
        return ConflictingDefinitionError(f"the input has two {name!r} datasets with one data ID in one run")
    clash = _data_id_clash(conn, type_record, run_record.id, refs)
    if clash:
        return ConflictingDefinitionError(
            f"run {run_record.name!r} already holds other {name!r} datasets (other IDs) with the data IDs "
            f"of imported ones: {clash}; remove them (butler prune-datasets) or import into another "
            "repository"
        )
    rows = [dict(zip(dims, r.data_id.values_tuple, strict=True)) for r in refs]
    checks = [(d, list(registry.universe[d].required)) for d in dims]
    missing = registry._records.find_missing_parents(conn, rows, checks)
    if missing:
        return DataIdError(f"cannot import {name!r} datasets: {missing}; import those records first")
    return ConflictingDefinitionError(
        f"cannot import {name!r} datasets into run {run_record.name!r}: {err.orig}"
    )


def fetch_certifications(
    registry: Registry, collection: str, dataset_types: Iterable[str] | None = None
) -> list[tuple[DatasetRef, Timespan]]:
    """Every certification of a CALIBRATION collection: (dataset, validity), by type then begin.

    Parameters
    ----------
    dataset_types : iterable of `str`, optional
        Only these (calibration) dataset types; default all.

    Raises
    ------
    CollectionTypeError
        If the collection is not a CALIBRATION collection.
    """
    record = registry._collections.find(collection)
    if record.type is not CollectionType.CALIBRATION:
        raise CollectionTypeError(f"collection {collection!r} is {record.type.name}, not CALIBRATION")
    names = None if dataset_types is None else set(dataset_types)
    dataset = registry._schema.dataset
    out: list[tuple[DatasetRef, Timespan]] = []
    with registry._db.query() as conn:
        for dtype in registry.query_dataset_types():
            if not dtype.is_calibration or (names is not None and dtype.name not in names):
                continue
            type_record = registry._types.find(dtype.name)
            cal = type_record.calibs
            assert cal is not None
            dims = dtype.dimensions.required
            stmt = (
                sa.select(
                    cal.c.dataset_id,
                    dataset.c.run_id,
                    cal.c.timespan_begin,
                    cal.c.timespan_end,
                    *(cal.c[d] for d in dims),
                )
                .join(dataset, dataset.c.id == cal.c.dataset_id)
                .where(cal.c.collection_id == record.id, cal.c.dataset_type_id == type_record.id)
                .order_by(cal.c.timespan_begin, *(cal.c[d] for d in dims))
            )
            for dataset_id, run_id, begin, end, *values in conn.execute(stmt):
                coord = DataCoordinate.from_trusted(dtype.dimensions, tuple(values))
                ref = DatasetRef(dataset_id, dtype, coord, registry._collections.by_id(run_id).name)
                out.append((ref, Timespan.from_nsec(begin, end)))
    return out


def import_certifications(
    registry: Registry, collection: str, items: Iterable[tuple[DatasetRef, Timespan]]
) -> int:
    """Certify datasets in a CALIBRATION collection unless the same certification exists.

    Returns the number of certifications added.

    Raises
    ------
    ConflictingDefinitionError
        If another dataset of the same type and data ID is valid during part of an imported
        validity range (as for `Registry.certify`).
    """
    record = registry._collections.find(collection)
    if record.type is not CollectionType.CALIBRATION:
        raise CollectionTypeError(f"collection {collection!r} is {record.type.name}, not CALIBRATION")
    wanted = list(items)
    if not wanted:
        return 0
    by_type: dict[str, list[tuple[DatasetRef, Timespan]]] = {}
    for ref, span in wanted:
        by_type.setdefault(ref.dataset_type.name, []).append((ref, span))

    def run(conn: sa.Connection) -> int:
        added = 0
        for entries in by_type.values():
            type_record = registry._datasets._type_record(entries[0][0].dataset_type)
            cal = type_record.calibs
            if cal is None:
                raise ConflictingDefinitionError(
                    f"dataset type {type_record.dataset_type.name!r} is not a calibration type here"
                )
            have: set[tuple[uuid.UUID, int, int]] = set()
            for chunk in _chunks(list({r.id for r, _ in entries})):
                stmt = sa.select(cal.c.dataset_id, cal.c.timespan_begin, cal.c.timespan_end).where(
                    cal.c.collection_id == record.id, cal.c.dataset_id.in_(chunk)
                )
                have.update((i, b, e) for i, b, e in conn.execute(stmt))
            by_span: dict[tuple[int, int], list[DatasetRef]] = {}
            for ref, span in entries:
                if (ref.id, span.begin_nsec, span.end_nsec) not in have:
                    by_span.setdefault((span.begin_nsec, span.end_nsec), []).append(ref)
            for (begin, end), refs in by_span.items():
                registry._datasets.certify(collection, refs, Timespan.from_nsec(begin, end))
                added += len(refs)
        return added

    return registry._db.retry(run)
