# SPDX-License-Identifier: GPL-3.0-or-later
"""SRD-metric benchmark: PA1, AM1 pair finding and TE1 on large matched catalogs.

Peers, measured in the same run on the same data:

- PA1 (with the per-object cuts: count, median S/N, median extendedness) on 1,000,000 rows
  (100,000 stars × 10 visits): the same computation with a pandas ``groupby``;
- AM1 pair finding (stars 4′–6′ apart) among 30,000 stars: astropy
  ``search_around_sky`` at 6′ followed by the 4′ cut;
- one visit's TE1 correlation (pairs closer than 1′) among 30,000 stars: astropy
  ``search_around_sky`` at 1′ and a sum over the pairs.

Targets: each no slower than its peer; all SRD metrics of the 10⁶-row catalog ≤ 10 s.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord, search_around_sky

from _util import Row, median_time, print_rows
from skystack.qa import (
    SrdMetricsConfig,
    compute_srd_metrics,
    find_pairs_in_annulus,
    load_matched_table,
    photometric_repeatability,
    residual_correlation,
)

ARCMIN = math.pi / (180 * 60)


def make_table(n_stars: int, n_visits: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A matched table in a 3°×3° field: 5 mmag scatter, 10 mas jitter, 20 % galaxies."""
    rng = np.random.default_rng(seed)
    star = np.repeat(np.arange(n_stars), n_visits)
    n = star.size
    ra0, dec0 = rng.uniform(0, 3, n_stars), rng.uniform(-1.5, 1.5, n_stars)
    snr = rng.uniform(50, 1000, n_stars)[star] * rng.uniform(0.9, 1.1, n)
    jitter = 10 / 3.6e6
    return {
        "object_id": star,
        "visit": np.tile(np.arange(n_visits), n_stars),
        "band": np.full(n, "r"),
        "psf_mag": rng.uniform(16, 21, n_stars)[star] + rng.normal(0, 0.005, n),
        "psf_mag_err": 1.0857 / snr,
        "snr": snr,
        "extendedness": (rng.uniform(size=n_stars) < 0.2).astype(float)[star],
        "ra": ra0[star] + rng.normal(0, jitter, n),
        "dec": dec0[star] + rng.normal(0, jitter, n),
    }


def pandas_pa1(frame: pd.DataFrame) -> float:
    groups = frame.groupby("object_id")
    stats = groups.agg(n=("psf_mag", "size"), snr=("snr", "median"), ext=("extendedness", "median"))
    keep = stats.index[(stats.n >= 3) & (stats.snr >= 200) & (stats.ext < 0.9)]
    sel = frame[frame.object_id.isin(keep)]
    return float(sel.groupby("object_id")["psf_mag"].std(ddof=0).median()) * 1000.0


def main() -> None:
    rows: list[Row] = []
    data = make_table(100_000, 10)
    frame = pd.DataFrame(data)
    table = load_matched_table(data)
    config = SrdMetricsConfig()
    ours_pa1 = photometric_repeatability(table, "r", config)[0].value
    peer_pa1 = pandas_pa1(frame)
    assert abs(ours_pa1 - peer_pa1) < 1e-9, (ours_pa1, peer_pa1)
    t_ours = median_time(lambda: photometric_repeatability(table, "r", config), repeat=5)
    t_peer = median_time(lambda: pandas_pa1(frame), repeat=5)
    rows.append(
        Row("PA1+PF1+PA2 incl. cuts, 10^6 rows", t_ours, "s", t_peer, "pandas", "<= peer", t_ours <= t_peer)
    )

    rng = np.random.default_rng(1)
    n = 30_000
    ra, dec = np.deg2rad(rng.uniform(0, 3, n)), np.deg2rad(rng.uniform(-1.5, 1.5, n))
    coords = SkyCoord(ra * u.rad, dec * u.rad)

    def ours_pairs() -> int:
        i, _ = find_pairs_in_annulus(
            ra, dec, 4 * ARCMIN, 6 * ARCMIN, max_pairs=10**7, rng=np.random.default_rng(0)
        )
        return len(i)

    def astropy_pairs() -> int:
        i, j, sep, _ = search_around_sky(coords, coords, 6 * u.arcmin)
        keep = (i < j) & (sep >= 4 * u.arcmin)
        return int(keep.sum())

    assert ours_pairs() == astropy_pairs()
    t_ours = median_time(ours_pairs, repeat=3)
    t_peer = median_time(astropy_pairs, repeat=3)
    rows.append(
        Row(f"AM1 pairs 4'-6' among {n} stars", t_ours, "s", t_peer, "astropy", "<= peer", t_ours <= t_peer)
    )

    e1, e2 = rng.normal(0, 0.01, (2, n))

    def ours_te() -> float:
        return residual_correlation(ra, dec, e1, e2, 0.0, ARCMIN)[0]

    def astropy_te() -> float:
        i, j, _, _ = search_around_sky(coords, coords, 1 * u.arcmin)
        keep = i != j
        i, j = i[keep], j[keep]
        return float(np.mean(e1[i] * e1[j] + e2[i] * e2[j]))

    assert abs(ours_te() - astropy_te()) < 1e-12
    t_ours = median_time(ours_te, repeat=3)
    t_peer = median_time(astropy_te, repeat=3)
    rows.append(
        Row(
            f"TE1 xi(<1') of {n} stars, one visit",
            t_ours,
            "s",
            t_peer,
            "astropy",
            "<= peer",
            t_ours <= t_peer,
        )
    )

    t_all = median_time(lambda: compute_srd_metrics(data), repeat=3)
    rows.append(
        Row("all SRD metrics, 10^6 rows (100k stars)", t_all, "s", target="<= 10 s", passed=t_all <= 10.0)
    )
    print_rows("SRD metrics (skystack.qa)", rows)


if __name__ == "__main__":
    main()
