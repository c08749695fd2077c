# SPDX-License-Identifier: GPL-3.0-or-later
"""PA1, PF1, PA2 against analytic expectations, selection cuts and a real Rubin table."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

from skystack.qa import SrdMetricsConfig, compute_srd_metrics, load_matched_table, photometric_repeatability
from skystack.qa.photometry import repeatability_rms

Maker = Callable[..., dict[str, np.ndarray]]


def _expected_median_rms(sigma: float, n_visits: int, n_stars: int) -> tuple[float, float]:
    """Median of the population RMS of n_visits Gaussian values, and the sd of its sample median.

    n * rms^2 / sigma^2 follows chi2(n - 1), so median(rms) = sigma sqrt(chi2.median / n); the sample
    median over n_stars has sd 1 / (2 f(m) sqrt(n_stars)) with f the density of rms at m.
    """
    k = n_visits - 1
    q = stats.chi2.ppf(0.5, k)
    m = sigma * math.sqrt(q / n_visits)
    density = stats.chi2.pdf(q, k) * 2.0 * n_visits * m / sigma**2
    return m, 1.0 / (2.0 * density * math.sqrt(n_stars))


def test_repeatability_rms_matches_numpy_std() -> None:
    group = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2])
    values = np.array([1.0, 2.0, 3.0, 10.0, 14.0, 5.0, 5.0, 5.0, 9.0])
    mean, rms = repeatability_rms(group, values, 4)
    np.testing.assert_allclose(mean[:3], [2.0, 12.0, 6.0])
    np.testing.assert_allclose(rms[:3], [math.sqrt(2 / 3), 2.0, math.sqrt(3.0)])
    assert np.isnan(mean[3]) and np.isnan(rms[3])


def test_pa1_gaussian_scatter_matches_chi_distribution(make_table: Maker) -> None:
    sigma, n_visits, n_stars = 0.005, 10, 500
    result = compute_srd_metrics(make_table(n_stars=n_stars, n_visits=n_visits, mag_sigma=sigma, seed=3))
    pa1 = result.get("PA1", "r")
    expected, sd = _expected_median_rms(sigma * 1000.0, n_visits, n_stars)
    assert pa1.unit == "mmag" and pa1.n_objects == n_stars
    assert abs(pa1.value - expected) < 4.0 * sd, (pa1.value, expected, sd)
    # The ddof=0 RMS is below sigma: PA1 is not the naive sigma = 5 mmag.
    assert expected < 4.6 and pa1.value < 5.0 - 2 * sd
    assert pa1.passed_design is True and pa1.passed_stretch is False


def test_pf1_and_pa2_gaussian(make_table: Maker) -> None:
    sigma, n_visits, n_stars = 0.012, 8, 1000
    result = compute_srd_metrics(make_table(n_stars=n_stars, n_visits=n_visits, mag_sigma=sigma, seed=5))
    # m_i - <m> ~ N(0, sigma^2 (N-1)/N)
    s = sigma * 1000.0 * math.sqrt((n_visits - 1) / n_visits)
    p_out = 2.0 * stats.norm.sf(15.0 / s)
    pf1 = result.get("PF1", "r")
    n_meas = n_stars * n_visits
    # measurements of one star are correlated (they share the mean): allow a generous 5 sd
    assert abs(pf1.value / 100.0 - p_out) < 5.0 * math.sqrt(p_out * (1 - p_out) / n_meas), (pf1.value, p_out)
    q90 = s * stats.norm.ppf(0.95)
    pa2 = result.get("PA2", "r")
    sd_q = math.sqrt(0.9 * 0.1 / n_meas) / (2 * stats.norm.pdf(stats.norm.ppf(0.95)) / s)
    assert abs(pa2.value - q90) < 5.0 * sd_q, (pa2.value, q90)
    assert pf1.passed_design is (pf1.value <= 10.0)


def test_pf1_exact_outlier_fraction(make_table: Maker) -> None:
    table = make_table(n_stars=200, n_visits=10, mag_sigma=0.0)
    mag = table["psf_mag"].reshape(200, 10)
    # 30 stars get +-30 mmag on two visits: the mean is unchanged, 60 of 2000 measurements deviate
    mag[:30, 0] += 0.030
    mag[:30, 1] -= 0.030
    # 20 stars get +-10 mmag (below the 15 mmag PA2 design): not outliers
    mag[50:70, 0] += 0.010
    mag[50:70, 1] -= 0.010
    result = compute_srd_metrics(table)
    assert result.get("PF1", "r").value == pytest.approx(100.0 * 60 / 2000, abs=1e-9)
    # PA1: 150 stars have zero scatter, so the median RMS is 0
    assert result.get("PA1", "r").value == pytest.approx(0.0, abs=1e-6)


def test_selection_cuts_exclude_faint_extended_and_sparse(
    make_table: Maker, concat: Callable[..., Any]
) -> None:
    bright = make_table(n_stars=300, n_visits=6, mag_sigma=0.004, seed=1)
    # 400 noisy faint stars, 400 noisy galaxies, 400 noisy objects with only 2 visits: all excluded
    faint = make_table(n_stars=400, n_visits=6, mag_sigma=0.1, snr=150.0, seed=2, first_object_id=10_000)
    galaxies = make_table(
        n_stars=400, n_visits=6, mag_sigma=0.1, extendedness=1.0, seed=3, first_object_id=20_000
    )
    sparse = make_table(n_stars=400, n_visits=2, mag_sigma=0.1, seed=4, first_object_id=30_000)
    clean = compute_srd_metrics(bright)
    mixed = compute_srd_metrics(concat(bright, faint, galaxies, sparse))
    for name in ("PA1", "PF1", "PA2"):
        assert mixed.get(name, "r").value == clean.get(name, "r").value
        assert mixed.get(name, "r").n_objects == 300
    # lowering the S/N cut lets the faint (noisy) stars in
    loose = compute_srd_metrics(concat(bright, faint), config=SrdMetricsConfig(min_snr=100.0))
    assert loose.get("PA1", "r").n_objects == 700 and loose.get("PA1", "r").value > 50.0


def test_flag_columns_reject_measurements(make_table: Maker) -> None:
    table = make_table(n_stars=100, n_visits=5, mag_sigma=0.003, seed=9)
    reference = compute_srd_metrics(dict(table)).get("PA1", "r").value
    table["psf_mag"] = table["psf_mag"].copy()
    table["psf_mag"][::7] += 1.0  # catastrophic measurements ...
    table["bad"] = np.zeros(len(table["psf_mag"]), dtype=bool)
    table["bad"][::7] = True  # ... all flagged
    unflagged = compute_srd_metrics(table).get("PA1", "r").value
    flagged = compute_srd_metrics(table, config=SrdMetricsConfig(flag_columns=["bad"])).get("PA1", "r")
    assert unflagged > 100.0
    assert flagged.value == pytest.approx(reference, rel=0.25) and flagged.value < 5.0


def test_empty_selection_is_nan_with_reason(make_table: Maker) -> None:
    result = compute_srd_metrics(make_table(n_stars=20, n_visits=4, snr=30.0))
    pa1 = result.get("PA1", "r")
    assert math.isnan(pa1.value) and pa1.passed_design is None
    assert "no star passes the photometry cuts" in pa1.reason
    assert "0 of those with median S/N >= 200" in pa1.reason


def test_requested_band_absent_is_nan_with_reason(make_table: Maker) -> None:
    config = SrdMetricsConfig(bands=["g", "r"])
    result = compute_srd_metrics(make_table(n_stars=30, n_visits=4), config=config)
    assert result.bands == ["g", "r"]
    assert "band 'g' is not in the table (bands: r)" in result.get("PA1", "g").reason
    assert math.isfinite(result.get("PA1", "r").value)


def test_uzy_bands_use_relaxed_pa2_for_pf1(make_table: Maker) -> None:
    table = make_table(n_stars=100, n_visits=10, mag_sigma=0.0, band="z")
    mag = table["psf_mag"].reshape(100, 10)
    mag[:, 0] += 0.020  # deviations of 20 mmag: outliers in g, r, i (15) but not in z (22.5)
    mag[:, 1] -= 0.020
    z = compute_srd_metrics(table).get("PF1", "z")
    assert z.value == 0.0 and z.design == 10.0
    table["band"] = np.full(len(table["band"]), "i")
    assert compute_srd_metrics(table).get("PF1", "i").value == pytest.approx(20.0)


def test_real_rubin_alert_diasources_repeatability(real_data_dir: Path) -> None:
    """Repeatability of real Rubin diaSource PSF fluxes (objects with 16 and 22 detections).

    The 22-detection object has 15 in i and 7 in r: metrics are per band, so PA1(i) uses 16 + 15.

    These are difference-image fluxes of variable sources, so the RMS measures variability rather
    than photometric precision: the test checks the reading, unit handling and grouping on a real
    Arrow table (nested lists, nulls, Rubin column names) against an independent pandas groupby.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = real_data_dir / "alerts" / "rubin_lsstcam_alerts_sample.parquet"
    nested = pq.read_table(path, columns=["prvDiaSources"]).column("prvDiaSources")
    src = pa.Table.from_struct_array(pc.list_flatten(nested))
    flux = src.column("psfFlux").to_numpy()
    err = src.column("psfFluxErr").to_numpy()
    src = src.append_column("psf_mag", pa.array(-2.5 * np.log10(flux) + 31.4))
    src = src.append_column("psf_mag_err", pa.array(2.5 / np.log(10) * err / flux))
    column_map = {"object_id": "diaObjectId", "ixx_psf": "ixxPSF", "iyy_psf": "iyyPSF", "ixy_psf": "ixyPSF"}
    config = SrdMetricsConfig(min_snr=5.0, max_extendedness=1.0, min_measurements=10)
    result = compute_srd_metrics(src, config=config, column_map=column_map)
    pa1 = result.get("PA1", "i")
    assert pa1.n_objects == 2

    frame = src.select(["diaObjectId", "band", "psf_mag", "snr", "extendedness"]).to_pandas()
    frame = frame[frame["band"] == "i"]
    groups = frame.groupby("diaObjectId")
    ok = (groups["psf_mag"].transform("size") >= 10) & (groups["extendedness"].transform("median") < 1.0)
    stars = frame[ok].groupby("diaObjectId")["psf_mag"]
    assert sorted(stars.size()) == [15, 16]
    expected = float(np.median(stars.std(ddof=0))) * 1000.0
    assert pa1.value == pytest.approx(expected, rel=1e-12)
    deviation = (frame[ok]["psf_mag"] - stars.transform("mean")).abs() * 1000.0
    assert result.get("PF1", "i").value == pytest.approx(100.0 * float((deviation > 15.0).mean()))
    # a loaded MatchedTable keeps the one null extendedness as NaN
    table = load_matched_table(src, column_map=column_map)
    assert int(np.isnan(table.extendedness).sum()) == 1
    assert sorted(np.unique(table.object_id, return_counts=True)[1]) == [2, 16, 22]


def test_photometric_repeatability_direct_call(make_table: Maker) -> None:
    table = load_matched_table(make_table(n_stars=50, n_visits=5, mag_sigma=0.002))
    names = [m.name for m in photometric_repeatability(table, "r", SrdMetricsConfig())]
    assert names == ["PA1", "PF1", "PA2"]
