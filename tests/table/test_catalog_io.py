# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for catalog interop (astropy, pandas, Arrow) and Parquet files."""

from __future__ import annotations

import json

import astropy.units as u
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.table import Table

from skystack.table import (
    CatalogFileError,
    Schema,
    SourceCatalog,
    read_parquet,
    read_parquet_schema,
    write_parquet,
)


def make_catalog(n: int = 50) -> SourceCatalog:
    rng = np.random.default_rng(42)
    schema = Schema.minimal_source()
    schema.add_field("base_PsfFlux_instFlux", "f4", "nJy", "PSF flux")
    schema.add_field("base_PsfFlux_instFluxErr", "f4", "nJy", "PSF flux error")
    schema.add_flag("base_PsfFlux_flag", "PSF flux failed")
    schema.add_field("centroid", "f8", "pixel", "x, y", shape=(2,))
    schema.add_field("shape_cov", "f4", "pixel2", "covariance", shape=(2, 2))
    schema.add_field("n_child", "i4", doc="children")
    schema.add_field("visit", "u8", doc="visit id")
    schema.add_field("band", "U6", doc="band name")
    schema.set_alias("psf_flux", "base_PsfFlux_instFlux")
    cat = SourceCatalog(schema, n, metadata={"visit": 7, "comment": "test"})
    cat["id"] = np.arange(1, n + 1)
    cat["coord_ra"] = rng.uniform(0, 360, n)
    cat["coord_dec"] = rng.uniform(-90, 90, n)
    cat["parent"] = np.where(np.arange(n) % 5 == 0, 0, 1)
    cat["base_PsfFlux_instFlux"] = rng.normal(1000, 50, n).astype(np.float32)
    cat["base_PsfFlux_instFluxErr"][:] = np.nan
    cat["base_PsfFlux_flag"] = rng.random(n) < 0.3
    cat["centroid"] = rng.uniform(0, 4000, (n, 2))
    cat["shape_cov"] = rng.normal(size=(n, 2, 2)).astype(np.float32)
    cat["n_child"] = rng.integers(-5, 5, n)
    cat["visit"] = np.uint64(2**63 + 5)
    cat["band"] = rng.choice(["g", "r", "i", "y_long"], n)
    return cat


def assert_catalogs_equal(a: SourceCatalog, b: SourceCatalog) -> None:
    assert a.schema == b.schema
    assert len(a) == len(b)
    for f in a.schema:
        assert b[f.name].dtype == f.dtype
        np.testing.assert_array_equal(a[f.name], b[f.name], strict=True)


def test_parquet_round_trip_exact(tmp_path):
    cat = make_catalog()
    path = tmp_path / "cat.parquet"
    write_parquet(path, cat)
    again = read_parquet(path)
    assert_catalogs_equal(cat, again)
    assert again.metadata == cat.metadata
    assert again.schema["base_PsfFlux_instFlux"].doc == "PSF flux"
    assert again.schema["shape_cov"].unit == "pixel2"
    assert again.psf_flux.dtype == np.float32
    # the columns read are writeable
    again["coord_ra"][0] = 1.0
    again["centroid"][0, 1] = 2.0
    # no temporary file left behind
    assert [p.name for p in tmp_path.iterdir()] == ["cat.parquet"]


def test_parquet_column_selection(tmp_path):
    cat = make_catalog()
    path = tmp_path / "cat.parquet"
    write_parquet(path, cat, compression="zstd")
    part = read_parquet(path, columns=["coord_dec", "id", "shape_cov"])
    assert part.schema.names == ["coord_dec", "id", "shape_cov"]
    np.testing.assert_array_equal(part["shape_cov"], cat["shape_cov"])
    assert part.schema.aliases == {}
    flux = read_parquet(path, columns=["base_PsfFlux_instFlux"])
    assert flux.psf_flux.shape == (50,)
    empty = read_parquet_schema(path)
    assert len(empty) == 0 and empty.schema == cat.schema


def test_parquet_readable_by_plain_tools(tmp_path):
    cat = make_catalog()
    path = tmp_path / "cat.parquet"
    write_parquet(path, cat)
    table = pq.read_table(path)
    assert table.schema.field("coord_ra").metadata[b"unit"] == b"deg"
    assert table.schema.field("base_PsfFlux_flag").metadata[b"doc"] == b"PSF flux failed"
    assert json.loads(table.schema.metadata[b"skystack_metadata"]) == {"visit": 7, "comment": "test"}
    frame = pd.read_parquet(path)
    np.testing.assert_array_equal(frame["coord_dec"].to_numpy(), cat["coord_dec"])
    atab = Table.read(path)
    assert atab["coord_ra"].unit == u.deg and atab["base_PsfFlux_instFlux"].unit == u.nJy
    assert atab["base_PsfFlux_instFlux"].description == "PSF flux"
    np.testing.assert_array_equal(atab["band"], cat["band"])


