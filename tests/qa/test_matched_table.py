# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading matched tables: every input type, column maps, flags and clear errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from skystack.config import ConfigValidationError
from skystack.qa import (
    REQUIRED_COLUMNS,
    MatchedTableError,
    SrdMetricsConfig,
    compute_srd_metrics,
    group_median,
    load_matched_table,
)

Maker = Callable[..., dict[str, np.ndarray]]


@pytest.fixture
def table(make_table: Maker) -> dict[str, np.ndarray]:
    return make_table(n_stars=60, n_visits=5, mag_sigma=0.004, pos_sigma_mas=10.0, half_size_deg=0.2, seed=2)


def _values(result: object) -> list[float]:
    return [m.value for m in result]  # type: ignore[attr-defined]


def test_group_median_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    group = rng.integers(0, 50, 1000)
    values = rng.normal(size=1000)
    med = group_median(group, values, 52)
    expected = [np.median(values[group == g]) for g in range(50)]
    np.testing.assert_allclose(med[:50], expected)
    assert np.isnan(med[50:]).all()


def test_all_input_types_give_the_same_metrics(table: dict[str, np.ndarray], tmp_path: Path) -> None:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from astropy.table import Table

    from skystack.table import SourceCatalog

    reference = _values(compute_srd_metrics(table, config=SrdMetricsConfig(min_snr=100)))
    astropy_table = Table(table)
    pq.write_table(pa.table(table), tmp_path / "m.parquet")
    astropy_table.write(tmp_path / "m.fits")
    catalog = SourceCatalog.from_columns(
        {k: v for k, v in table.items() if k != "band"} | {"band": table["band"].astype("U8")}
    )
    sources = [
        astropy_table,
        pd.DataFrame(table),
        pa.table(table),
        catalog,
        tmp_path / "m.parquet",
        str(tmp_path / "m.fits"),
    ]
    for source in sources:
        got = _values(compute_srd_metrics(source, config=SrdMetricsConfig(min_snr=100)))
        np.testing.assert_array_equal(got, reference, err_msg=type(source).__name__)


def test_column_map_renames_user_columns(table: dict[str, np.ndarray]) -> None:
    import pandas as pd

    theirs = {"objectId": "object_id", "mag_psf": "psf_mag", "coord_ra": "ra", "coord_dec": "dec"}
    frame = pd.DataFrame(table).rename(columns={v: k for k, v in theirs.items()})
    mapped = compute_srd_metrics(frame, column_map={v: k for k, v in theirs.items()})
    assert _values(mapped) == _values(compute_srd_metrics(table))


def test_missing_columns_error_lists_missing_and_present(table: dict[str, np.ndarray]) -> None:
    del table["snr"]
    with pytest.raises(MatchedTableError) as err:
        load_matched_table(table, column_map={"psf_mag": "mag"})
    message = str(err.value)
    assert "lacks required columns: psf_mag (mapped to 'mag'), snr." in message
    assert "It has: object_id, visit, band, psf_mag, psf_mag_err, extendedness, ra, dec" in message
    assert "--column-map ours=theirs" in message


def test_unknown_column_map_key(table: dict[str, np.ndarray]) -> None:
    with pytest.raises(MatchedTableError, match=r"column_map names \['magnitude'\] which are not columns"):
        load_matched_table(table, column_map={"magnitude": "psf_mag"})


def test_missing_flag_column_and_bad_flag_dtype(table: dict[str, np.ndarray]) -> None:
    with pytest.raises(MatchedTableError, match=r"flag column 'sat'.*remove the missing flag columns"):
        load_matched_table(table, flag_columns=["sat"])
    table["sat"] = np.full(len(table["ra"]), "no")
    with pytest.raises(MatchedTableError, match=r"Flag column 'sat' must be boolean or integer"):
        load_matched_table(table, flag_columns=["sat"])


def test_flags_combine_and_nan_flags_reject(table: dict[str, np.ndarray]) -> None:
    n = len(table["ra"])
    table["a"] = np.zeros(n, dtype=bool)
    table["a"][:3] = True
    table["b"] = np.zeros(n)
    table["b"][10] = np.nan
    table["b"][11] = 4.0
    loaded = load_matched_table(table, flag_columns=["a", "b"])
    assert np.flatnonzero(loaded.flagged).tolist() == [0, 1, 2, 10, 11]


def test_inconsistent_lengths_and_partial_shapes(table: dict[str, np.ndarray]) -> None:
    bad = dict(table, dec=table["dec"][:-1])
    with pytest.raises(MatchedTableError, match="different lengths"):
        load_matched_table(bad)
    partial = dict(table, ixx=np.ones(len(table["ra"])))
    with pytest.raises(MatchedTableError, match=r"has shape columns \['ixx'\] but not"):
        load_matched_table(partial)


def test_unreadable_inputs(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    with pytest.raises(MatchedTableError, match=r"Cannot tell the format.*\*\.parquet"):
        load_matched_table(tmp_path / "t.csv")
    with pytest.raises(MatchedTableError, match="does not exist"):
        load_matched_table(tmp_path / "none.parquet")
    with pytest.raises(MatchedTableError, match="Cannot read a matched table from a list"):
        load_matched_table([1, 2, 3])


def test_band_strings_are_normalised(table: dict[str, np.ndarray]) -> None:
    table["band"] = np.char.encode(np.char.add(table["band"], "  "), "ascii")  # FITS-style padded bytes
    assert load_matched_table(table).bands == ["r"]


def test_config_validation() -> None:
    config = SrdMetricsConfig(te2_min_arcmin=10.0, te2_max_arcmin=8.0)
    with pytest.raises(
        ConfigValidationError, match=r"te2_max_arcmin \(8.0\) must exceed te2_min_arcmin \(10.0\)"
    ):
        compute_srd_metrics({c: np.zeros(1) for c in REQUIRED_COLUMNS}, config=config)
