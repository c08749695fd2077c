# SPDX-License-Identifier: GPL-3.0-or-later
"""Collections: RUN, TAGGED, CHAINED and CALIBRATION; chains resolved into search paths.

Collection records (name, id, type) and chain definitions are cached in the process, as Rubin's
registry does; changes made by *this* registry object update the cache at once, and
`CollectionManager.refresh` rereads what other processes changed.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from ._datasets import CollectionType
from ._db import Database
from ._errors import (
    CollectionCycleError,
    CollectionTypeError,
    ConflictingDefinitionError,
    MissingCollectionError,
    RegistryError,
)
from ._names import validate_collection_name
from ._schema import RegistrySchema

__all__ = ["CollectionManager", "CollectionRecord", "CollectionSearch"]

CollectionSearch = str | Sequence[str]
"""One collection name or an ordered sequence of them (chains are expanded in place)."""


@dataclass(frozen=True, slots=True)
class CollectionRecord:
    """A collection's name, database id and type."""

    name: str
    id: int
    type: CollectionType


def _as_names(collections: CollectionSearch) -> list[str]:
    if isinstance(collections, str):
        return [collections]
    names = list(collections)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"collection names must be strings, got {name!r}")
    return names


def compile_pattern(pattern: str | re.Pattern[str] | None) -> re.Pattern[str]:
    """A shell-style glob (``"u/alice/*"``) or a compiled regular expression, as a regex."""
    if pattern is None:
        return re.compile(".*", re.S)
    if isinstance(pattern, re.Pattern):
        return pattern
    return re.compile(fnmatch.translate(pattern))


