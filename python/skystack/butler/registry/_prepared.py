# SPDX-License-Identifier: GPL-3.0-or-later
"""Statements compiled once and run on the driver's cursor: the registry's hot single-row reads.

Executing even a cached SQLAlchemy statement costs ~60 µs (cache-key generation, parameter
processing, an execution context and a result object), twenty times what SQLite needs to find a
row by its index. `PreparedQuery` compiles a SELECT whose values are all ``bindparam``s once per
database, then runs the SQL text on the DBAPI cursor of the connection it is given, converting
only what the registry's column types need: UUIDs to and from 16-byte blobs on SQLite (`GUID`),
0/1 to booleans. It is used where a Butler ``get`` spends its time: finding a dataset and its
file record. Everything else goes through SQLAlchemy as usual.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ._db import GUID, Database, uuid_from_bytes

__all__ = ["PreparedInsert", "PreparedQuery"]


class PreparedQuery:
    """A SELECT compiled once for one database; run with `all` on a connection from it.

    Parameters
    ----------
    db : `Database`
        The database whose dialect compiles the statement.
    stmt : `sqlalchemy.Select`
        The query; every value in it is a ``sqlalchemy.bindparam`` with a unique key (no
        ``IN`` lists: they would be rendered for one length).
    """

    def __init__(self, db: Database, stmt: sa.Select[Any]) -> None:
        compiled = stmt.compile(dialect=db.engine.dialect)
        self.sql = compiled.string
        self._sqlite = db.is_sqlite
        self._names: list[str] | None = list(compiled.positiontup or ()) if compiled.positional else None
        self._params = {name: bind.type for name, bind in compiled.binds.items()}
        self._converters: list[Callable[[Any], Any] | None] = []
        for column in stmt.selected_columns:
            converter: Callable[[Any], Any] | None = None
            if self._sqlite:
                if isinstance(column.type, GUID):
                    converter = _uuid
                elif isinstance(column.type, sa.Boolean):
                    converter = _bool
            self._converters.append(converter)
        self._convert = any(c is not None for c in self._converters)

    def _bind(self, values: Mapping[str, Any]) -> Any:
        if self._names is None:  # PostgreSQL (psycopg) takes UUIDs and named parameters as they are
            return dict(values)
        return tuple(_to_sqlite(values[name]) for name in self._names)

    def all(self, cursor: Any, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of the query with these parameter values, as tuples.

        ``cursor`` is a driver cursor of the database (`Database.read_cursor`).
        """
        cursor.execute(self.sql, self._bind(values))
        rows = cursor.fetchall()
        if not self._convert or not rows:
            return [tuple(r) for r in rows] if not self._sqlite else rows
        converters = self._converters
        return [
            tuple(v if c is None or v is None else c(v) for c, v in zip(converters, row, strict=True))
            for row in rows
        ]


class PreparedInsert:
    """An INSERT of fixed columns compiled once; `run` executes it for many rows on the driver cursor.

    Parameters
    ----------
    db : `Database`
    table : `sqlalchemy.Table`
    columns : sequence of `str`
        The columns every row gives.
    conflict_keys : sequence of `str`, optional
        Make it ``INSERT ... ON CONFLICT (conflict_keys) DO NOTHING``.

    Notes
    -----
    Driver errors are raised as the SQLAlchemy exceptions SQLAlchemy would raise
    (`sqlalchemy.exc.IntegrityError` ...), so callers handle them in one way.
    """

    def __init__(
        self, db: Database, table: sa.Table, columns: Sequence[str], conflict_keys: Sequence[str] = ()
    ) -> None:
        stmt: Any = db.insert(table) if conflict_keys else table.insert()
        stmt = stmt.values({c: sa.bindparam(c) for c in columns})
        if conflict_keys:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict_keys))
        compiled = stmt.compile(dialect=db.engine.dialect)
        self.sql = compiled.string
        self._names: list[str] | None = list(compiled.positiontup or ()) if compiled.positional else None
        self._dbapi = db.engine.dialect.loaded_dbapi

    def run(self, conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (mappings with the columns) in the transaction of ``conn``."""
        names = self._names
        params: Any = (
            [dict(r) for r in rows]
            if names is None
            else [tuple(_to_sqlite(r[n]) for n in names) for r in rows]
        )
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(self.sql, params)
        except self._dbapi.Error as err:
            raise sa.exc.DBAPIError.instance(self.sql, params, err, self._dbapi.Error) from None
        finally:
            cursor.close()


def _to_sqlite(value: Any) -> Any:
    return value.bytes if isinstance(value, uuid.UUID) else value


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid_from_bytes(value)


def _bool(value: Any) -> bool:
    return bool(value)
