# SPDX-License-Identifier: GPL-3.0-or-later
"""Opaque tables: tables the registry stores for other components (e.g. the datastore's records).

The registry does not interpret their contents; it only creates them in its database (in its
schema/namespace), and lets their owner insert, fetch and delete rows inside registry
transactions, so that e.g. a dataset and its file record are committed together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ._db import GUID, Database
from ._errors import RegistryError
from ._names import MAX_NAME_LENGTH
from ._prepared import PreparedQuery
from ._schema import RegistrySchema

__all__ = ["OpaqueTableStorage"]

_CHUNK = 500


class OpaqueTableStorage:
    """Creates and accesses opaque tables in the registry database."""

    def __init__(self, db: Database, schema: RegistrySchema) -> None:
        self._db = db
        self._schema = schema
        self._tables: dict[str, sa.Table] = {}
        self._prepared: dict[tuple[str, str], PreparedQuery] = {}

    def register(self, name: str, columns: Sequence[sa.Column[Any] | sa.Constraint | sa.Index]) -> sa.Table:
        """Define the table ``name`` and create it if it does not exist (idempotent)."""
        table = self._tables.get(name)
        if table is not None:
            return table
        taken = {t.name for t in self._schema.metadata.tables.values()}
        if not name.isidentifier() or len(name) > MAX_NAME_LENGTH or name in taken:
            raise RegistryError(f"invalid or reserved opaque table name {name!r}")
        table = sa.Table(name, self._schema.metadata, *columns)

        def create(conn: sa.Connection) -> None:
            table.create(conn, checkfirst=True)

        try:
            self._db.retry(create)
        except BaseException:
            self._schema.metadata.remove(table)
            raise
        self._tables[name] = table
        return table

    def dataset_id_column(self, name: str) -> sa.Column[Any]:
        """A primary-key column of dataset IDs whose rows are deleted with their datasets."""
        return sa.Column(
            name, GUID, sa.ForeignKey(self._schema.dataset.c.id, ondelete="CASCADE"), primary_key=True
        )

    def table(self, name: str) -> sa.Table:
        """The registered table ``name``."""
        try:
            return self._tables[name]
        except KeyError:
            raise RegistryError(
                f"opaque table {name!r} is not registered in this process; call register_opaque_table first"
            ) from None

    def insert(self, name: str, rows: Iterable[Mapping[str, Any]], *, skip_existing: bool = False) -> None:
        """Insert rows (in the current transaction, if any).

        With ``skip_existing``, rows whose primary key is already present are left alone
        (``ON CONFLICT DO NOTHING``) instead of raising.
        """
        data = [dict(r) for r in rows]
        if not data:
            return
        table = self.table(name)
        stmt = self._db.insert(table).on_conflict_do_nothing() if skip_existing else table.insert()

        def run(conn: sa.Connection) -> None:
            conn.execute(stmt, data)

        self._db.retry(run)

    def _where(self, table: sa.Table, where: Mapping[str, Any]) -> list[sa.ColumnElement[bool]]:
        clauses: list[sa.ColumnElement[bool]] = []
        for key, value in where.items():
            if key not in table.c:
                raise RegistryError(
                    f"opaque table {table.name!r} has no column {key!r}; columns: {', '.join(table.c.keys())}"
                )
            column = table.c[key]
            if isinstance(value, (list, tuple, set, frozenset)):
                clauses.append(column.in_(list(value)))
            else:
                clauses.append(column == value)
        return clauses

    def fetch(self, name: str, where: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rows whose columns equal the given values (a list/tuple/set value means ``IN``)."""
        table = self.table(name)
        if len(where) == 1:
            ((key, value),) = where.items()
            if key in table.c and not isinstance(value, (list, tuple, set, frozenset)) and value is not None:
                return self._fetch_one_key(table, key, value)
        with self._db.query() as conn:
            result = conn.execute(sa.select(table).where(*self._where(table, where)))
            return [dict(row) for row in result.mappings()]

    def _fetch_one_key(self, table: sa.Table, key: str, value: Any) -> list[dict[str, Any]]:
        """`fetch` by one column's value, with a prepared query (the datastore's per-get lookup)."""
        prepared = self._prepared.get((table.name, key))
        if prepared is None:
            stmt = sa.select(table).where(table.c[key] == sa.bindparam("value"))
            prepared = self._prepared[(table.name, key)] = PreparedQuery(self._db, stmt)
        names = table.columns.keys()
        with self._db.read_cursor() as cursor:
            return [dict(zip(names, row, strict=True)) for row in prepared.all(cursor, {"value": value})]

    def fetch_all(self, name: str) -> Iterable[dict[str, Any]]:
        """All rows of the table."""
        table = self.table(name)
        with self._db.query() as conn:
            return [dict(row) for row in conn.execute(sa.select(table)).mappings()]

    def delete(self, name: str, where: Mapping[str, Any]) -> int:
        """Delete rows matching ``where`` (as for `fetch`); returns the number deleted."""
        table = self.table(name)
        if not where:
            raise RegistryError(f"refusing to delete every row of opaque table {name!r} (no constraint)")
        clauses = self._where(table, where)

        def run(conn: sa.Connection) -> int:
            return int(conn.execute(table.delete().where(*clauses)).rowcount)

        return self._db.retry(run)
