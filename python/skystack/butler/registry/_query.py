# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry queries with a ``where`` expression: data IDs, dimension records and datasets.

A query starts from a *base* (the tables of the wanted dimensions, or a dataset tag table) whose
columns give the values of some dimensions. Identifiers of the user's expression are resolved
against it by `QueryResolver`, which joins dimension-element tables on demand: ``visit.day_obs``
joins the ``visit`` table on the query's instrument and visit columns; ``band`` follows the
implied chain visit → physical_filter → band. The expression is translated into SQLAlchemy
constructs by `skystack.butler.queries.expression.to_sqlalchemy` (every user value a bound
parameter). Spatial constraints are applied in two steps: an SQL pre-filter on the HEALPix
pixels of each region's envelope (``<element>_healpix<level>_overlap`` tables), then an exact
sphgeom overlap test in Python on the rows that pass, for constraints that every row must meet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from ..dimensions import DataCoordinate, DataIdError, DimensionElement, DimensionGroup, DimensionUniverse
from ..queries.expression import (
    IdentifierKind,
    QueryTypeError,
    UnknownIdentifierError,
    parse_expression,
    spatial_constraints,
    to_sqlalchemy,
)
from ._schema import RegistrySchema

__all__ = ["QueryResolver", "Restriction", "base_for_dimensions", "build_restriction", "exact_rows"]

# Envelopes are pre-filtered with at most this many HEALPix pixel ranges (merged beyond).
_MAX_RANGES = 64


