# SPDX-License-Identifier: GPL-3.0-or-later
"""Catalog benchmark: 1,000,000-row, 30-column SourceCatalog to and from Parquet.

Peers, measured in the same run on the same data: plain ``pyarrow.parquet`` writing/reading the
Arrow table of the catalog, and astropy ``Table`` construction from the same numpy columns.
Targets (issue #3): Parquet write ≤ 1 s and read ≤ 1 s for 10⁶ rows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from astropy.table import Table

from _util import Row, median_time, print_rows
from skystack.table import Schema, SourceCatalog, read_parquet, write_parquet

N_ROWS = 1_000_000


def make_catalog(n: int = N_ROWS) -> SourceCatalog:
    """A catalog like a calexp's src table: ids, coordinates, fluxes, shapes and flags (30 columns)."""
    rng = np.random.default_rng(0)
    schema = Schema.minimal_source()
    for algo in ("PsfFlux", "ApFlux_12", "ApFlux_25", "GaussianFlux", "CModel", "KronFlux"):
        schema.add_field(f"base_{algo}_instFlux", "f4", "count", f"{algo} instrumental flux")
        schema.add_field(f"base_{algo}_instFluxErr", "f4", "count", f"{algo} flux error")
        schema.add_flag(f"base_{algo}_flag", f"{algo} failed")
    for name in ("x", "y", "xx", "yy", "xy"):
        schema.add_field(f"slot_Shape_{name}", "f4", "pixel", f"shape {name}")
    schema.add_field("deblend_nChild", "i4", doc="number of children")
    schema.add_field("visit", "i8", doc="visit id")
    schema.add_flag("detect_isPrimary", "primary detection")
    cat = SourceCatalog(schema, n)
    for f in schema:
        if f.dtype.kind == "f":
            cat[f.name] = rng.normal(size=n).astype(f.dtype)
        elif f.dtype.kind == "b":
            cat[f.name] = rng.random(n) < 0.1
    cat["id"] = np.arange(1, n + 1)
    cat["coord_ra"] = rng.uniform(0, 360, n)
    cat["coord_dec"] = rng.uniform(-90, 90, n)
    cat["parent"] = rng.integers(0, n, n)
    cat["deblend_nChild"] = rng.integers(0, 5, n)
    cat["visit"] = 1234
    return cat


def main() -> None:
    cat = make_catalog()
    ncol = len(cat.schema)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        ours = Path(tmp) / "ours.parquet"
        peer = Path(tmp) / "peer.parquet"
        table = cat.to_arrow()

        t_write = median_time(lambda: write_parquet(ours, cat), repeat=5)
        t_peer_write = median_time(lambda: pq.write_table(table, peer, compression="snappy"), repeat=5)
        rows.append(
            Row(
                f"Parquet write {N_ROWS:,} rows x {ncol} cols",
                t_write,
                peer=t_peer_write,
                peer_name="pyarrow",
                target="<= 1 s",
                passed=t_write <= 1.0,
            )
        )
        t_read = median_time(lambda: read_parquet(ours), repeat=5)
        t_peer_read = median_time(lambda: pq.read_table(peer), repeat=5)
        rows.append(
            Row(
                f"Parquet read {N_ROWS:,} rows x {ncol} cols",
                t_read,
                peer=t_peer_read,
                peer_name="pyarrow",
                target="<= 1 s",
                passed=t_read <= 1.0,
            )
        )
        t_cols = median_time(lambda: read_parquet(ours, columns=["coord_ra", "coord_dec"]), repeat=5)
        rows.append(
            Row("Parquet read 2 of the columns", t_cols, target="< full read", passed=t_cols < t_read)
        )
        size_mb = ours.stat().st_size / 1e6

    columns = cat.columns
    t_astropy = median_time(lambda: cat.to_astropy(), repeat=5)
    t_astropy_peer = median_time(lambda: Table(columns, copy=False), repeat=5)
    rows.append(
        Row("to_astropy (units, docs)", t_astropy, peer=t_astropy_peer, peer_name="Table(copy=False)")
    )
    astro = cat.to_astropy()
    t_from_astropy = median_time(lambda: SourceCatalog.from_astropy(astro, copy=False), repeat=5)
    rows.append(Row("from_astropy (copy=False)", t_from_astropy))
    t_arrow = median_time(lambda: cat.to_arrow(), repeat=5)
    rows.append(Row("to_arrow", t_arrow))
    t_pandas = median_time(lambda: cat.to_pandas(), repeat=3)
    rows.append(Row("to_pandas", t_pandas))
    print_rows(f"Catalog: {N_ROWS:,} rows, {ncol} columns, {size_mb:.0f} MB Parquet (snappy)", rows)


if __name__ == "__main__":
    main()
