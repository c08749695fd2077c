# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry benchmark on SQLite: bulk insert of 10,000 datasets, find_dataset latency, a 5,000-ref query.

The peer figure for the bulk insert is a plain ``sqlite3`` ``executemany`` of the same rows into an
equivalent two-table schema (the floor any SQLite registry can reach); the Rubin Butler comparison
belongs to the Butler benchmark.
"""

from __future__ import annotations

import sqlite3
import tempfile
import uuid
from pathlib import Path

from _util import Row, median_time, print_rows
from skystack.butler import CollectionType, DatasetType, Registry


def _make_registry(root: Path) -> Registry:
    registry = Registry.create(root / "registry.sqlite3")
    registry.insert_dimension_records("instrument", [{"name": "Cam"}])
    registry.insert_dimension_records(
        "physical_filter", [{"instrument": "Cam", "name": "Cam-r", "band": "r"}]
    )
    registry.insert_dimension_records("detector", [{"instrument": "Cam", "id": d} for d in range(100)])
    registry.insert_dimension_records(
        "exposure", [{"instrument": "Cam", "id": e, "physical_filter": "Cam-r"} for e in range(1000)]
    )
    registry.register_dataset_type(DatasetType("raw", ["instrument", "exposure", "detector"], "Exposure"))
    return registry


def _raw_sqlite_insert(path: Path, n: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS d (id BLOB PRIMARY KEY, t INT, r INT)")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS g (id BLOB, t INT, c INT, i TEXT, e INT, k INT, PRIMARY KEY (id, c), "
        "UNIQUE (t, c, i, e, k))"
    )
    conn.execute("DELETE FROM d")
    conn.execute("DELETE FROM g")
    ids = [uuid.uuid4().bytes for _ in range(n)]
    with conn:
        conn.executemany("INSERT INTO d VALUES (?, 1, 1)", [(i,) for i in ids])
        conn.executemany(
            "INSERT INTO g VALUES (?, 1, 1, 'Cam', ?, ?)", [(i, k // 100, k % 100) for k, i in enumerate(ids)]
        )
    conn.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        registry = _make_registry(root)
        data_ids = [
            {"instrument": "Cam", "exposure": e, "detector": d} for e in range(100) for d in range(100)
        ]
        counter = iter(range(1000))

        def insert() -> None:
            run = f"run{next(counter)}"
            registry.register_run(run)
            registry.insert_datasets("raw", data_ids, run)

        t_insert = median_time(insert, repeat=3, warmup=1)
        t_raw = median_time(lambda: _raw_sqlite_insert(root / "raw.sqlite3", len(data_ids)), repeat=3)

        registry.register_collection("chain", CollectionType.CHAINED)
        registry.set_collection_chain("chain", ["run3", "run2", "run1"])
        t_find = median_time(
            lambda: registry.find_dataset(
                "raw", instrument="Cam", exposure=55, detector=7, collections="run1"
            ),
            repeat=2000,
            warmup=50,
        )
        t_find_chain = median_time(
            lambda: registry.find_dataset(
                "raw", instrument="Cam", exposure=55, detector=7, collections="chain"
            ),
            repeat=2000,
            warmup=50,
        )
        assert len(registry.query_datasets_simple("raw", "run1", {"detector": 7})) == 100
        registry.register_run("half")
        registry.insert_datasets("raw", data_ids[:5000], "half")
        assert len(registry.query_datasets_simple("raw", "half")) == 5000
        t_query = median_time(lambda: registry.query_datasets_simple("raw", "half"), repeat=7)
        t_query_chain = median_time(
            lambda: registry.query_datasets_simple("raw", ["half", "chain"]), repeat=5
        )
        t_create = median_time(lambda: Registry.create(root / f"new{uuid.uuid4().hex}.sqlite3"), repeat=5)
        registry.close()

    rows = [
        Row(
            "insert_datasets, 10,000 refs",
            t_insert,
            peer=t_raw,
            peer_name="sqlite3",
            target="<= 1 s",
            passed=t_insert <= 1.0,
        ),
        Row("find_dataset (one RUN)", t_find, target="<= 1 ms", passed=t_find <= 1e-3),
        Row("find_dataset (3-run chain)", t_find_chain, target="<= 1 ms", passed=t_find_chain <= 1e-3),
        Row("query_datasets_simple, 5,000 refs", t_query, target="<= 20 ms", passed=t_query <= 0.020),
        Row("query_datasets_simple, find-first, 10,000 refs", t_query_chain, target="", passed=None),
        Row("Registry.create (SQLite)", t_create, target="", passed=None),
    ]
    print_rows("Registry (SQLite)", rows)


if __name__ == "__main__":
    main()
