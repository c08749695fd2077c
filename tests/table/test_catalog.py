# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for skystack.table.catalog.SourceCatalog and SourceRecord."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.table import Field, Schema, SchemaError, SourceCatalog


def make_schema() -> Schema:
    schema = Schema.minimal_source()
    schema.add_field("flux", "f4", "nJy", "PSF flux")
    schema.add_flag("flag_bad", "bad pixel in footprint")
    schema.add_field("cov", "f8", "pixel2", "centroid covariance", shape=(2, 2))
    schema.add_field("band", "U4", doc="band")
    schema.set_alias("psf_flux", "flux")
    return schema


def make_catalog(n: int = 10) -> SourceCatalog:
    cat = SourceCatalog(make_schema(), n)
    cat["id"] = np.arange(1, n + 1)
    cat["coord_ra"] = np.linspace(10, 11, n)
    cat["flux"] = np.arange(n, dtype=np.float32) * 2
    cat["band"] = "r"
    return cat


def test_defaults_and_column_views():
    cat = SourceCatalog(make_schema(), 3)
    assert len(cat) == 3
    assert np.all(np.isnan(cat["coord_ra"])) and np.all(cat["parent"] == 0)
    assert not cat["flag_bad"].any() and cat["cov"].shape == (3, 2, 2)
    col = cat["flux"]
    col[1] = 5.0  # a view: writes go into the catalog
    assert cat["flux"][1] == 5.0 and cat.psf_flux[1] == 5.0 and cat.flux[1] == 5.0
    assert cat["flux"].flags.writeable


def test_record_access_writes_through():
    cat = make_catalog()
    rec = cat[3]
    assert rec["id"] == 4 and rec.id == 4 and rec.psf_flux == 6.0
    rec.flux = 42.0
    rec["flag_bad"] = True
    assert cat["flux"][3] == 42.0 and cat["flag_bad"][3]
    assert cat[-1].id == 10
    with pytest.raises(IndexError, match="out of range"):
        cat[10]
    with pytest.raises(AttributeError, match="no field 'nope'"):
        rec.nope = 1
    assert rec.to_dict()["band"] == "r"


def test_selection():
    cat = make_catalog()
    bright = cat[cat["flux"] > 10]
    np.testing.assert_array_equal(bright["id"], [7, 8, 9, 10])
    bright["flux"][:] = 0  # a copy: the parent is unchanged
    assert cat["flux"][9] == 18
    picked = cat[np.array([2, 0])]
    np.testing.assert_array_equal(picked["id"], [3, 1])
    view = cat[2:5]
    view["flux"][0] = -1  # a slice is a view
    assert cat["flux"][2] == -1 and len(view) == 3
    with pytest.raises(IndexError, match="Boolean selection has shape"):
        cat[np.ones(3, dtype=bool)]
    with pytest.raises(IndexError, match="Select rows with"):
        cat[np.array([1.5])]


def test_append_extend_concatenate():
    cat = make_catalog(2)
    rec = cat.add_record({"id": 100, "flux": 1.5})
    assert len(cat) == 3 and rec.id == 100 and np.isnan(cat["coord_ra"][2])
    cat.extend({"id": np.arange(200, 1200), "flux": np.ones(1000)})
    assert len(cat) == 1003 and cat["id"][-1] == 1199 and cat["flux"][-1] == 1.0
    assert cat.capacity >= 1003
    other = make_catalog(4)
    both = SourceCatalog.concatenate([cat, other])
    assert len(both) == 1007
    np.testing.assert_array_equal(both["id"][-4:], [1, 2, 3, 4])
    assert both["band"][-1] == "r" and both["band"][3] == ""
    with pytest.raises(SchemaError, match="not in this catalog"):
        cat.extend({"unknown": np.ones(2)})
    with pytest.raises(SchemaError, match="different lengths"):
        cat.extend({"id": np.ones(2), "flux": np.ones(3)})
    with pytest.raises(SchemaError, match="Unknown fields"):
        cat.add_record({"nope": 1})
    with pytest.raises(ValueError, match="at least one catalog"):
        SourceCatalog.concatenate([])


