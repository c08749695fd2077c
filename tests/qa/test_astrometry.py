# SPDX-License-Identifier: GPL-3.0-or-later
"""AM1/AM2/AM3, AF and AD against analytic expectations for jittered star pairs."""

from __future__ import annotations

import math
from collections.abc import Callable

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from scipy import stats

from skystack.qa import SrdMetricsConfig, angular_separation, compute_srd_metrics, find_pairs_in_annulus
from skystack.qa.astrometry import pair_separation_rms

Maker = Callable[..., dict[str, np.ndarray]]
ARCMIN = math.pi / (180 * 60)


def _median_rms(sigma_sep: float, n_visits: int, n_pairs: int) -> tuple[float, float]:
    """Median over pairs of the ddof=0 RMS of a separation with Gaussian scatter sigma_sep, and the
    sd of the sample median over n_pairs (n * rms^2 / sigma^2 ~ chi2(n - 1))."""
    k = n_visits - 1
    q = stats.chi2.ppf(0.5, k)
    m = sigma_sep * math.sqrt(q / n_visits)
    density = stats.chi2.pdf(q, k) * 2.0 * n_visits * m / sigma_sep**2
    return m, 1.0 / (2.0 * density * math.sqrt(n_pairs))


def test_angular_separation_matches_astropy() -> None:
    rng = np.random.default_rng(0)
    ra1, ra2 = rng.uniform(0, 2 * np.pi, (2, 1000))
    dec1, dec2 = np.arcsin(rng.uniform(-1, 1, (2, 1000)))
    # tiny and near-antipodal separations too
    ra2[:300], dec2[:300] = ra1[:300] + 1e-9, dec1[:300] - 2e-9
    ra2[300:400], dec2[300:400] = ra1[300:400] + np.pi + 1e-7, -dec1[300:400]
    ours = angular_separation(ra1, dec1, ra2, dec2)
    ref = SkyCoord(ra1 * u.rad, dec1 * u.rad).separation(SkyCoord(ra2 * u.rad, dec2 * u.rad)).rad
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)


def _random_cap(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.deg2rad(rng.uniform(10, 12, n)), np.deg2rad(rng.uniform(-1, 1, n))


def _brute_pairs(ra: np.ndarray, dec: np.ndarray, inner: float, outer: float) -> set[tuple[int, int]]:
    i, j = np.triu_indices(len(ra), k=1)
    sep = angular_separation(ra[i], dec[i], ra[j], dec[j])
    ok = (sep >= inner) & (sep <= outer)
    return set(zip(i[ok].tolist(), j[ok].tolist(), strict=True))


def test_find_pairs_in_annulus_matches_brute_force() -> None:
    ra, dec = _random_cap(300, 1)
    inner, outer = 10 * ARCMIN, 30 * ARCMIN
    expected = _brute_pairs(ra, dec, inner, outer)
    i, j = find_pairs_in_annulus(ra, dec, inner, outer, max_pairs=10**6, rng=np.random.default_rng(0))
    assert set(zip(i.tolist(), j.tolist(), strict=True)) == expected and len(expected) > 500


def test_find_pairs_caps_and_thins_reproducibly() -> None:
    ra, dec = _random_cap(400, 2)
    inner, outer = 30 * ARCMIN, 60 * ARCMIN
    expected = _brute_pairs(ra, dec, inner, outer)
    # 15 pairs: enumeration budget 60 << pairs within 60', so stars are thinned first
    first = find_pairs_in_annulus(ra, dec, inner, outer, max_pairs=15, rng=np.random.default_rng(7))
    again = find_pairs_in_annulus(ra, dec, inner, outer, max_pairs=15, rng=np.random.default_rng(7))
    assert 0 < len(first[0]) <= 15
    assert set(zip(first[0].tolist(), first[1].tolist(), strict=True)) <= expected
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])


def test_pair_separation_rms_uses_common_visits_only() -> None:
    # star 0 in visits 1-4 (visit 2 twice: the first row is used), star 1 in visits 2-5
    star = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
    visit = np.array([1, 2, 2, 3, 4, 2, 3, 4, 5])
    rng = np.random.default_rng(3)
    ra = np.deg2rad(10 + rng.normal(0, 1e-4, 9))
    dec = np.deg2rad(20 + np.where(star == 1, 5 / 60, 0) + rng.normal(0, 1e-4, 9))
    rms, n = pair_separation_rms(star, visit, ra, dec, np.array([0]), np.array([1]))
    a = SkyCoord(ra[[1, 3, 4]] * u.rad, dec[[1, 3, 4]] * u.rad)
    b = SkyCoord(ra[[5, 6, 7]] * u.rad, dec[[5, 6, 7]] * u.rad)
    assert n[0] == 3
    assert rms[0] == pytest.approx(np.std(a.separation(b).rad), rel=1e-9)


