# SPDX-License-Identifier: GPL-3.0-or-later
"""`compute_srd_metrics`: all SRD metrics of a matched multi-visit catalog in one call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .astrometry import relative_astrometry
from .ellipticity import ellipticity_correlations
from .matched_table import MatchedTable, SrdMetricsConfig, load_matched_table
from .photometry import photometric_repeatability
from .srd import MetricSet, MetricValue

__all__ = ["METRIC_GROUPS", "compute_srd_metrics"]

#: The metric families and the metrics each computes, in report order.
METRIC_GROUPS: Mapping[str, tuple[str, ...]] = {
    "photometry": ("PA1", "PF1", "PA2"),
    "astrometry": ("AM1", "AF1", "AD1", "AM2", "AF2", "AD2", "AM3", "AF3", "AD3"),
    "ellipticity": ("TE1", "TE2"),
}


def compute_srd_metrics(
    source: Any,
    *,
    config: SrdMetricsConfig | None = None,
    column_map: Mapping[str, str] | None = None,
) -> MetricSet:
    """Compute the SRD metrics (PA1, PF1, PA2, AM1–3, AF1–3, AD1–3, TE1, TE2) of a matched table.

    Parameters
    ----------
    source : table-like, path or `MatchedTable`
        A multi-visit source table already matched into objects: anything
        `~skystack.qa.matched_table.load_matched_table` reads (astropy/pandas/pyarrow table,
        `~skystack.table.SourceCatalog`, mapping of arrays, Parquet or FITS path), or a
        `MatchedTable`.
    config : `SrdMetricsConfig`, optional
        Selection cuts and metric parameters; the SRD defaults if not given. It is checked
        (cross-field validation) before use.
    column_map : mapping of `str` to `str`, optional
        ``{ours: theirs}`` column names (ignored when ``source`` is a `MatchedTable`).

    Returns
    -------
    metrics : `MetricSet`
        Per band: PA1, PF1, PA2, then AMx/AFx/ADx for x = 1, 2, 3, then TE1, TE2 (if the table has
        shape columns). A metric that cannot be computed (no star or pair passes the cuts, a
        requested band is absent) is NaN with a ``reason``; nothing is raised for an empty
        selection.

    Raises
    ------
    MatchedTableError
        If the table lacks required columns or cannot be read.
    ConfigValidationError
        If the config is inconsistent.
    """
    config = SrdMetricsConfig() if config is None else config
    config.check()
    if isinstance(source, MatchedTable):
        table = source
    else:
        table = load_matched_table(source, column_map=column_map, flag_columns=config.flag_columns)
    present = table.bands
    bands = list(config.bands) or present
    notes: list[str] = []
    if table.shapes is None:
        notes.append("the table has no shape columns: TE1/TE2 not computed")
    metrics: list[MetricValue] = []
    for band in bands:
        if band not in present:
            reason = f"band {band!r} is not in the table (bands: {', '.join(present) or 'none'})"
            names = METRIC_GROUPS["photometry"] + METRIC_GROUPS["astrometry"]
            if table.shapes is not None:
                names += METRIC_GROUPS["ellipticity"]
            metrics.extend(MetricValue.undefined(n, band, reason) for n in names)
            continue
        metrics.extend(photometric_repeatability(table, band, config))
        metrics.extend(relative_astrometry(table, band, config))
        if table.shapes is not None:
            metrics.extend(ellipticity_correlations(table, band, config))
    return MetricSet(tuple(metrics), config.to_dict(), tuple(notes))
