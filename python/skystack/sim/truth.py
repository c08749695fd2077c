# SPDX-License-Identifier: GPL-3.0-or-later
"""Truth products: per visit/detector (true WCS, PSF, zero point, background) and per object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .sky import SkyCatalog

__all__ = ["write_object_truth", "write_table", "write_visit_truth"]


def write_table(rows: dict[str, list[Any]] | dict[str, np.ndarray], path: Path) -> Path:
    """Write columns as a Parquet table."""
    pq.write_table(pa.table({k: np.asarray(v) for k, v in rows.items()}), path)
    return path


def write_object_truth(sky: SkyCatalog, path: Path) -> Path:
    """Per-object truth (type, position at the catalogue epoch, mean magnitudes, shape, variability)."""
    return write_table(sky.to_columns(), path)


def write_visit_truth(records: list[dict[str, Any]], wcs_json: dict[str, Any], folder: Path) -> None:
    """``visit_detector.parquet`` (one row per visit/detector) and ``wcs.json`` (true WCS by key)."""
    columns = {k: [r[k] for r in records] for k in records[0]} if records else {}
    write_table(columns, folder / "visit_detector.parquet")
    (folder / "wcs.json").write_text(json.dumps(wcs_json), encoding="utf-8")