class QueryResolver:
    """Resolve expression identifiers to columns, joining element tables as they are needed.

    Parameters
    ----------
    schema : `RegistrySchema`
        The registry's tables.
    base : mapping [`str`, `sqlalchemy.ColumnElement`]
        Columns of the query's base holding dimension values, by dimension name.
    """

    def __init__(
        self,
        schema: RegistrySchema,
        base: Mapping[str, sa.ColumnElement[Any]],
        tables: Mapping[str, Any] | None = None,
    ) -> None:
        self._schema = schema
        self._universe: DimensionUniverse = schema.universe
        self._dims: dict[str, sa.ColumnElement[Any]] = dict(base)
        self._base_dims = frozenset(base)
        self._tables = dict(tables or {})  # element tables already in the base (no join needed)
        self._joins: dict[str, tuple[Any, sa.ColumnElement[bool]]] = {}

    # -- joins -----------------------------------------------------------------------------------
    def dimension_column(self, name: str, _stack: tuple[str, ...] = ()) -> sa.ColumnElement[Any] | None:
        """The column holding dimension ``name``'s value, joining implying elements if needed."""
        column = self._dims.get(name)
        if column is not None or f"dimension:{name}" in _stack:
            return column
        for element in self._universe.elements:
            if name in element.implied and element.is_stored:
                table = self.element_table(element.name, (*_stack, f"dimension:{name}"))
                if table is not None:
                    column = table.c[name]
                    self._dims[name] = column
                    return column
        return None

    def element_table(self, name: str, _stack: tuple[str, ...] = ()) -> Any | None:
        """An alias of element ``name``'s table joined to the query, or None if not joinable."""
        if name in self._tables:
            return self._tables[name]
        if name in self._joins:
            return self._joins[name][0]
        element = self._universe[name]
        if not element.is_stored or f"element:{name}" in _stack:
            return None
        keys = []
        for d in element.required:
            column = self.dimension_column(d, (*_stack, f"element:{name}"))
            if column is None:
                return None
            keys.append((element.column_name(d), column))
        alias = self._schema.elements[name].alias(f"q_{name}")
        self._joins[name] = (alias, sa.and_(*(alias.c[c] == col for c, col in keys)))
        return alias

    def apply_joins(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        """``stmt`` joined to every element table the resolution needed, in dependency order."""
        for alias, onclause in self._joins.values():
            stmt = stmt.join(alias, onclause)
        return stmt

    # -- ColumnResolver --------------------------------------------------------------------------
    def _valid_names(self) -> list[str]:
        names = [d for d in self._universe.dimension_names if self.dimension_column(d) is not None]
        return names + [f"{e.name}.<field>" for e in self._universe.elements if e.is_stored]

    def _split(self, name: str) -> tuple[DimensionElement, str]:
        element_name, _, field_name = name.partition(".")
        if element_name not in self._universe:
            raise UnknownIdentifierError(name, self._valid_names())
        return self._universe[element_name], field_name

    def _joined(self, element: DimensionElement, name: str) -> Any:
        table = self.element_table(element.name)
        if table is None:
            have = ", ".join(sorted(self._base_dims)) or "(none)"
            raise UnknownIdentifierError(
                name,
                self._valid_names(),
                message=(
                    f"{name!r} needs the dimensions {', '.join(element.required)} of {element.name}, "
                    f"but this query has only {have}"
                ),
            )
        return table

    def identifier_kind(self, name: str) -> IdentifierKind:
        if "." not in name:
            if name in self._universe.dimension_names:
                return IdentifierKind.SCALAR
            raise UnknownIdentifierError(name, self._valid_names())
        element, field_name = self._split(name)
        if field_name == "timespan" and element.temporal:
            return IdentifierKind.TIMESPAN
        if field_name == "region" and element.spatial:
            return IdentifierKind.REGION
        return IdentifierKind.SCALAR

    def resolve_column(self, name: str) -> sa.ColumnElement[Any]:
        if "." not in name:
            column = self.dimension_column(name)
            if column is None:
                raise UnknownIdentifierError(name, self._valid_names())
            return column
        element, field_name = self._split(name)
        table = self._joined(element, name)
        if element.key is not None and field_name == element.key.name:
            return table.c[element.key.name]
        if field_name in element.fields:
            return table.c[field_name]
        if field_name in element.required or field_name in element.implied:
            return table.c[element.column_name(field_name)]
        valid = [element.key.name] if element.key is not None else []
        valid += [*element.fields, *element.required, *element.implied]
        raise UnknownIdentifierError(name, [f"{element.name}.{f}" for f in valid])

    def resolve_timespan(self, name: str) -> tuple[sa.ColumnElement[int], sa.ColumnElement[int]]:
        element, field_name = self._split(name)
        if field_name != "timespan" or not element.temporal:
            raise QueryTypeError(f"{name!r} is not a timespan")
        table = self._joined(element, name)
        return table.c.timespan_begin, table.c.timespan_end

    def _overlap_exists(self, element: DimensionElement, table: Any, pixels: sa.ColumnElement[bool]) -> Any:
        overlap = self._schema.overlaps[element.name]
        keys = [element.column_name(d) for d in element.required]
        return (
            sa.select(sa.literal(1))
            .select_from(overlap)
            .where(*(overlap.c[k] == table.c[k] for k in keys), pixels)
            .exists()
        )

    def resolve_region_overlap(self, name: str, region: Any) -> sa.ColumnElement[bool]:
        from skystack.geom.healpix import healpix_ranges, ranges_to_array

        element, field_name = self._split(name)
        if field_name != "region" or not element.spatial:
            raise QueryTypeError(f"{name!r} is not a region")
        table = self._joined(element, name)
        skypix = self._universe.common_skypix
        level = skypix.skypix_level
        assert level is not None
        ranges = ranges_to_array(healpix_ranges(region, level, max_ranges=_MAX_RANGES))
        if ranges.size == 0:
            return sa.false()
        pixel = self._schema.overlaps[element.name].c[skypix.name]
        pixels = sa.or_(*(pixel.between(int(b), int(e) - 1) for b, e in ranges))
        return self._overlap_exists(element, table, pixels)

    def resolve_region_join(self, name_a: str, name_b: str) -> sa.ColumnElement[bool]:
        skypix = self._universe.common_skypix.name
        (ea, fa), (eb, fb) = self._split(name_a), self._split(name_b)
        for element, field_name, name in ((ea, fa, name_a), (eb, fb, name_b)):
            if field_name != "region" or not element.spatial:
                raise QueryTypeError(f"{name!r} is not a region")
        ta, tb = self._joined(ea, name_a), self._joined(eb, name_b)
        oa = self._schema.overlaps[ea.name].alias("qa_overlap")
        ob = self._schema.overlaps[eb.name].alias("qb_overlap")
        keys_a = [ea.column_name(d) for d in ea.required]
        keys_b = [eb.column_name(d) for d in eb.required]
        return (
            sa.select(sa.literal(1))
            .select_from(oa.join(ob, oa.c[skypix] == ob.c[skypix]))
            .where(*(oa.c[k] == ta.c[k] for k in keys_a), *(ob.c[k] == tb.c[k] for k in keys_b))
            .exists()
        )

    def region_column(self, name: str) -> sa.ColumnElement[Any]:
        """The encoded-region column of a ``<element>.region`` identifier (for exact tests)."""
        element, _ = self._split(name)
        return self._joined(element, name).c.region


@dataclass
class Restriction:
    """A translated ``where`` clause: the predicate, the joins it needs and exact region tests."""

    resolver: QueryResolver
    predicate: sa.ColumnElement[bool] | None
    region_columns: list[sa.ColumnElement[Any]] = field(default_factory=list)
    regions: list[Any] = field(default_factory=list)

    def apply(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        """Add the joins and the predicate to ``stmt``."""
        stmt = self.resolver.apply_joins(stmt)
        return stmt if self.predicate is None else stmt.where(self.predicate)

    def keep(self, encoded_regions: Sequence[bytes | None]) -> bool:
        """Whether a row whose region columns hold ``encoded_regions`` passes the exact tests."""
        from lsst import sphgeom

        for blob, region in zip(encoded_regions, self.regions, strict=True):
            if blob is None or not sphgeom.Region.decode(bytes(blob)).overlaps(region):
                return False
        return True


def build_restriction(
    schema: RegistrySchema,
    base: Mapping[str, sa.ColumnElement[Any]],
    where: str,
    bind: Mapping[str, Any] | None,
    data_id: Mapping[str, Any],
    tables: Mapping[str, Any] | None = None,
    subject: str = "this query",
) -> Restriction:
    """Translate ``where`` and equality constraints ``data_id`` against a query's base columns.

    Raises
    ------
    QueryExpressionError
        For a syntax error, an unknown identifier (with the valid ones) or a missing bind value.
    DataIdError
        If ``data_id`` names a dimension the query cannot constrain.
    """
    resolver = QueryResolver(schema, base, tables)
    terms: list[sa.ColumnElement[bool]] = []
    for key, value in data_id.items():
        column = resolver.dimension_column(key)
        if column is None:
            raise DataIdError(
                f"cannot constrain {subject} by {key!r}; its dimensions are {', '.join(sorted(base))}"
            )
        terms.append(column == DataCoordinate.check_value(schema.universe, key, value))
    restriction = Restriction(resolver, None)
    if where.strip():
        expression = parse_expression(where)
        terms.append(to_sqlalchemy(expression, resolver, bind))
        for constraint in spatial_constraints(expression, bind):
            if constraint.required:
                restriction.region_columns.append(resolver.region_column(constraint.identifier))
                restriction.regions.append(constraint.region)
    restriction.predicate = sa.and_(*terms) if terms else None
    return restriction


def base_for_dimensions(
    schema: RegistrySchema, group: DimensionGroup
) -> tuple[Any, dict[str, sa.ColumnElement[Any]], dict[str, Any]]:
    """The FROM clause giving every required dimension of ``group``, its dimension columns and tables.

    Dimension tables are joined on shared keys; join elements whose dimensions all belong to the
    group (``visit_detector_region``, ``visit_definition``) are joined too, so only existing
    combinations come back (a visit with the detectors it has a region for, not all detectors).
    """
    universe = schema.universe
    columns: dict[str, sa.ColumnElement[Any]] = {}
    tables: dict[str, Any] = {}
    from_clause: Any = None
    wanted = set(group.required)
    elements = [e for e in universe.elements if e.is_stored and set(e.required) <= wanted]
    used = [e for e in elements if (e.is_dimension and e.name in wanted) or not e.is_dimension]
    for element in used:
        table = tables[element.name] = schema.elements[element.name].alias(f"b_{element.name}")
        on = []
        for d in element.required:
            col = table.c[element.column_name(d)]
            if d in columns:
                on.append(col == columns[d])
            else:
                columns[d] = col
        if from_clause is None:
            from_clause = table
        elif on:
            from_clause = from_clause.join(table, sa.and_(*on))
        else:
            from_clause = from_clause.join(table, sa.true())
    missing = wanted - set(columns)
    if missing:
        raise DataIdError(
            f"dimensions {', '.join(sorted(missing))} have no table; query them together with a "
            "dimension that implies them"
        )
    return from_clause, {d: columns[d] for d in group.required}, tables


def exact_rows(rows: Iterable[Sequence[Any]], restriction: Restriction) -> list[Sequence[Any]]:
    """Rows passing the exact region tests; their last ``len(restriction.regions)`` values are the
    encoded regions, which are dropped from the returned rows."""
    n = len(restriction.regions)
    if not n:
        return list(rows)
    return [row[:-n] for row in rows if restriction.keep(row[-n:])]