def _isolated_pairs(
    n_side: int, spacing_arcmin: float, sep_arcmin: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs exactly sep apart at random position angles, their first stars on a grid."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(n_side), np.arange(n_side))
    dec0 = 5.0 + gy.ravel() * spacing_arcmin / 60
    ra0 = 40.0 + gx.ravel() * spacing_arcmin / 60 / np.cos(np.deg2rad(dec0))
    first = SkyCoord(ra0 * u.deg, dec0 * u.deg)
    second = first.directional_offset_by(rng.uniform(0, 360, ra0.size) * u.deg, sep_arcmin * u.arcmin)
    ra = np.concatenate((first.ra.deg, second.ra.deg))
    dec = np.concatenate((first.dec.deg, second.dec.deg))
    return ra, dec


def test_am1_of_isolated_pairs_exactly_5_arcmin_apart(make_table: Maker) -> None:
    sigma_mas, n_visits = 8.0, 6
    ra, dec = _isolated_pairs(10, 40.0, 5.0, seed=4)
    table = make_table(ra_true=ra, dec_true=dec, n_visits=n_visits, pos_sigma_mas=sigma_mas, seed=5)
    result = compute_srd_metrics(table)
    am1 = result.get("AM1", "r")
    # The separation changes by the difference of the two stars' jitters projected on the
    # separation direction: its sd is sqrt(2) sigma.
    expected, sd = _median_rms(math.sqrt(2) * sigma_mas, n_visits, 100)
    assert am1.n_pairs == 100 and am1.n_objects == 200 and am1.unit == "mas"
    assert abs(am1.value - expected) < 4 * sd, (am1.value, expected, sd)
    # grid cells are 40' apart, so other pairs are at least 30' apart: none is 19'-21' apart
    am2 = result.get("AM2", "r")
    assert math.isnan(am2.value) and "no pair of stars 19'-21' apart" in am2.reason


def test_am_without_jitter_is_zero(make_table: Maker) -> None:
    ra, dec = _isolated_pairs(4, 30.0, 5.0, seed=1)
    am1 = compute_srd_metrics(make_table(ra_true=ra, dec_true=dec, n_visits=4)).get("AM1", "r")
    assert am1.n_pairs == 16 and am1.value < 1e-3 and am1.passed_stretch is True


@pytest.fixture(scope="module")
def jittered_field() -> tuple[dict[str, np.ndarray], float, int]:
    from qa_tables import build_matched_table

    sigma_mas, n_visits = 40.0, 10
    table = build_matched_table(
        n_stars=1500, n_visits=n_visits, pos_sigma_mas=sigma_mas, half_size_deg=4.0, dec_center=0.0, seed=11
    )
    return table, sigma_mas, n_visits


def test_am1_am2_am3_of_a_random_field(jittered_field: tuple[dict[str, np.ndarray], float, int]) -> None:
    table, sigma_mas, n_visits = jittered_field
    result = compute_srd_metrics(table)
    for x in (1, 2, 3):
        am = result.get(f"AM{x}", "r")
        # Pairs share stars, so their RMS values are correlated: there are at most n_objects
        # independent jitter draws, which bounds the effective number of pairs.
        n_eff = min(am.n_pairs, am.n_objects)
        expected, sd = _median_rms(math.sqrt(2) * sigma_mas, n_visits, n_eff)
        assert am.n_pairs > 200
        assert abs(am.value - expected) < 4 * sd, (x, am.value, expected, sd)
    assert result.get("AM3", "r").n_pairs > result.get("AM2", "r").n_pairs > result.get("AM1", "r").n_pairs


def test_af_and_ad_follow_the_chi_distribution(
    jittered_field: tuple[dict[str, np.ndarray], float, int],
) -> None:
    table, sigma_mas, n_visits = jittered_field
    result = compute_srd_metrics(table)
    s = math.sqrt(2) * sigma_mas
    am2, af2, ad2 = (result.get(n, "r") for n in ("AM2", "AF2", "AD2"))
    # P(rms > AM2 + 20 mas) with n rms^2 / s^2 ~ chi2(n - 1)
    p = stats.chi2.sf(n_visits * (am2.value + 20.0) ** 2 / s**2, n_visits - 1)
    assert 1.0 < 100 * p < 20.0  # the construction makes AF2 a sizeable percentage
    assert abs(af2.value / 100 - p) < 5 * math.sqrt(p * (1 - p) / af2.n_pairs), (af2.value, 100 * p)
    expected_ad = s * math.sqrt(stats.chi2.ppf(0.9, n_visits - 1) / n_visits) - am2.value
    assert ad2.value == pytest.approx(expected_ad, rel=0.1)
    assert ad2.design == 20.0 and af2.unit == "%"


def test_max_pairs_caps_the_pairs(jittered_field: tuple[dict[str, np.ndarray], float, int]) -> None:
    table, _, _ = jittered_field
    result = compute_srd_metrics(table, config=SrdMetricsConfig(max_pairs=150, seed=3))
    again = compute_srd_metrics(table, config=SrdMetricsConfig(max_pairs=150, seed=3))
    for x in (1, 2, 3):
        assert result.get(f"AM{x}", "r").n_pairs <= 150
        assert result.get(f"AM{x}", "r").value == again.get(f"AM{x}", "r").value


def test_faint_stars_do_not_enter_astrometry(
    make_table: Maker, concat: Callable[..., dict[str, np.ndarray]]
) -> None:
    ra, dec = _isolated_pairs(5, 30.0, 5.0, seed=2)
    good = make_table(ra_true=ra, dec_true=dec, n_visits=5, pos_sigma_mas=5.0, seed=1)
    # faint stars with huge jitter, 5' from the good ones: excluded by astrometry_min_snr
    faint = make_table(
        ra_true=ra + 5 / 60 / np.cos(np.deg2rad(dec)),
        dec_true=dec,
        n_visits=5,
        pos_sigma_mas=500.0,
        snr=20.0,
        seed=2,
        first_object_id=50_000,
    )
    clean = compute_srd_metrics(good).get("AM1", "r")
    mixed = compute_srd_metrics(concat(good, faint)).get("AM1", "r")
    assert mixed.n_pairs == clean.n_pairs == 25 and mixed.value == clean.value
