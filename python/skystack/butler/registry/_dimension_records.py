# SPDX-License-Identifier: GPL-3.0-or-later
"""Storage of dimension records: insert, sync, fetch, and data-ID expansion."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..dimensions import DataCoordinate, DataIdError, DimensionElement, DimensionRecord, DimensionUniverse
from ..timespan import Timespan
from ._db import Database
from ._errors import ConflictingDefinitionError
from ._schema import RegistrySchema

if TYPE_CHECKING:
    from lsst import sphgeom

__all__ = ["DimensionRecordStorage"]

_NUMERIC_OK: dict[type, tuple[type, ...]] = {int: (int,), float: (int, float), str: (str,), bool: (bool,)}


def _coerce(element: DimensionElement, name: str, value: Any, dtype: type) -> Any:
    if value is None:
        return None
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    ok = not (isinstance(value, bool) and dtype is not bool) and isinstance(value, _NUMERIC_OK[dtype])
    if not ok:
        raise TypeError(
            f"{element.name} record field {name!r} must be {dtype.__name__}, got {value!r} "
            f"({type(value).__name__})"
        )
    return dtype(value)


class DimensionRecordStorage:
    """Reads and writes the tables of the dimension elements of one registry.

    Parameters
    ----------
    db : `Database`
    schema : `RegistrySchema`
    """

    def __init__(self, db: Database, schema: RegistrySchema) -> None:
        self._db = db
        self._schema = schema
        self.universe: DimensionUniverse = schema.universe
        self._pixelization: sphgeom.HealpixPixelization | None = None  # made on first use (imports numpy)

    # -- conversion -----------------------------------------------------------------------------

    def _element(self, element: str | DimensionElement) -> DimensionElement:
        name = element.name if isinstance(element, DimensionElement) else element
        result = self.universe[name]
        if not result.is_stored:
            raise DataIdError(
                f"dimension {result.name!r} has no records (its values are free); nothing to insert or fetch"
            )
        return result

    def _to_row(
        self, element: DimensionElement, record: Mapping[str, Any] | DimensionRecord
    ) -> dict[str, Any]:
        values = record.to_dict() if isinstance(record, DimensionRecord) else dict(record)
        fields = element.record_fields
        unknown = [k for k in values if k not in fields]
        if unknown:
            raise ValueError(
                f"{element.name} record has unknown field(s) {', '.join(map(repr, unknown))}; "
                f"fields are: {', '.join(fields)}"
            )
        row: dict[str, Any] = {}
        u = self.universe
        for d in (*element.required, *element.implied):
            column = element.column_name(d)
            if values.get(column) is None:
                raise ValueError(
                    f"{element.name} record is missing {column!r} (value of dimension {d!r}); "
                    "required fields are: "
                    + ", ".join(element.column_name(x) for x in element.required + element.implied)
                )
            row[column] = _coerce(element, column, values[column], u[d].key_type)
        for name, dtype in element.fields.items():
            row[name] = _coerce(element, name, values.get(name), dtype)
        if element.temporal:
            span = values.get("timespan")
            if span is not None and not isinstance(span, Timespan):
                raise TypeError(f"{element.name} record field 'timespan' must be a Timespan, got {span!r}")
            row["timespan_begin"] = None if span is None else span.begin_nsec
            row["timespan_end"] = None if span is None else span.end_nsec
        if element.spatial:
            region = values.get("region")
            from lsst import sphgeom

            if region is not None and not isinstance(region, sphgeom.Region):
                raise TypeError(
                    f"{element.name} record field 'region' must be an lsst.sphgeom Region, got {region!r}"
                )
            row["region"] = None if region is None else bytes(region.encode())
        return row

    def _from_row(self, element: DimensionElement, row: Mapping[str, Any]) -> DimensionRecord:
        values = {k: row[k] for k in element.record_fields if k not in ("timespan", "region")}
        if element.temporal:
            begin, end = row["timespan_begin"], row["timespan_end"]
            values["timespan"] = None if begin is None else Timespan.from_nsec(begin, end)
        if element.spatial:
            from lsst import sphgeom

            blob = row["region"]
            values["region"] = None if blob is None else sphgeom.Region.decode(bytes(blob))
        return DimensionRecord(element, values)

    def _key_names(self, element: DimensionElement) -> list[str]:
        return [element.column_name(d) for d in element.required]

    def _overlap_rows(self, element: DimensionElement, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not element.spatial:
            return []
        from lsst import sphgeom

        if self._pixelization is None:
            self._pixelization = sphgeom.HealpixPixelization(self.universe.common_skypix_level)
        keys = self._key_names(element)
        pixel_column = self.universe.common_skypix.name
        out: list[dict[str, Any]] = []
        for row in rows:
            if row["region"] is None:
                continue
            key = {k: row[k] for k in keys}
            region = sphgeom.Region.decode(row["region"])
            for begin, end in self._pixelization.envelope(region).ranges():
                out.extend({**key, pixel_column: p} for p in range(begin, end))
        return out

    # -- writes ---------------------------------------------------------------------------------

    def insert(
        self,
        element: str | DimensionElement,
        records: Iterable[Mapping[str, Any] | DimensionRecord],
        *,
        replace: bool = False,
        skip_existing: bool = False,
    ) -> int:
        """Insert records; see `Registry.insert_dimension_records`. Returns the number written."""
        elem = self._element(element)
        if replace and skip_existing:
            raise ValueError(
                "insert_dimension_records: give at most one of replace=True and skip_existing=True"
            )
        rows = [self._to_row(elem, r) for r in records]
        if not rows:
            return 0
        table = self._schema.elements[elem.name]
        keys = self._key_names(elem)
        overlap = self._schema.overlaps.get(elem.name)

        def run(conn: sa.Connection) -> int:
            todo = rows
            if skip_existing:
                existing = self._existing_keys(conn, elem, rows)
                todo = [r for r in rows if tuple(r[k] for k in keys) not in existing]
            if not todo:
                return 0
            try:
                with conn.begin_nested():
                    if replace:
                        stmt = self._db.insert(table)
                        others = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
                        stmt = (
                            stmt.on_conflict_do_update(index_elements=keys, set_=others)
                            if others
                            else stmt.on_conflict_do_nothing(index_elements=keys)
                        )
                        conn.execute(stmt, todo)
                        if overlap is not None:
                            key_cols = sa.tuple_(*(overlap.c[k] for k in keys))
                            wanted = list({tuple(r[k] for k in keys) for r in todo})
                            for start in range(0, len(wanted), 500):
                                conn.execute(
                                    overlap.delete().where(key_cols.in_(wanted[start : start + 500]))
                                )
                    else:
                        conn.execute(table.insert(), todo)
                    if overlap is not None:
                        pix = self._overlap_rows(elem, todo)
                        if pix:
                            conn.execute(overlap.insert(), pix)
            except sa.exc.IntegrityError as err:
                raise self._diagnose(conn, elem, todo, err) from None
            return len(todo)

        return self._db.retry(run)

    def _existing_keys(
        self, conn: sa.Connection, element: DimensionElement, rows: list[dict[str, Any]]
    ) -> set[tuple[Any, ...]]:
        table = self._schema.elements[element.name]
        keys = self._key_names(element)
        wanted = list({tuple(r[k] for k in keys) for r in rows})
        found: set[tuple[Any, ...]] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            sel = sa.select(*(table.c[k] for k in keys)).where(
                sa.tuple_(*(table.c[k] for k in keys)).in_(chunk)
            )
            found.update(tuple(r) for r in conn.execute(sel))
        return found

    def _diagnose(
        self, conn: sa.Connection, element: DimensionElement, rows: list[dict[str, Any]], err: Exception
    ) -> Exception:
        keys = self._key_names(element)
        existing = self._existing_keys(conn, element, rows)
        if existing:
            shown = sorted(existing)[:5]
            listing = "; ".join(str(dict(zip(keys, k, strict=True))) for k in shown)
            return ConflictingDefinitionError(
                f"{len(existing)} {element.name} record(s) already exist, e.g. {listing}; pass "
                "replace=True to overwrite them or skip_existing=True to keep them"
            )
        seen: set[tuple[Any, ...]] = set()
        keys = self._key_names(element)
        for row in rows:
            key = tuple(row[k] for k in keys)
            if key in seen:
                return ConflictingDefinitionError(
                    f"{element.name} record {dict(zip(keys, key, strict=True))} appears twice in the input"
                )
            seen.add(key)
        checks = [
            (d, [element.column_name(x) for x in self.universe[d].required])
            for d in (*element.required, *element.implied)
            if d != element.name
        ]
        missing = self.find_missing_parents(conn, rows, checks)
        if missing:
            return DataIdError(f"cannot insert {element.name} records: {missing}; insert those records first")
        return ConflictingDefinitionError(f"cannot insert {element.name} records: {err}")

    def find_missing_parents(
        self, conn: sa.Connection, rows: list[dict[str, Any]], checks: list[tuple[str, list[str]]]
    ) -> str:
        """Describe the dimension records that ``rows`` refer to but that do not exist ('' if none).

        ``checks`` pairs each referenced dimension with the row keys holding its required values.
        """
        problems = []
        for d, local in checks:
            dim = self.universe[d]
            if not dim.is_stored:
                continue
            wanted = list({tuple(r[c] for c in local) for r in rows})
            table = self._schema.elements[d]
            target = [table.c[dim.column_name(x)] for x in dim.required]
            found: set[tuple[Any, ...]] = set()
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(
                    tuple(r) for r in conn.execute(sa.select(*target).where(sa.tuple_(*target).in_(chunk)))
                )
            absent = sorted(set(wanted) - found)
            if absent:
                shown = ", ".join(str(dict(zip(dim.required, k, strict=True))) for k in absent[:5])
                more = f" (and {len(absent) - 5} more)" if len(absent) > 5 else ""
                problems.append(f"no {d} record for {shown}{more}")
        return "; ".join(problems)

    def sync(
        self, element: str | DimensionElement, record: Mapping[str, Any] | DimensionRecord, *, update: bool
    ) -> bool:
        """Insert a record unless an identical one exists; see `Registry.sync_dimension_record`."""
        elem = self._element(element)
        row = self._to_row(elem, record)
        table = self._schema.elements[elem.name]
        keys = self._key_names(elem)

        def run(conn: sa.Connection) -> bool:
            where = [table.c[k] == row[k] for k in keys]
            existing = conn.execute(sa.select(table).where(*where)).mappings().first()
            if existing is None:
                self.insert(elem, [record])
                return True
            diffs = {k: (existing[k], v) for k, v in row.items() if existing[k] != v}
            if not diffs:
                return False
            if not update:
                shown = ", ".join(f"{k}: stored {old!r} vs new {new!r}" for k, (old, new) in diffs.items())
                raise ConflictingDefinitionError(
                    f"{elem.name} record { {k: row[k] for k in keys} } differs from the stored one "
                    f"({shown}); "
                    "pass update=True to replace it"
                )
            self.insert(elem, [record], replace=True)
            return True

        return self._db.retry(run)

    # -- reads ----------------------------------------------------------------------------------

    def fetch(self, element: str | DimensionElement, constraints: Mapping[str, Any]) -> list[DimensionRecord]:
        """Records of ``element`` matching dimension values; see `Registry.fetch_dimension_records`."""
        elem = self._element(element)
        table = self._schema.elements[elem.name]
        allowed = (*elem.required, *elem.implied)
        where = []
        for key, value in constraints.items():
            if key not in allowed:
                raise DataIdError(
                    f"cannot constrain {elem.name} records by {key!r}; use dimensions {', '.join(allowed)}"
                )
            where.append(table.c[elem.column_name(key)] == value)
        order = [table.c[k] for k in self._key_names(elem)]
        with self._db.query() as conn:
            rows = conn.execute(sa.select(table).where(*where).order_by(*order)).mappings().all()
        return [self._from_row(elem, dict(r)) for r in rows]

    def expand(self, data_id: DataCoordinate, given: Mapping[str, Any]) -> DataCoordinate:
        """Add implied values and records to a standardized data ID; see `Registry.expand_data_id`."""
        if data_id.has_records:
            return data_id
        group = data_id.dimensions
        u = self.universe
        known: dict[str, Any] = dict(data_id.full_items())
        for d in group.implied:
            if d in given and d not in known:
                known[d] = DataCoordinate.check_value(u, d, given[d])
        records: dict[str, DimensionRecord | None] = {}
        pending = list(group.elements)
        with self._db.query() as conn:
            while pending:
                progress = False
                for name in list(pending):
                    element = u[name]
                    if not set(element.required) <= known.keys():
                        continue
                    pending.remove(name)
                    progress = True
                    if not element.is_stored:
                        records[name] = None
                        continue
                    table = self._schema.elements[name]
                    where = [table.c[element.column_name(d)] == known[d] for d in element.required]
                    row = conn.execute(sa.select(table).where(*where)).mappings().first()
                    if row is None:
                        if not element.is_dimension:
                            records[name] = None
                            continue
                        key = {d: known[d] for d in element.required}
                        raise DataIdError(
                            f"no {name} record for {key} (data ID {dict(given)}); insert it with "
                            "insert_dimension_records or fix the data ID"
                        )
                    record = self._from_row(element, dict(row))
                    records[name] = record
                    for d in element.implied:
                        value = row[d]
                        if d in known and known[d] != value:
                            raise DataIdError(
                                f"data ID gives {d}={known[d]!r} but the {name} record "
                                f"{ {x: known[x] for x in element.required} } implies {d}={value!r}"
                            )
                        known[d] = value
                if not progress:
                    raise DataIdError(
                        f"cannot expand data ID {dict(given)}: values for {', '.join(pending)} are unknown"
                    )
        implied = tuple(known[d] for d in group.implied)
        return DataCoordinate.from_trusted(group, data_id.values_tuple, implied, records)