class CollectionManager:
    """Reads and writes the ``collection`` and ``collection_chain`` tables, with a cache."""

    def __init__(self, db: Database, schema: RegistrySchema) -> None:
        self._db = db
        self._schema = schema
        self._by_name: dict[str, CollectionRecord] = {}
        self._by_id: dict[int, CollectionRecord] = {}
        self._chains: dict[int, tuple[int, ...]] = {}
        self.refresh()

    def refresh(self) -> None:
        """Reread all collections and chains (to see changes made by other processes)."""
        c, ch = self._schema.collection, self._schema.collection_chain
        with self._db.query() as conn:
            rows = conn.execute(sa.select(c.c.collection_id, c.c.name, c.c.type)).all()
            chain_rows = conn.execute(
                sa.select(ch.c.parent_id, ch.c.child_id).order_by(ch.c.parent_id, ch.c.position)
            ).all()
        records = [CollectionRecord(name, cid, CollectionType(ctype)) for cid, name, ctype in rows]
        chains: dict[int, list[int]] = {}
        for parent, child in chain_rows:
            chains.setdefault(parent, []).append(child)
        # Swap in complete dictionaries: another thread reading the cache never sees a partial one.
        self._by_name = {r.name: r for r in records}
        self._by_id = {r.id: r for r in records}
        self._chains = {p: tuple(c) for p, c in chains.items()}

    def _cache(self, record: CollectionRecord) -> None:
        self._by_name[record.name] = record
        self._by_id[record.id] = record

    def register(self, name: str, collection_type: CollectionType, doc: str | None = None) -> bool:
        """Create a collection unless it exists; returns whether it was created.

        Raises
        ------
        InvalidNameError
            If the name is not valid.
        ConflictingDefinitionError
            If it exists with another type.
        """
        validate_collection_name(name)
        collection_type = CollectionType(collection_type)
        table = self._schema.collection

        def run(conn: sa.Connection) -> tuple[bool, CollectionRecord]:
            stmt = self._db.insert(table).values(name=name, type=int(collection_type), doc=doc)
            result = conn.execute(
                stmt.on_conflict_do_nothing(index_elements=["name"]).returning(table.c.collection_id)
            )
            created = result.first() is not None
            row = conn.execute(
                sa.select(table.c.collection_id, table.c.type).where(table.c.name == name)
            ).one()
            record = CollectionRecord(name, row.collection_id, CollectionType(row.type))
            self._cache(record)
            return created, record

        # The record comes back from the transaction, not from the cache, which another thread's
        # refresh may have replaced (without this uncommitted collection) in the meantime.
        created, existing = self._db.retry(run)
        if existing.type is not collection_type:
            raise ConflictingDefinitionError(
                f"collection {name!r} already exists with type {existing.type.name}, "
                f"not {collection_type.name}"
            )
        return created

    def find(self, name: str) -> CollectionRecord:
        """The record of a collection (rereading the database on a cache miss).

        Raises
        ------
        MissingCollectionError
            If there is no such collection; the message lists close matches.
        """
        record = self._by_name.get(name)
        if record is None:
            self.refresh()
            record = self._by_name.get(name)
        if record is None:
            close = difflib.get_close_matches(str(name), list(self._by_name), n=5)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise MissingCollectionError(f"no collection named {name!r}{hint}")
        return record

    def by_id(self, collection_id: int) -> CollectionRecord:
        """The record of the collection with a database id."""
        record = self._by_id.get(collection_id)
        if record is None:
            self.refresh()
            record = self._by_id[collection_id]
        return record

    def set_chain(self, parent: str, children: Iterable[str]) -> None:
        """Define the ordered children of a CHAINED collection; see `Registry.set_collection_chain`."""
        parent_record = self.find(parent)
        if parent_record.type is not CollectionType.CHAINED:
            raise CollectionTypeError(
                f"collection {parent!r} is {parent_record.type.name}, not CHAINED; register it with "
                "CollectionType.CHAINED to give it children"
            )
        child_names = _as_names(list(children))
        if len(set(child_names)) != len(child_names):
            raise ValueError(f"collection chain {parent!r} lists a child twice: {child_names}")
        child_records = [self.find(c) for c in child_names]
        for child in child_records:
            path = self._path_to(child.id, parent_record.id, [child.name])
            if path is not None:
                raise CollectionCycleError(
                    f"cannot put {child.name!r} in chain {parent!r}: it would contain itself "
                    f"({' -> '.join([parent, *path])})"
                )
        chain = self._schema.collection_chain

        def run(conn: sa.Connection) -> None:
            conn.execute(chain.delete().where(chain.c.parent_id == parent_record.id))
            if child_records:
                conn.execute(
                    chain.insert(),
                    [
                        {"parent_id": parent_record.id, "position": i, "child_id": c.id}
                        for i, c in enumerate(child_records)
                    ],
                )

        self._db.retry(run)
        self._chains[parent_record.id] = tuple(c.id for c in child_records)

    def _path_to(self, start: int, target: int, path: list[str]) -> list[str] | None:
        if start == target:
            return path
        for child in self._chains.get(start, ()):
            found = self._path_to(child, target, [*path, self._by_id[child].name])
            if found is not None:
                return found
        return None

    def get_chain(self, parent: str) -> tuple[str, ...]:
        """The ordered children of a CHAINED collection."""
        record = self.find(parent)
        if record.type is not CollectionType.CHAINED:
            raise CollectionTypeError(f"collection {parent!r} is {record.type.name}, not CHAINED")
        return tuple(self._by_id[c].name for c in self._chains.get(record.id, ()))

    def resolve(self, collections: CollectionSearch) -> list[CollectionRecord]:
        """The search path of ``collections``: chains expanded in order, duplicates dropped.

        Raises
        ------
        MissingCollectionError
            If a collection does not exist.
        ValueError
            If no collection is given.
        """
        names = _as_names(collections)
        if not names:
            raise ValueError("no collections given to search; pass collections=[...]")
        out: list[CollectionRecord] = []
        seen: set[int] = set()

        def visit(record: CollectionRecord) -> None:
            if record.type is CollectionType.CHAINED:
                for child in self._chains.get(record.id, ()):
                    visit(self._by_id[child])
            elif record.id not in seen:
                seen.add(record.id)
                out.append(record)

        for name in names:
            visit(self.find(name))
        return out

    def query(
        self,
        pattern: str | re.Pattern[str] | None,
        types: Iterable[CollectionType] | None,
        flatten_chains: bool,
    ) -> list[str]:
        """Names of matching collections; see `Registry.query_collections`."""
        self.refresh()
        regex = compile_pattern(pattern)
        wanted = set(types) if types is not None else set(CollectionType)
        matched = [r for r in self._by_name.values() if regex.fullmatch(r.name)]
        out: list[str] = []
        seen: set[str] = set()
        for record in sorted(matched, key=lambda r: r.name):
            records = [record]
            if flatten_chains and record.type is CollectionType.CHAINED:
                records = [record, *self.resolve(record.name)]
            for r in records:
                if r.type in wanted and r.name not in seen:
                    seen.add(r.name)
                    out.append(r.name)
        return out

    def remove(self, name: str) -> None:
        """Remove a collection; see `Registry.remove_collection`."""
        record = self.find(name)
        chain, dataset = self._schema.collection_chain, self._schema.dataset
        c = self._schema.collection

        def run(conn: sa.Connection) -> None:
            parents = (
                conn.execute(
                    sa.select(c.c.name)
                    .join(chain, chain.c.parent_id == c.c.collection_id)
                    .where(chain.c.child_id == record.id)
                )
                .scalars()
                .all()
            )
            if parents:
                raise RegistryError(
                    f"collection {name!r} is a child of chained collection(s) {sorted(parents)}; "
                    "remove it from those chains first"
                )
            if record.type is CollectionType.RUN:
                count = conn.execute(
                    sa.select(sa.func.count()).select_from(dataset).where(dataset.c.run_id == record.id)
                ).scalar_one()
                if count:
                    raise RegistryError(
                        f"RUN collection {name!r} still holds {count} dataset(s); remove them first "
                        "(Registry.remove_datasets, or `butler remove-runs` to delete the files too)"
                    )
            conn.execute(c.delete().where(c.c.collection_id == record.id))

        self._db.retry(run)
        self._by_name.pop(name, None)
        self._by_id.pop(record.id, None)
        self._chains.pop(record.id, None)
