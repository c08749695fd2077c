# SPDX-License-Identifier: GPL-3.0-or-later
"""Why a query returned nothing: the rows left after each constraint, and what removed them.

A query's constraints are applied one at a time, in the order the user gave them, and the rows
left are counted after each (``SELECT count(*)`` queries): first what the query starts from (the
datasets of the type in the collections searched, or the dimension records joined), then every
data-ID equality constraint, then every top-level ``AND`` term of the ``where`` expression, and
last the exact region tests done in Python. The first step that leaves nothing is the culprit;
`QueryExplanation` says which, and adds what it can find out about it: which other collections do
hold datasets of the type, that a dimension value has no record at all, or that a ``where`` term
matches no record of the element it is about.

The counting runs only after a query came back empty (``explain=True``), so it costs nothing when
there are results.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..dimensions import DataCoordinate, DimensionElement, DimensionGroup
from ..queries.expression import LogicalOp, Node, Parenthesized, parse_expression, referenced_identifiers
from ..queries.expression import to_sqlalchemy as translate
from ._datasets import CollectionType
from ._errors import RegistryError
from ._query import QueryResolver

if TYPE_CHECKING:
    from ._collections import CollectionRecord
    from ._query_runner import QueryRunner

__all__ = [
    "EmptyQueryResultError",
    "QueryExplanation",
    "QueryStep",
    "explain_data_ids",
    "explain_datasets",
    "explain_dimension_records",
]


@dataclass(frozen=True)
class QueryStep:
    """One step of a query and the rows left after it.

    Attributes
    ----------
    description : `str`
        What the step applies (``"detector = 9"``, ``"where: visit.day_obs > 20250101"``).
    count : `int`
        Rows (datasets, data IDs or records) left after it and every step before.
    """

    description: str
    count: int


@dataclass
class QueryExplanation:
    """Why a query returned no rows.

    Attributes
    ----------
    subject : `str`
        What was queried (``"'raw' datasets in ['run1']"``).
    steps : `list` [`QueryStep`]
        The rows left after each step, in order; the first with ``count == 0`` removed everything.
    reasons : `list` [`str`]
        Sentences naming the step that removed everything and what else is known about it.
    """

    subject: str
    steps: list[QueryStep] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def culprit(self) -> QueryStep | None:
        """The first step that left nothing (`None` if only the exact region tests did)."""
        return next((s for s in self.steps if s.count == 0), None)

    def __str__(self) -> str:
        lines = [f"no {self.subject}: {self.reasons[0] if self.reasons else 'no rows'}"]
        lines += [f"  {r}" for r in self.reasons[1:]]
        width = max((len(s.description) for s in self.steps), default=0)
        lines.append("  rows left after each step:")
        lines += [f"    {s.description.ljust(width)}  {s.count}" for s in self.steps]
        return "\n".join(lines)


class EmptyQueryResultError(RegistryError, LookupError):
    """A query called with ``explain=True`` found nothing; ``explanation`` says why.

    Attributes
    ----------
    explanation : `QueryExplanation`
    """

    def __init__(self, explanation: QueryExplanation) -> None:
        super().__init__(str(explanation))
        self.explanation = explanation


def _where_terms(where: str) -> list[Node]:
    """The top-level ``AND`` terms of an expression (the whole expression if it is not an AND)."""
    if not where.strip():
        return []
    node = parse_expression(where).root
    while isinstance(node, Parenthesized):
        node = node.expr
    if isinstance(node, LogicalOp) and node.op == "AND":
        return list(node.operands)
    return [node]


Clauses = Callable[[QueryResolver], list[Any]]
"""Translates the constraints of a step against a resolver (joining what they need)."""


class _Counter:
    """Counts the rows of one query shape under growing lists of constraints.

    ``build(clauses)`` makes the SELECT whose rows are counted: it creates the resolver(s) of its
    tables, calls ``clauses(resolver)`` for the constraints, and applies the resolver's joins.
    """

    def __init__(
        self, runner: QueryRunner, build: Callable[[Clauses], Any], bind: Mapping[str, Any] | None
    ) -> None:
        self.runner = runner
        self.build = build
        self.bind = bind
        self.data_terms: list[tuple[str, Any]] = []
        self.where_terms: list[Node] = []

    def count(self, n_data: int, n_where: int) -> int:
        def clauses(resolver: QueryResolver) -> list[Any]:
            out = []
            for key, value in self.data_terms[:n_data]:
                column = resolver.dimension_column(key)
                assert column is not None  # the query itself accepted the constraint
                out.append(column == value)
            out += [translate(t, resolver, self.bind) for t in self.where_terms[:n_where]]
            return out

        stmt = self.build(clauses)
        with self.runner._db.query() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one())

    def run(self, explanation: QueryExplanation, data_id: Mapping[str, Any], where: str, what: str) -> bool:
        """Add the steps of the constraints; True if one of them removed everything."""
        universe = self.runner._schema.universe
        self.data_terms = [(k, DataCoordinate.check_value(universe, k, v)) for k, v in data_id.items()]
        self.where_terms = _where_terms(where)
        for i, (key, value) in enumerate(self.data_terms, 1):
            n = self.count(i, 0)
            explanation.steps.append(QueryStep(f"{key} = {value!r}", n))
            if n == 0:
                explanation.reasons.append(f"none of the remaining {what} has {key} = {value!r}")
                explanation.reasons += _value_notes(self.runner, key, value)
                return True
        for i, term in enumerate(self.where_terms, 1):
            n = self.count(len(self.data_terms), i)
            explanation.steps.append(QueryStep(f"where: {term}", n))
            if n == 0:
                explanation.reasons.append(f"the where term `{term}` removed all remaining {what}")
                explanation.reasons += _term_notes(self.runner, term, self.bind)
                return True
        return False


def _value_notes(runner: QueryRunner, key: str, value: Any) -> list[str]:
    """Whether a dimension value has a record at all."""
    element = runner._schema.universe[key]
    if not element.is_stored:
        return []
    table = runner._schema.elements[key]
    column = table.c[element.column_name(key)]
    with runner._db.query() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(table).where(column == value)).scalar_one()
        if n:
            return [
                f"{key} = {value!r} exists ({n} {key} record(s)), but nothing left before this step has it"
            ]
        known = conn.execute(sa.select(column).distinct().order_by(column).limit(11)).scalars().all()
    shown = ", ".join(map(repr, known[:10])) + (", ..." if len(known) > 10 else "")
    return [f"there is no {key} record with {key} = {value!r} in the registry (known: {shown or 'none'})"]


def _term_element(runner: QueryRunner, term: Node) -> DimensionElement | None:
    """The one stored element all identifiers of a where term are about, if there is one."""
    universe = runner._schema.universe
    names: set[str] = set()
    for ident in referenced_identifiers(term):
        head, dot, _ = ident.partition(".")
        if dot:
            names.add(head)
            continue
        if head not in universe:
            return None
        element = universe[head]
        if element.is_stored:
            names.add(head)
        else:
            implying = [e.name for e in universe.elements if e.is_stored and head in e.implied]
            if len(implying) != 1:
                return None
            names.add(implying[0])
    if len(names) != 1:
        return None
    element = universe[names.pop()]
    return element if element.is_stored else None


def _term_notes(runner: QueryRunner, term: Node, bind: Mapping[str, Any] | None) -> list[str]:
    """How many records of its element a where term matches on its own."""
    element = _term_element(runner, term)
    if element is None:
        return []
    schema = runner._schema
    table = schema.elements[element.name]
    base = {d: table.c[element.column_name(d)] for d in element.required}
    base.update({d: table.c[d] for d in element.implied})
    resolver = QueryResolver(schema, base, {element.name: table})
    try:
        clause = translate(term, resolver, bind)
    except Exception:  # the term needs more than this element's table
        return []
    stmt = resolver.apply_joins(sa.select(sa.func.count()).select_from(table)).where(clause)
    with runner._db.query() as conn:
        n = int(conn.execute(stmt).scalar_one())
    if n == 0:
        return [f"it matches no {element.name} record in the registry at all"]
    return [f"it matches {n} {element.name} record(s), but none that passed the steps before it"]


def _exact_note(explanation: QueryExplanation, what: str) -> None:
    last = explanation.steps[-1].count if explanation.steps else 0
    explanation.reasons.append(
        f"{last} {what} pass the SQL constraints (regions pre-filtered by HEALPix pixels), but none of "
        "their regions overlaps the given region exactly"
    )


# -- datasets ------------------------------------------------------------------------------------


def explain_datasets(
    runner: QueryRunner,
    type_record: Any,
    collections: Sequence[str] | str,
    path: list[CollectionRecord],
    where: str,
    bind: Mapping[str, Any] | None,
    data_id: Mapping[str, Any],
) -> QueryExplanation:
    """Explain why ``query_datasets`` found no dataset (see the module docstring)."""
    dtype = type_record.dataset_type
    names = [collections] if isinstance(collections, str) else list(collections)
    explanation = QueryExplanation(f"{dtype.name!r} datasets in {names}")
    searched = [c for c in path if c.type is not CollectionType.CALIBRATION or type_record.calibs is not None]
    if not path:
        explanation.reasons.append(f"the search path {names} is empty: its chains have no children")
        return explanation
    if not searched:
        explanation.reasons.append(
            f"{dtype.name!r} is not a calibration type, and {names} holds only CALIBRATION collections "
            f"({', '.join(c.name for c in path)}), which are not searched for it"
        )
        return explanation
    dims = dtype.dimensions.required
    plain = [c.id for c in searched if c.type is not CollectionType.CALIBRATION]
    calib = [c.id for c in searched if c.type is CollectionType.CALIBRATION]

    def build(clauses: Clauses) -> Any:
        parts = []
        for table, ids in ((type_record.tags, plain), (type_record.calibs, calib)):
            if table is None or not ids:
                continue
            resolver = QueryResolver(runner._schema, {d: table.c[d] for d in dims}, {})
            stmt = sa.select(table.c.dataset_id).where(
                table.c.dataset_type_id == type_record.id, table.c.collection_id.in_(ids), *clauses(resolver)
            )
            parts.append(resolver.apply_joins(stmt))
        return parts[0] if len(parts) == 1 else sa.union(*parts)

    counter = _Counter(runner, build, bind)
    total = counter.count(0, 0)
    where_text = ", ".join(c.name for c in searched)
    explanation.steps.append(QueryStep(f"{dtype.name!r} datasets in {where_text}", total))
    if total == 0:
        explanation.reasons.append(f"the collections searched ({where_text}) hold no {dtype.name!r} dataset")
        explanation.reasons += _elsewhere(runner, type_record, {c.id for c in searched})
        return explanation
    if not counter.run(explanation, data_id, where, "datasets"):
        _exact_note(explanation, "datasets")
    return explanation


def _elsewhere(runner: QueryRunner, type_record: Any, searched: set[int]) -> list[str]:
    """Where datasets of the type are, if not in the collections searched."""
    tags = type_record.tags
    stmt = (
        sa.select(tags.c.collection_id, sa.func.count())
        .where(tags.c.dataset_type_id == type_record.id)
        .group_by(tags.c.collection_id)
        .order_by(sa.func.count().desc())
    )
    with runner._db.query() as conn:
        rows = [(cid, n) for cid, n in conn.execute(stmt) if cid not in searched]
    name = type_record.dataset_type.name
    if not rows:
        return [f"the repository has no {name!r} datasets in any RUN or TAGGED collection"]
    shown = ", ".join(f"{runner._collections.by_id(cid).name} ({n})" for cid, n in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return [f"{name!r} datasets are in: {shown}{more}"]


# -- data IDs and dimension records ---------------------------------------------------------------


def explain_data_ids(
    runner: QueryRunner,
    group: DimensionGroup,
    where: str,
    bind: Mapping[str, Any] | None,
    data_id: Mapping[str, Any],
) -> QueryExplanation:
    """Explain why ``query_data_ids`` found nothing: the dimension tables joined one at a time, then
    the constraints."""
    schema = runner._schema
    universe = schema.universe
    explanation = QueryExplanation(f"data IDs of ({', '.join(group.required)})")
    wanted = set(group.required)
    elements = [e for e in universe.elements if e.is_stored and set(e.required) <= wanted]
    used = [e for e in elements if (e.is_dimension and e.name in wanted) or not e.is_dimension]
    columns: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    from_clause: Any = None
    with runner._db.query() as conn:
        for element in used:
            table = tables[element.name] = schema.elements[element.name].alias(f"b_{element.name}")
            on = []
            for d in element.required:
                col = table.c[element.column_name(d)]
                if d in columns:
                    on.append(col == columns[d])
                else:
                    columns[d] = col
            from_clause = table if from_clause is None else from_clause.join(table, sa.and_(sa.true(), *on))
            n = int(conn.execute(sa.select(sa.func.count()).select_from(from_clause)).scalar_one())
            explanation.steps.append(QueryStep(f"join {element.name} records", n))
            if n == 0:
                alone = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                if alone == 0:
                    explanation.reasons.append(f"the registry has no {element.name} records")
                else:
                    explanation.reasons.append(
                        f"none of the {alone} {element.name} record(s) matches the "
                        f"{', '.join(d for d in element.required if d != element.name)} records joined before"
                    )
                return explanation
    base = {d: columns[d] for d in group.required}
    keys = [base[d] for d in group.required]

    def build(clauses: Clauses) -> Any:
        resolver = QueryResolver(schema, base, tables)
        where = clauses(resolver)
        return resolver.apply_joins(sa.select(*keys).select_from(from_clause)).where(*where).distinct()

    counter = _Counter(runner, build, bind)
    if not counter.run(explanation, data_id, where, "data IDs"):
        _exact_note(explanation, "data IDs")
    return explanation


def explain_dimension_records(
    runner: QueryRunner,
    element: DimensionElement,
    where: str,
    bind: Mapping[str, Any] | None,
    data_id: Mapping[str, Any],
) -> QueryExplanation:
    """Explain why ``query_dimension_records`` found nothing."""
    table = runner._schema.elements[element.name]
    explanation = QueryExplanation(f"{element.name} records")
    with runner._db.query() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    explanation.steps.append(QueryStep(f"{element.name} records", total))
    if total == 0:
        explanation.reasons.append(f"the registry has no {element.name} records")
        return explanation
    base = {d: table.c[element.column_name(d)] for d in element.required}
    base.update({d: table.c[d] for d in element.implied})

    def build(clauses: Clauses) -> Any:
        resolver = QueryResolver(runner._schema, base, {element.name: table})
        where = clauses(resolver)
        return resolver.apply_joins(sa.select(*table.primary_key.columns).select_from(table)).where(*where)

    counter = _Counter(runner, build, bind)
    if not counter.run(explanation, data_id, where, f"{element.name} records"):
        _exact_note(explanation, f"{element.name} records")
    return explanation
