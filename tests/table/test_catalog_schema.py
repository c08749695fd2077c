# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for skystack.table.schema and the IdFactory."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.table import Field, IdFactory, Schema, SchemaError
from skystack.utils.persist import dump_persistable, dumps_json, load_persistable, loads_json


def test_minimal_source_schema():
    schema = Schema.minimal_source()
    assert schema.names == ["id", "coord_ra", "coord_dec", "parent"]
    assert schema["id"].dtype == np.int64
    assert schema["coord_ra"].dtype == np.float64 and schema["coord_ra"].unit == "deg"
    assert "degrees" in schema["coord_dec"].doc
    assert schema["parent"].dtype == np.int64


def test_add_fields_flags_arrays_strings():
    schema = Schema()
    f = schema.add_field("base_PsfFlux_instFlux", "f4", "nJy", "PSF flux")
    assert f.dtype == np.float32 and not f.is_flag and f.default != f.default  # NaN default
    flag = schema.add_flag("base_PsfFlux_flag", "failure")
    assert flag.is_flag and flag.default is False
    cov = schema.add_field("centroid_cov", np.float64, "pixel2", "covariance", shape=(2, 2))
    assert cov.shape == (2, 2) and cov.size == 4
    assert cov.empty(3).shape == (3, 2, 2)
    band = schema.add_field("band", "U8")
    assert band.default == ""
    assert len(schema) == 4 and "band" in schema


@pytest.mark.parametrize("name", ["1abc", "has space", "dash-name", "", "é"])
def test_invalid_names_rejected(name):
    with pytest.raises(SchemaError, match="Invalid field name"):
        Field(name, np.dtype("f8"))


def test_duplicate_and_bad_fields():
    schema = Schema.minimal_source()
    with pytest.raises(SchemaError, match="already has a field named 'id'"):
        schema.add_field("id", "i8")
    with pytest.raises(SchemaError, match="not understood by astropy.units"):
        schema.add_field("flux", "f8", "notaunit")
    with pytest.raises(SchemaError, match="unsupported dtype"):
        schema.add_field("obj", object)
    with pytest.raises(SchemaError, match="maximum length"):
        schema.add_field("name", "U")
    with pytest.raises(SchemaError, match="positive sizes"):
        schema.add_field("bad_shape", "f8", shape=(0,))


def test_aliases():
    schema = Schema.minimal_source()
    schema.add_field("base_PsfFlux_instFlux", "f8", "nJy")
    schema.set_alias("psf_flux", "base_PsfFlux_instFlux")
    assert schema.resolve("psf_flux") == "base_PsfFlux_instFlux"
    assert schema["psf_flux"].unit == "nJy"
    with pytest.raises(SchemaError, match="is not a field"):
        schema.set_alias("ap_flux", "nonexistent")
    with pytest.raises(SchemaError, match="already a field name"):
        schema.set_alias("id", "parent")
    with pytest.raises(KeyError, match="No field or alias 'nope'"):
        schema.resolve("nope")
    sub = schema.select(["id", "psf_flux"])
    assert sub.names == ["id", "base_PsfFlux_instFlux"] and sub.aliases == {
        "psf_flux": "base_PsfFlux_instFlux"
    }


def test_schema_dict_round_trip():
    schema = Schema.minimal_source()
    schema.add_field("cov", "f4", "arcsec2", "cov", shape=(2, 2))
    schema.add_field("band", "U3")
    schema.set_alias("shape", "cov")
    again = Schema.from_dict(loads_json(dumps_json(schema.to_dict())))
    assert again == schema
    assert again.copy() == schema and again.copy() is not again
    with pytest.raises(SchemaError, match="newer than supported"):
        Schema.from_dict({**schema.to_dict(), "version": 999})


def test_id_factory_bit_layout():
    factory = IdFactory(exposure_id=123456, counter_bits=32)
    ids = factory.next_ids(5)
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(ids, (123456 << 32) + np.arange(1, 6))
    exposure, counter = factory.split(ids)
    assert np.all(exposure == 123456)
    np.testing.assert_array_equal(counter, [1, 2, 3, 4, 5])
    assert factory.next_id() == (123456 << 32) + 6
    factory.notify((123456 << 32) + 100)
    assert factory.next_id() == (123456 << 32) + 101
    # the largest exposure id for 32 counter bits keeps ids positive
    big = IdFactory(exposure_id=(1 << 31) - 1, counter_bits=32)
    assert big.next_id() > 0


def test_id_factory_errors_and_persistence():
    with pytest.raises(ValueError, match="does not fit in 31 bits"):
        IdFactory(exposure_id=1 << 31, counter_bits=32)
    with pytest.raises(ValueError, match="counter_bits must be in 1..63"):
        IdFactory(counter_bits=0)
    small = IdFactory(exposure_id=1, counter_bits=2)
    small.next_ids(3)
    with pytest.raises(OverflowError, match="2-bit counter"):
        small.next_id()
    with pytest.raises(ValueError, match="belongs to exposure 2"):
        small.notify(2 << 2 | 1)
    factory = IdFactory(7, 20)
    factory.next_ids(10)
    again = load_persistable(loads_json(dumps_json(dump_persistable(factory))))
    assert again == factory and again.next_id() == factory.next_id()
