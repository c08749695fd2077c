# SPDX-License-Identifier: GPL-3.0-or-later
"""``skystack qa-metrics`` through click's CliRunner."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from skystack.cli.qa import qa_metrics
from skystack.qa import SrdMetricsConfig, compute_srd_metrics


@pytest.fixture
def parquet_file(
    make_table: Callable[..., dict[str, np.ndarray]], tmp_path: Path
) -> tuple[Path, dict[str, np.ndarray]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = make_table(
        n_stars=80, n_visits=5, mag_sigma=0.004, pos_sigma_mas=5.0, half_size_deg=0.3, snr=150.0
    )
    renamed = {("mag" if k == "psf_mag" else k): v for k, v in table.items()}
    path = tmp_path / "matched.parquet"
    pq.write_table(pa.table(renamed), path)
    return path, table


def test_cli_json_matches_library(parquet_file: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, table = parquet_file
    result = CliRunner().invoke(
        qa_metrics, [str(path), "--column-map", "psf_mag=mag", "--json", "--min-snr", "100"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = compute_srd_metrics(table, config=SrdMetricsConfig(min_snr=100))
    assert data["metrics"][0]["name"] == "PA1"
    assert data["metrics"][0]["value"] == pytest.approx(expected.get("PA1", "r").value, rel=1e-12)
    assert data["config"]["min_snr"] == 100.0


def test_cli_table_and_band(parquet_file: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, _ = parquet_file
    result = CliRunner().invoke(qa_metrics, [str(path), "--column-map", "psf_mag=mag", "--band", "g"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("metric")
    assert "band 'g' is not in the table (bands: r)" in result.output
    # the default S/N cut of 200 leaves no PA1 star here: reported, not a crash
    default = CliRunner().invoke(qa_metrics, [str(path), "--column-map", "psf_mag=mag"])
    assert default.exit_code == 0 and "PA1[r]: no star passes the photometry cuts" in default.output


def test_cli_errors(parquet_file: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, _ = parquet_file
    missing = CliRunner().invoke(qa_metrics, [str(path)])
    assert missing.exit_code == 1
    assert (
        "lacks required columns: psf_mag" in missing.output and "It has: object_id, visit" in missing.output
    )
    bad_map = CliRunner().invoke(qa_metrics, [str(path), "--column-map", "psf_mag"])
    assert bad_map.exit_code == 2 and "is not OURS=THEIRS" in bad_map.output
    bad_value = CliRunner().invoke(
        qa_metrics, [str(path), "--column-map", "psf_mag=mag", "--min-measurements", "1"]
    )
    assert bad_value.exit_code == 1 and "min_measurements" in bad_value.output
