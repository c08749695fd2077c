# SPDX-License-Identifier: GPL-3.0-or-later
"""Data-quality metrics: the LSST SRD key performance metrics of any matched catalog (LDM-151 §6).

`compute_srd_metrics` takes a multi-visit source table matched into objects and returns a
`MetricSet` of PA1/PF1/PA2 (photometric repeatability), AM1–3/AF1–3/AD1–3 (relative astrometry)
and TE1/TE2 (PSF-ellipticity residual correlations), each with its SRD design/minimum/stretch
thresholds and verdicts. The same functions serve the pipeline, the demo report and users; the
command line is ``skystack qa-metrics FILE``. See doc/srd-metrics.md.
"""

from .astrometry import (
    AM_SCALES_ARCMIN,
    angular_separation,
    find_pairs_in_annulus,
    pair_separation_rms,
    relative_astrometry,
)
from .compute import METRIC_GROUPS, compute_srd_metrics
from .ellipticity import ellipticity_correlations, ellipticity_from_moments, residual_correlation
from .matched_table import (
    REQUIRED_COLUMNS,
    SHAPE_COLUMNS,
    MatchedTable,
    MatchedTableError,
    SrdMetricsConfig,
    StarSample,
    group_median,
    load_matched_table,
    select_stars,
)
from .photometry import photometric_repeatability, repeatability_rms
from .srd import METRIC_DEFINITIONS, SRD_THRESHOLDS, MetricSet, MetricValue, SrdThreshold, srd_threshold

__all__ = [
    "AM_SCALES_ARCMIN",
    "METRIC_DEFINITIONS",
    "METRIC_GROUPS",
    "REQUIRED_COLUMNS",
    "SHAPE_COLUMNS",
    "SRD_THRESHOLDS",
    "MatchedTable",
    "MatchedTableError",
    "MetricSet",
    "MetricValue",
    "SrdMetricsConfig",
    "SrdThreshold",
    "StarSample",
    "angular_separation",
    "compute_srd_metrics",
    "ellipticity_correlations",
    "ellipticity_from_moments",
    "find_pairs_in_annulus",
    "group_median",
    "load_matched_table",
    "pair_separation_rms",
    "photometric_repeatability",
    "relative_astrometry",
    "repeatability_rms",
    "residual_correlation",
    "select_stars",
    "srd_threshold",
]
