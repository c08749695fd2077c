# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the query expression language: parsing and translation to SQLAlchemy.

The peer is the Rubin Butler's parser (``lsst.daf.butler.queries.expressions.parser``, PLY based),
run in the Rubin venv (``$RUBIN_VENV`` or ``/tmp/rubin-venv``, made by
``../shared/bench/rubin/setup_venv.sh``) on the same expressions in the same run.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from pathlib import Path

import sqlalchemy

from _util import Row, median_time, print_rows
from skystack.butler.queries.expression import (
    IdentifierKind,
    QuerySyntaxError,
    UnknownIdentifierError,
    parse_expression,
    to_sqlalchemy,
)

TYPICAL = (
    "instrument = 'HSC' AND visit IN (100..200:2, 903334) AND band = 'r' AND detector != 9 "
    "AND exposure.timespan OVERLAPS (T'2024-01-01T00:00:00', T'2024-02-01T00:00:00')"
)
LONG_OR = " OR ".join(f"(visit = {i} AND detector = {i % 100})" for i in range(1000))
BIG_IN = "visit IN (" + ", ".join(str(i) for i in range(10000)) + ")"
EXPRESSIONS = {"typical": TYPICAL, "1000-term OR": LONG_OR, "10,000-value IN": BIG_IN}

_PEER_SCRIPT = """
import json, sys, time, statistics
from lsst.daf.butler.queries.expressions.parser import parse_expression
exprs = json.loads(sys.stdin.read())
out = {}
for name, (text, repeat) in exprs.items():
    parse_expression(text)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter(); parse_expression(text); times.append(time.perf_counter() - t0)
    out[name] = statistics.median(times)
print(json.dumps(out))
"""

REPEATS = {"typical": 200, "1000-term OR": 5, "10,000-value IN": 5}


def _peer_times() -> dict[str, float] | None:
    venv = Path(os.environ.get("RUBIN_VENV", "/tmp/rubin-venv"))
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    payload = json.dumps({k: (v, REPEATS[k]) for k, v in EXPRESSIONS.items()})
    result = subprocess.run(
        [str(python), "-c", _PEER_SCRIPT], input=payload, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        print("(Rubin parser failed:", result.stderr.strip().splitlines()[-1:], ")")
        return None
    return {k: float(v) for k, v in json.loads(result.stdout).items()}


class _Resolver:
    """A minimal resolver over one table, as the registry would provide."""

    def __init__(self) -> None:
        md = sqlalchemy.MetaData()
        self.table = sqlalchemy.Table(
            "t",
            md,
            *(sqlalchemy.Column(n, sqlalchemy.Integer) for n in ("visit", "detector", "begin", "end")),
            *(sqlalchemy.Column(n, sqlalchemy.String) for n in ("instrument", "band")),
        )

    def identifier_kind(self, name: str) -> IdentifierKind:
        if name == "exposure.timespan":
            return IdentifierKind.TIMESPAN
        if name in self.table.c:
            return IdentifierKind.SCALAR
        raise UnknownIdentifierError(name, self.table.c.keys())

    def resolve_column(self, name: str) -> sqlalchemy.ColumnElement[int]:
        return self.table.c[name]

    def resolve_timespan(
        self, name: str
    ) -> tuple[sqlalchemy.ColumnElement[int], sqlalchemy.ColumnElement[int]]:
        return self.table.c.begin, self.table.c.end

    def resolve_region_overlap(self, name: str, region: object) -> sqlalchemy.ColumnElement[bool]:
        raise NotImplementedError("no regions in this benchmark")

    def resolve_region_join(self, name_a: str, name_b: str) -> sqlalchemy.ColumnElement[bool]:
        raise NotImplementedError("no regions in this benchmark")


def main() -> None:
    peer = _peer_times()
    resolver = _Resolver()
    targets = {"typical": 0.25e-3, "1000-term OR": 100e-3, "10,000-value IN": 200e-3}
    rows = []
    for name, text in EXPRESSIONS.items():
        ours = median_time(functools.partial(parse_expression, text), repeat=REPEATS[name], warmup=2)
        limit = targets[name]
        peer_time = None if peer is None else peer[name]
        target = f"<= {limit * 1e3:g} ms and <= peer"
        passed = ours <= limit and (peer_time is None or ours <= peer_time)
        rows.append(
            Row(f"parse: {name}", ours, peer=peer_time, peer_name="daf_butler", target=target, passed=passed)
        )
    print_rows("Query expression parsing (median)", rows)

    rows = []
    for name, text in EXPRESSIONS.items():
        parsed = parse_expression(text)
        ours = median_time(functools.partial(to_sqlalchemy, parsed, resolver), repeat=REPEATS[name], warmup=2)
        limit = {"typical": 1e-3, "1000-term OR": 100e-3, "10,000-value IN": 50e-3}[name]
        rows.append(
            Row(f"to_sqlalchemy: {name}", ours, target=f"<= {limit * 1e3:g} ms", passed=ours <= limit)
        )
    deep = "(" * 100000 + "visit = 1" + ")" * 100000

    def reject_deep() -> None:
        try:
            parse_expression(deep)
        except QuerySyntaxError:
            return
        raise AssertionError("deep nesting was accepted")

    t = median_time(reject_deep, repeat=5)
    rows.append(Row("reject 100,000 nested parentheses", t, target="<= 100 ms", passed=t <= 0.1))
    print_rows("Translation to SQLAlchemy and hostile input (median)", rows)
    if peer is None:
        print("(Rubin peer not measured: no venv at $RUBIN_VENV or /tmp/rubin-venv;")
        print(" make one with ../shared/bench/rubin/setup_venv.sh /tmp/rubin-venv python3.12)")


if __name__ == "__main__":
    main()
