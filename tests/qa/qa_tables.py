# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic matched tables with known truth for the SRD-metric tests (builders)."""

from __future__ import annotations

import numpy as np

MAS_DEG = 1.0 / 3.6e6


def build_matched_table(
    *,
    n_stars: int = 500,
    n_visits: int = 10,
    band: str = "r",
    mag_sigma: float = 0.005,
    pos_sigma_mas: float = 0.0,
    ra_center: float = 30.0,
    dec_center: float = -20.0,
    half_size_deg: float = 1.0,
    snr: float = 300.0,
    extendedness: float = 0.0,
    seed: int = 0,
    first_object_id: int = 1000,
    first_visit: int = 100,
    ra_true: np.ndarray | None = None,
    dec_true: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Columns of a matched table: every star measured once in every visit.

    Magnitudes scatter with Gaussian ``mag_sigma`` (mag) about a per-star true magnitude;
    positions scatter with Gaussian ``pos_sigma_mas`` per tangent-plane coordinate.
    """
    rng = np.random.default_rng(seed)
    if ra_true is None or dec_true is None:
        cos0 = np.cos(np.deg2rad(dec_center))
        ra_true = ra_center + rng.uniform(-half_size_deg, half_size_deg, n_stars) / cos0
        dec_true = dec_center + rng.uniform(-half_size_deg, half_size_deg, n_stars)
    n_stars = len(ra_true)
    star = np.repeat(np.arange(n_stars), n_visits)
    n = star.size
    true_mag = rng.uniform(16.0, 19.0, n_stars)
    jitter = rng.normal(0.0, pos_sigma_mas * MAS_DEG, (2, n))
    dec = dec_true[star] + jitter[1]
    ra = ra_true[star] + jitter[0] / np.cos(np.deg2rad(dec_true[star]))
    return {
        "object_id": star + first_object_id,
        "visit": np.tile(np.arange(n_visits), n_stars) + first_visit,
        "band": np.full(n, band),
        "psf_mag": true_mag[star] + rng.normal(0.0, mag_sigma, n),
        "psf_mag_err": np.full(n, 1.0857 / snr),
        "snr": np.full(n, snr),
        "extendedness": np.full(n, extendedness),
        "ra": ra,
        "dec": dec,
    }


def concat_tables(*tables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Row-concatenate column dicts with the same keys."""
    return {k: np.concatenate([t[k] for t in tables]) for k in tables[0]}