def test_strings_too_long_rejected():
    cat = make_catalog(2)
    with pytest.raises(SchemaError, match="do not fit field 'band'"):
        cat["band"] = np.array(["toolong", "r"])


def test_add_and_remove_column():
    cat = make_catalog(5)
    col = cat.add_column(Field("snr", np.dtype("f8"), "", "signal to noise"), values=np.arange(5.0))
    np.testing.assert_array_equal(cat["snr"], np.arange(5.0))
    col[0] = 9
    assert cat["snr"][0] == 9
    cat.add_column(Field("is_star", np.dtype(bool)))
    assert not cat["is_star"].any()
    # rows appended after add_column get defaults in the new column
    cat.add_record({"id": 99})
    assert np.isnan(cat["snr"][-1])
    with pytest.raises(SchemaError, match="already has a field named 'snr'"):
        cat.add_column(Field("snr", np.dtype("f8")))
    with pytest.raises(SchemaError, match="do not fit"):
        cat.add_column(Field("bad", np.dtype("f8")), values=np.ones(3))
    assert "bad" not in cat.schema
    cat.remove_column("snr")
    assert "snr" not in cat.schema
    with pytest.raises(KeyError, match="No column 'snr'"):
        cat.remove_column("snr")


def test_sort_and_find():
    rng = np.random.default_rng(1)
    cat = make_catalog(1000)
    cat["id"] = rng.permutation(1000) * 3 + 1
    with pytest.raises(ValueError, match=r"call catalog.sort\('id'\)"):
        cat.find(4)
    cat.sort("id")
    assert cat.is_sorted("id")
    assert np.all(cat["flux"] == (cat["flux"]))
    rec = cat.find(301)
    assert rec is not None and rec.id == 301
    assert cat.find(2) is None
    idx = cat.find_indices(np.array([1, 2, 2998, 5000]))
    np.testing.assert_array_equal(idx, [0, -1, 999, -1])


def test_sort_keeps_rows_together():
    cat = make_catalog(6)
    cat["id"] = [5, 3, 1, 6, 2, 4]
    flux_by_id = dict(zip(cat["id"].tolist(), cat["flux"].tolist(), strict=True))
    cat.sort()
    assert [flux_by_id[i] for i in cat["id"].tolist()] == cat["flux"].tolist()


def test_parent_child():
    cat = make_catalog(6)
    cat["parent"] = [0, 1, 1, 0, 4, 1]
    np.testing.assert_array_equal(cat.is_child, [False, True, True, False, True, True])
    np.testing.assert_array_equal(cat.get_children(1)["id"], [2, 3, 6])
    np.testing.assert_array_equal(cat.count_children(), [3, 0, 0, 1, 0, 0])


def test_from_records_and_columns():
    schema = make_schema()
    cat = SourceCatalog.from_records([{"id": 1, "flux": 2.0}, {"id": 2, "band": "g"}], schema)
    np.testing.assert_array_equal(cat["id"], [1, 2])
    assert cat["band"].tolist() == ["", "g"] and np.isnan(cat["flux"][1])
    with pytest.raises(SchemaError, match="not fields of the schema"):
        SourceCatalog.from_records([{"zzz": 1}], schema)
    ids = np.arange(5, dtype=np.int64)
    shared = SourceCatalog.from_columns({"id": ids}, schema, copy=False)
    shared["id"][0] = 10
    assert ids[0] == 10
    inferred = SourceCatalog.from_columns({"a": np.zeros((3, 2), "f4"), "b": np.array(["x", "yy", "z"])})
    assert inferred.schema["a"].shape == (2,) and inferred.schema["b"].dtype == np.dtype("U2")
    with pytest.raises(SchemaError, match="different lengths"):
        SourceCatalog.from_columns({"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(SchemaError, match="rows have shape"):
        SourceCatalog.from_columns({"cov": np.zeros((3, 2))}, schema)
