# SPDX-License-Identifier: GPL-3.0-or-later
"""Relative astrometry of star pairs: AM1/AM2/AM3, AF1–3 and AD1–3 (LSST SRD Table 18).

For D = 5′, 20′ and 200′, pairs of bright stars whose mean positions are D ± w apart
(``annulus_half_width_arcmin``, w = 1′ by default: the validate_drp/faro annulus width of 2′) are
found with a k-d tree on unit vectors (`scipy.spatial.cKDTree`; chord radius 2 sin(θ/2)). For
each pair, the angular separation is computed (Vincenty's formula, exact at all separations) in
every visit where both stars are measured; the pair's RMS (ddof=0) of that separation across
those visits is kept if there are at least ``min_measurements`` such visits. Then

- **AMx** is the median of the pair RMS values, in mas;
- **AFx** is the percentage of pairs whose RMS exceeds AMx + ADx(design);
- **ADx** (measured) is the 90th percentile (100 − AFx design) of the pair RMS minus AMx.

For a catalog whose annulus holds more than ``max_pairs`` pairs, pairs are subsampled at random
(seeded): stars are first thinned so that the enumerated pairs within D + w stay near
4 × ``max_pairs`` (the count comes from `cKDTree.count_neighbors`, which enumerates nothing), then
the annulus pairs are subsampled to ``max_pairs``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree

from .matched_table import MatchedTable, SrdMetricsConfig, select_stars
from .srd import MetricValue, srd_threshold

__all__ = [
    "AM_SCALES_ARCMIN",
    "angular_separation",
    "find_pairs_in_annulus",
    "pair_separation_rms",
    "relative_astrometry",
    "unit_vectors",
]

#: The SRD separation scales D of AM1, AM2, AM3 (arcmin).
AM_SCALES_ARCMIN: dict[int, float] = {1: 5.0, 2: 20.0, 3: 200.0}

_ARCMIN = math.pi / (180.0 * 60.0)
_MAS = math.pi / (180.0 * 3600.0 * 1000.0)
_PAIR_ENUMERATION_FACTOR = 4


def angular_separation(ra1: np.ndarray, dec1: np.ndarray, ra2: np.ndarray, dec2: np.ndarray) -> np.ndarray:
    """Angular separation (radians) of points given in radians (Vincenty's formula).

    Accurate to rounding at every separation, unlike the haversine formula near π or the
    cosine formula at small angles.
    """
    dra = ra2 - ra1
    sin_dra, cos_dra = np.sin(dra), np.cos(dra)
    sin1, cos1 = np.sin(dec1), np.cos(dec1)
    sin2, cos2 = np.sin(dec2), np.cos(dec2)
    num1 = cos2 * sin_dra
    num2 = cos1 * sin2 - sin1 * cos2 * cos_dra
    denominator = sin1 * sin2 + cos1 * cos2 * cos_dra
    return np.arctan2(np.hypot(num1, num2), denominator)


def unit_vectors(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """``(n, 3)`` unit vectors of points given in radians."""
    cos_dec = np.cos(dec)
    return np.column_stack((cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)))


def _chord(theta: float) -> float:
    return 2.0 * math.sin(min(theta, math.pi) / 2.0)


def find_pairs_in_annulus(
    ra: np.ndarray,
    dec: np.ndarray,
    inner: float,
    outer: float,
    *,
    max_pairs: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)``, ``i < j``, of points separated by ``inner <= θ <= outer``.

    Parameters
    ----------
    ra, dec : `numpy.ndarray`
        Positions in radians.
    inner, outer : `float`
        Annulus radii in radians.
    max_pairs : `int`
        At most this many pairs are returned (a uniform random subsample beyond it).
    rng : `numpy.random.Generator`
        Random generator of the subsampling.

    Returns
    -------
    i, j : `numpy.ndarray` of int
    """
    n = len(ra)
    empty = np.empty(0, dtype=np.intp)
    if n < 2 or outer < inner:
        return empty, empty
    xyz = unit_vectors(ra, dec)
    r_out = _chord(outer)
    tree = cKDTree(xyz)
    n_within = (int(tree.count_neighbors(tree, r_out)) - n) // 2
    budget = _PAIR_ENUMERATION_FACTOR * max_pairs
    index = np.arange(n)
    if n_within > budget:  # thin the stars so that enumerating pairs stays bounded
        keep = max(2, math.ceil(n * math.sqrt(budget / n_within)))
        index = np.sort(rng.choice(n, size=min(keep, n), replace=False))
        tree = cKDTree(xyz[index])
    pairs = tree.query_pairs(r_out, output_type="ndarray")
    if len(pairs) == 0:
        return empty, empty
    i, j = index[pairs[:, 0]], index[pairs[:, 1]]
    sep = angular_separation(ra[i], dec[i], ra[j], dec[j])
    ok = (sep >= inner) & (sep <= outer)
    i, j = i[ok], j[ok]
    if len(i) > max_pairs:
        pick = np.sort(rng.choice(len(i), size=max_pairs, replace=False))
        i, j = i[pick], j[pick]
    return i, j


def pair_separation_rms(
    star: np.ndarray,
    visit: np.ndarray,
    ra: np.ndarray,
    dec: np.ndarray,
    pair_i: np.ndarray,
    pair_j: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """RMS (ddof=0) across common visits of the separation of each star pair, and their number.

    Parameters
    ----------
    star : `numpy.ndarray` of int
        Star index of each measurement.
    visit : `numpy.ndarray`
        Visit of each measurement (any sortable dtype). If a star has several measurements in a
        visit, the first one is used.
    ra, dec : `numpy.ndarray`
        Measured positions in radians.
    pair_i, pair_j : `numpy.ndarray` of int
        The star pairs.

    Returns
    -------
    rms : `numpy.ndarray`
        Separation RMS of each pair in radians (NaN without a common visit).
    n_visits : `numpy.ndarray` of int
        Number of visits where both stars of the pair are measured.
    """
    n_pairs = len(pair_i)
    if n_pairs == 0:
        return np.empty(0), np.empty(0, dtype=np.intp)
    _, visit_code = np.unique(visit, return_inverse=True)
    n_visit_codes = int(visit_code.max()) + 1
    key = star.astype(np.int64) * n_visit_codes + visit_code
    keys, first = np.unique(key, return_index=True)  # sorted by (star, visit), duplicates dropped
    m_star = star[first]
    m_ra, m_dec = ra[first], dec[first]
    n_stars = int(star.max()) + 1
    counts = np.bincount(m_star, minlength=n_stars)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    # Expand each pair into the measurements of its first star (a ragged arange, vectorised).
    per_pair = counts[pair_i]
    total = int(per_pair.sum())
    pair_of = np.repeat(np.arange(n_pairs), per_pair)
    offsets = np.concatenate(([0], np.cumsum(per_pair)[:-1]))
    row_i = np.repeat(starts[pair_i] - offsets, per_pair) + np.arange(total)
    # Find the second star's measurement in the same visit.
    wanted = pair_j[pair_of].astype(np.int64) * n_visit_codes + (keys[row_i] % n_visit_codes)
    row_j = np.searchsorted(keys, wanted)
    row_j[row_j >= len(keys)] = 0
    found = keys[row_j] == wanted
    pair_of, row_i, row_j = pair_of[found], row_i[found], row_j[found]
    sep = angular_separation(m_ra[row_i], m_dec[row_i], m_ra[row_j], m_dec[row_j])
    n_visits = np.bincount(pair_of, minlength=n_pairs)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(pair_of, weights=sep, minlength=n_pairs) / n_visits
        dev = sep - mean[pair_of]
        rms = np.sqrt(np.bincount(pair_of, weights=dev * dev, minlength=n_pairs) / n_visits)
    return rms, n_visits


def _mean_positions(
    star: np.ndarray, ra: np.ndarray, dec: np.ndarray, n_stars: int
) -> tuple[np.ndarray, np.ndarray]:
    xyz = unit_vectors(ra, dec)
    sums = np.column_stack([np.bincount(star, weights=xyz[:, k], minlength=n_stars) for k in range(3)])
    x, y, z = sums.T
    return np.arctan2(y, x), np.arctan2(z, np.hypot(x, y))


def relative_astrometry(table: MatchedTable, band: str, config: SrdMetricsConfig) -> list[MetricValue]:
    """AM1–3, AF1–3 and AD1–3 of one band.

    Parameters
    ----------
    table : `MatchedTable`
        The matched multi-visit table.
    band : `str`
        Band to compute.
    config : `SrdMetricsConfig`
        Cuts (``astrometry_min_snr``, ``max_extendedness``, ``min_measurements``, flags) and the
        pair parameters (``annulus_half_width_arcmin``, ``max_pairs``, ``seed``).

    Returns
    -------
    metrics : `list` of `MetricValue`
        ``[AM1, AF1, AD1, AM2, AF2, AD2, AM3, AF3, AD3]``; NaN with a ``reason`` where no pair
        qualifies.
    """
    usable = ~table.flagged & np.isfinite(table.ra) & np.isfinite(table.dec)
    sample = select_stars(
        table,
        band,
        usable,
        min_snr=config.astrometry_min_snr,
        max_extendedness=config.max_extendedness,
        min_measurements=config.min_measurements,
    )
    ra = np.deg2rad(table.ra[sample.rows])
    dec = np.deg2rad(table.dec[sample.rows])
    visit = table.visit[sample.rows]
    mean_ra, mean_dec = _mean_positions(sample.star, ra, dec, sample.n_stars)
    rng = np.random.default_rng(config.seed)
    half = config.annulus_half_width_arcmin
    out: list[MetricValue] = []
    for x, scale in AM_SCALES_ARCMIN.items():
        names = (f"AM{x}", f"AF{x}", f"AD{x}")
        i, j = find_pairs_in_annulus(
            mean_ra,
            mean_dec,
            (scale - half) * _ARCMIN,
            (scale + half) * _ARCMIN,
            max_pairs=config.max_pairs,
            rng=rng,
        )
        rms, n_visits = pair_separation_rms(sample.star, visit, ra, dec, i, j)
        good = n_visits >= config.min_measurements
        rms_mas = rms[good] / _MAS
        n_pairs = int(good.sum())
        n_objects = len(np.unique(np.concatenate((i[good], j[good])))) if n_pairs else 0
        if n_pairs == 0:
            reason = (
                f"no pair of stars {scale - half:g}'-{scale + half:g}' apart measured together in "
                f">= {config.min_measurements} visits ({len(i)} pairs in the annulus; {sample.summary} "
                f"at S/N >= {config.astrometry_min_snr:g})"
            )
            out.extend(MetricValue.undefined(n, band, reason) for n in names)
            continue
        am = float(np.median(rms_mas))
        ad_design = srd_threshold(names[2], band).design
        af = 100.0 * float(np.mean(rms_mas > am + ad_design))
        ad = float(np.percentile(rms_mas, 100.0 - srd_threshold(names[1], band).design)) - am
        out.extend(
            MetricValue.from_srd(n, band, v, n_objects=n_objects, n_pairs=n_pairs)
            for n, v in zip(names, (am, af, ad), strict=True)
        )
    return out
