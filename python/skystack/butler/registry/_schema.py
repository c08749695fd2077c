# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry's tables (SQLAlchemy Core).

Static tables
    ``meta`` (schema and universe versions, the universe YAML), ``collection``,
    ``collection_chain``, ``dataset_type``, ``dataset``.
Dimension tables
    One per stored element, keyed by its required dimensions, with implied-dimension columns,
    metadata columns, ``timespan_begin``/``timespan_end`` (int64 TAI ns; unbounded ends stored
    as the int64 extremes; both NULL when a record has no timespan) and ``region`` (sphgeom
    ``Region.encode()`` bytes). Each spatial element has an ``<element>_healpix<level>_overlap``
    table listing the common-level HEALPix pixels its region's envelope covers.
Dataset tables per dimension group
    ``dataset_tags_<dims>``: membership of datasets in RUN and TAGGED collections with their
    data-ID columns, unique on (dataset_type_id, collection_id, data ID) so that lookups and
    find-first searches are indexed joins. ``dataset_calibs_<dims>``: certifications in
    CALIBRATION collections with their validity timespans.

Dataset IDs are UUIDs stored natively on PostgreSQL and as 16 raw bytes on SQLite (`GUID`).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from ..dimensions import DimensionElement, DimensionGroup, DimensionUniverse
from ._db import GUID

__all__ = ["SCHEMA_VERSION", "RegistrySchema"]

SCHEMA_VERSION = 1
"""Version of the registry schema written by this code; bump on any incompatible change."""

_FIELD_SQL: dict[type, type[sa.types.TypeEngine]] = {
    int: sa.BigInteger,
    float: sa.Float,
    str: sa.Text,
    bool: sa.Boolean,
}


def _key_column_type(element: DimensionElement) -> sa.types.TypeEngine:
    assert element.key is not None
    return sa.BigInteger() if element.key.dtype is int else sa.String(element.key.length)


def group_table_suffix(group: DimensionGroup) -> str:
    """The suffix naming the dataset tables of a dimension group (short, stable, identifier-safe)."""
    text = "_".join(group.required) or "empty"
    if len(text) > 40:
        text = text[:30] + "_" + hashlib.sha1(text.encode()).hexdigest()[:8]
    return text