def test_parquet_atomic_overwrite_and_errors(tmp_path):
    cat = make_catalog()
    path = tmp_path / "cat.parquet"
    write_parquet(path, cat)
    write_parquet(path, cat[:10])
    assert len(read_parquet(path)) == 10
    with pytest.raises(FileNotFoundError, match="does not exist"):
        write_parquet(tmp_path / "missing" / "x.parquet", cat)
    with pytest.raises(FileNotFoundError, match="nothere.parquet does not exist"):
        read_parquet(tmp_path / "nothere.parquet")
    not_parquet = tmp_path / "bad.parquet"
    not_parquet.write_text("hello, this is not parquet")
    with pytest.raises(CatalogFileError, match=r"bad.parquet is not a readable Parquet file"):
        read_parquet(not_parquet)
    truncated = tmp_path / "trunc.parquet"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CatalogFileError, match="trunc.parquet"):
        read_parquet(truncated)
    with pytest.raises(CatalogFileError, match=r"has no column\(s\) \['flux'\]; available: id, coord_ra"):
        read_parquet(path, columns=["id", "flux"])


def test_parquet_nested_columns_rejected(tmp_path):
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"s": pa.array([{"a": 1}, {"a": 2}]), "x": [1.0, 2.0]}), path)
    with pytest.raises(CatalogFileError, match="Column 's' has Arrow type struct"):
        read_parquet(path)
    assert read_parquet(path, columns=["x"])["x"].tolist() == [1.0, 2.0]


def test_arrow_round_trip_and_zero_copy():
    cat = make_catalog()
    table = cat.to_arrow()
    ra = table.column("coord_ra").chunk(0)
    assert np.shares_memory(ra.to_numpy(), cat["coord_ra"])
    cov = table.column("shape_cov").chunk(0).flatten()
    assert np.shares_memory(cov.to_numpy(), cat["shape_cov"])
    again = SourceCatalog.from_arrow(table)
    assert_catalogs_equal(cat, again)
    assert not np.shares_memory(again["coord_ra"], cat["coord_ra"])
    shared = SourceCatalog.from_arrow(table, copy=False)
    assert np.shares_memory(shared["coord_ra"], cat["coord_ra"])
    assert not shared["coord_ra"].flags.writeable


def test_arrow_foreign_table_with_nulls():
    table = pa.table({"x": pa.array([1.0, None, 3.0]), "name": ["a", "bb", "ccc"], "n": [1, 2, 3]})
    cat = SourceCatalog.from_arrow(table)
    assert np.isnan(cat["x"][1]) and cat["name"].tolist() == ["a", "bb", "ccc"]
    assert cat.schema["name"].dtype == np.dtype("U3") and cat["n"].dtype == np.int64
    with pytest.raises(Exception, match="Integer column 'n' contains nulls"):
        SourceCatalog.from_arrow(pa.table({"n": pa.array([1, None], pa.int32())}))


def test_astropy_round_trip():
    cat = make_catalog()
    table = cat.to_astropy()
    assert table["coord_ra"].unit == u.deg and table["base_PsfFlux_instFlux"].description == "PSF flux"
    assert np.shares_memory(table["coord_ra"].data, cat["coord_ra"])
    assert table.meta["visit"] == 7
    again = SourceCatalog.from_astropy(table)
    assert again.schema.names == cat.schema.names and again.schema.aliases == cat.schema.aliases
    for f in cat.schema:
        g = again.schema[f.name]
        assert (g.dtype, g.shape, g.doc) == (f.dtype, f.shape, f.doc)
        assert u.Unit(g.unit or "") == u.Unit(f.unit or "")
        np.testing.assert_array_equal(again[f.name], cat[f.name], strict=True)


def test_astropy_masked_and_quantity_columns():
    table = Table()
    table["flux"] = np.ma.MaskedArray([1.0, 2.0, 3.0], mask=[False, True, False])
    table["dist"] = [1.0, 2.0, 3.0] * u.kpc
    cat = SourceCatalog.from_astropy(table)
    assert np.isnan(cat["flux"][1]) and cat["flux"][2] == 3.0
    assert cat.schema["dist"].unit == "kpc"


def test_pandas_round_trip():
    cat = make_catalog()
    frame = cat.to_pandas()
    assert list(frame.columns[:4]) == ["id", "coord_ra", "coord_dec", "parent"]
    np.testing.assert_array_equal(frame["shape_cov_3"].to_numpy(), cat["shape_cov"][:, 1, 1])
    again = SourceCatalog.from_pandas(frame)
    assert_catalogs_equal(cat, again)
    assert again.metadata == {}
    plain = SourceCatalog.from_pandas(pd.DataFrame({"a": [1.5, 2.5], "s": ["x", "yz"]}))
    assert plain.schema["s"].dtype == np.dtype("U2") and plain["a"].tolist() == [1.5, 2.5]
    with pytest.raises(Exception, match="has no column 'id'"):
        SourceCatalog.from_pandas(pd.DataFrame({"x": [1]}), schema=Schema.minimal_source())


def test_real_sextractor_catalog_round_trip(real_data_dir, tmp_path):
    """The SExtractor catalog of the sep test image, with its units, survives astropy → Parquet → astropy."""
    source = Table.read(real_data_dir / "sep_ntt_emmi" / "image.cat", format="ascii.sextractor")
    cat = SourceCatalog.from_astropy(source)
    assert len(cat) == 65 and u.Unit(cat.schema["X2_IMAGE"].unit) == u.pix**2
    path = tmp_path / "sex.parquet"
    write_parquet(path, cat)
    again = read_parquet(path)
    assert_catalogs_equal(cat, again)
    back = Table.read(path)
    for name in source.colnames:
        np.testing.assert_array_equal(back[name], source[name])
        assert back[name].unit == source[name].unit
