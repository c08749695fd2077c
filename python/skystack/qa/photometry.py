# SPDX-License-Identifier: GPL-3.0-or-later
"""Photometric repeatability of bright stars: PA1, PF1 and PA2 (LSST SRD Table 14).

For the stars of a band (see `~skystack.qa.matched_table.select_stars`), each star's PSF
magnitudes are compared with their mean:

- **PA1** is the median over stars of the population RMS (ddof=0) of the magnitudes, in mmag;
- **PF1** is the percentage of all those measurements whose deviation from their star's mean
  exceeds the PA2 design value (15 mmag in g, r, i; 22.5 mmag in u, z, y);
- **PA2** (measured) is the deviation exceeded by PF1-design (10 %) of the measurements.

Everything is grouped with ``np.bincount`` over star indices: no loop over stars.
"""

from __future__ import annotations

import numpy as np

from .matched_table import MatchedTable, SrdMetricsConfig, select_stars
from .srd import MetricValue, srd_threshold

__all__ = ["photometric_repeatability", "repeatability_rms"]


def repeatability_rms(group: np.ndarray, values: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population RMS (ddof=0) about the mean of ``values`` within each group.

    Parameters
    ----------
    group : `numpy.ndarray` of int
        Group index of each value, in ``[0, n_groups)``.
    values : `numpy.ndarray` of float
        The values (e.g. magnitudes).
    n_groups : `int`
        Number of groups.

    Returns
    -------
    mean, rms : `numpy.ndarray`
        Per group; NaN for empty groups. Two passes (mean, then squared deviations), so the RMS of
        magnitudes near 20 keeps its precision at the micro-magnitude level.
    """
    counts = np.bincount(group, minlength=n_groups).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group, weights=values, minlength=n_groups) / counts
        dev = values - mean[group]
        rms = np.sqrt(np.bincount(group, weights=dev * dev, minlength=n_groups) / counts)
    return mean, rms


def photometric_repeatability(table: MatchedTable, band: str, config: SrdMetricsConfig) -> list[MetricValue]:
    """PA1, PF1 and PA2 of one band.

    Parameters
    ----------
    table : `MatchedTable`
        The matched multi-visit table.
    band : `str`
        Band to compute.
    config : `SrdMetricsConfig`
        Cuts: ``min_snr``, ``max_extendedness``, ``min_measurements``; flagged rows are dropped.

    Returns
    -------
    metrics : `list` of `MetricValue`
        ``[PA1, PF1, PA2]``; NaN values with a ``reason`` if no star passes the cuts.
    """
    usable = (
        ~table.flagged & np.isfinite(table.psf_mag) & np.isfinite(table.psf_mag_err) & (table.psf_mag_err > 0)
    )
    sample = select_stars(
        table,
        band,
        usable,
        min_snr=config.min_snr,
        max_extendedness=config.max_extendedness,
        min_measurements=config.min_measurements,
    )
    if sample.n_stars == 0:
        reason = f"no star passes the photometry cuts ({sample.summary})"
        return [MetricValue.undefined(name, band, reason) for name in ("PA1", "PF1", "PA2")]
    mags = table.psf_mag[sample.rows]
    mean, rms = repeatability_rms(sample.star, mags, sample.n_stars)
    abs_dev_mmag = np.abs(mags - mean[sample.star]) * 1000.0
    pa1 = float(np.median(rms)) * 1000.0
    pa2_design = srd_threshold("PA2", band).design
    pf1 = 100.0 * float(np.mean(abs_dev_mmag > pa2_design))
    pa2 = float(np.percentile(abs_dev_mmag, 100.0 - srd_threshold("PF1", band).design))
    n = sample.n_stars
    return [
        MetricValue.from_srd("PA1", band, pa1, n_objects=n),
        MetricValue.from_srd("PF1", band, pf1, n_objects=n),
        MetricValue.from_srd("PA2", band, pa2, n_objects=n),
    ]