class RegistrySchema:
    """All table definitions of one registry, in one `sqlalchemy.MetaData`.

    Parameters
    ----------
    universe : `DimensionUniverse`
    namespace : `str`, optional
        Database schema (PostgreSQL) that holds the tables.
    """

    def __init__(self, universe: DimensionUniverse, namespace: str | None = None) -> None:
        self.universe = universe
        self.metadata = sa.MetaData(schema=namespace)
        self.namespace = namespace
        md = self.metadata
        self.meta = sa.Table(
            "meta",
            md,
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
        self.collection = sa.Table(
            "collection",
            md,
            sa.Column("collection_id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(255), nullable=False, unique=True),
            sa.Column("type", sa.SmallInteger, nullable=False),
            sa.Column("doc", sa.Text, nullable=True),
        )
        self.collection_chain = sa.Table(
            "collection_chain",
            md,
            sa.Column(
                "parent_id",
                sa.Integer,
                sa.ForeignKey(self.collection.c.collection_id, ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column("position", sa.Integer, primary_key=True),
            sa.Column("child_id", sa.Integer, sa.ForeignKey(self.collection.c.collection_id), nullable=False),
            sa.Index("collection_chain_child", "child_id"),
        )
        self.dataset_type = sa.Table(
            "dataset_type",
            md,
            sa.Column("dataset_type_id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("name", sa.String(255), nullable=False, unique=True),
            sa.Column("storage_class", sa.String(255), nullable=False),
            sa.Column("dimensions", sa.Text, nullable=False),
            sa.Column("is_calibration", sa.Boolean, nullable=False),
            sa.Column("tag_table", sa.String(64), nullable=False),
            sa.Column("calib_table", sa.String(64), nullable=True),
        )
        self.dataset = sa.Table(
            "dataset",
            md,
            sa.Column("id", GUID, primary_key=True),
            sa.Column(
                "dataset_type_id",
                sa.Integer,
                sa.ForeignKey(self.dataset_type.c.dataset_type_id),
                nullable=False,
            ),
            sa.Column("run_id", sa.Integer, sa.ForeignKey(self.collection.c.collection_id), nullable=False),
            sa.Column(
                "ingest_date", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
            ),
            sa.Index("dataset_run", "run_id"),
        )
        self.elements: dict[str, sa.Table] = {}
        self.overlaps: dict[str, sa.Table] = {}
        for element in universe.elements:
            if element.is_stored:
                self.elements[element.name] = self._make_element_table(element)
                if element.spatial:
                    self.overlaps[element.name] = self._make_overlap_table(element)
        self._tags: dict[DimensionGroup, sa.Table] = {}
        self._calibs: dict[DimensionGroup, sa.Table] = {}

    @property
    def static_tables(self) -> list[sa.Table]:
        """Tables created with the registry (all but the per-dimension-group dataset tables)."""
        return [
            self.meta,
            self.collection,
            self.collection_chain,
            self.dataset_type,
            self.dataset,
            *self.elements.values(),
            *self.overlaps.values(),
        ]

    def _dimension_columns(
        self, group_dims: tuple[str, ...], owner: DimensionElement | None, nullable: bool = False
    ) -> tuple[list[sa.Column], list[sa.ForeignKeyConstraint]]:
        """Columns for dimension values, with foreign keys to the stored dimensions' tables."""
        u = self.universe
        columns = []
        for d in group_dims:
            name = owner.column_name(d) if owner is not None else d
            columns.append(sa.Column(name, _key_column_type(u[d]), nullable=nullable))
        fks = []
        present = set(group_dims)
        for d in group_dims:
            dim = u[d]
            if (
                not dim.is_stored
                or (owner is not None and d == owner.name)
                or not set(dim.required) <= present
            ):
                continue
            local = [owner.column_name(x) if owner is not None else x for x in dim.required]
            target = self.elements[d]
            fks.append(sa.ForeignKeyConstraint(local, [target.c[dim.column_name(x)] for x in dim.required]))
        return columns, fks

    def _make_element_table(self, element: DimensionElement) -> sa.Table:
        key_cols, fks = self._dimension_columns(element.required, element)
        implied_cols = [
            sa.Column(d, _key_column_type(self.universe[d]), nullable=False) for d in element.implied
        ]
        for d in element.implied:
            dim = self.universe[d]
            if dim.is_stored and set(dim.required) - {d} <= set(element.required):
                local = [element.column_name(x) if x != d else d for x in dim.required]
                fks.append(
                    sa.ForeignKeyConstraint(
                        local, [self.elements[d].c[dim.column_name(x)] for x in dim.required]
                    )
                )
        extra: list[sa.Column] = [
            sa.Column(name, _FIELD_SQL[dtype](), nullable=True) for name, dtype in element.fields.items()
        ]
        if element.temporal:
            extra.append(sa.Column("timespan_begin", sa.BigInteger, nullable=True))
            extra.append(sa.Column("timespan_end", sa.BigInteger, nullable=True))
        if element.spatial:
            extra.append(sa.Column("region", sa.LargeBinary, nullable=True))
        return sa.Table(
            element.name,
            self.metadata,
            *key_cols,
            *implied_cols,
            *extra,
            sa.PrimaryKeyConstraint(*(c.name for c in key_cols)),
            *fks,
        )

    def _make_overlap_table(self, element: DimensionElement) -> sa.Table:
        skypix = self.universe.common_skypix.name
        key_names = [element.column_name(d) for d in element.required]
        parent = self.elements[element.name]
        return sa.Table(
            f"{element.name}_{skypix}_overlap",
            self.metadata,
            *[sa.Column(n, parent.c[n].type, nullable=False) for n in key_names],
            sa.Column(skypix, sa.BigInteger, nullable=False),
            sa.PrimaryKeyConstraint(*key_names, skypix),
            sa.ForeignKeyConstraint(key_names, [parent.c[n] for n in key_names], ondelete="CASCADE"),
            sa.Index(f"{element.name}_{skypix}_overlap_pixel", skypix),
        )

    def _membership_columns(self) -> list[sa.Column]:
        """The dataset, dataset-type and collection columns shared by the tag and calib tables."""
        return [
            sa.Column(
                "dataset_id", GUID, sa.ForeignKey(self.dataset.c.id, ondelete="CASCADE"), nullable=False
            ),
            sa.Column(
                "dataset_type_id",
                sa.Integer,
                sa.ForeignKey(self.dataset_type.c.dataset_type_id),
                nullable=False,
            ),
            sa.Column(
                "collection_id",
                sa.Integer,
                sa.ForeignKey(self.collection.c.collection_id, ondelete="CASCADE"),
                nullable=False,
            ),
        ]

    def tag_table(self, group: DimensionGroup) -> sa.Table:
        """The ``dataset_tags_<dims>`` table definition of a dimension group (not created here)."""
        table = self._tags.get(group)
        if table is None:
            suffix = group_table_suffix(group)
            cols, fks = self._dimension_columns(group.required, None)
            table = sa.Table(
                f"dataset_tags_{suffix}",
                self.metadata,
                *self._membership_columns(),
                *cols,
                sa.PrimaryKeyConstraint("dataset_id", "collection_id"),
                sa.UniqueConstraint(
                    "dataset_type_id", "collection_id", *group.required, name=f"dataset_tags_{suffix}_unique"
                ),
                *fks,
            )
            self._tags[group] = table
        return table

    def calib_table(self, group: DimensionGroup) -> sa.Table:
        """The ``dataset_calibs_<dims>`` table definition of a dimension group (not created here)."""
        table = self._calibs.get(group)
        if table is None:
            suffix = group_table_suffix(group)
            cols, fks = self._dimension_columns(group.required, None)
            table = sa.Table(
                f"dataset_calibs_{suffix}",
                self.metadata,
                sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                *self._membership_columns(),
                *cols,
                sa.Column("timespan_begin", sa.BigInteger, nullable=False),
                sa.Column("timespan_end", sa.BigInteger, nullable=False),
                sa.Index(
                    f"dataset_calibs_{suffix}_lookup", "dataset_type_id", "collection_id", *group.required
                ),
                *fks,
            )
            self._calibs[group] = table
        return table
