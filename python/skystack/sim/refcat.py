# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated reference catalogue: the bright stars, with errors, an epoch and proper motions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .sky import BANDS, ObjectKind, SkyCatalog

__all__ = ["make_refcat", "write_refcat"]


def make_refcat(
    sky: SkyCatalog, mag_max: float, epoch: float, position_error_mas: float, flux_error: float, seed: int
) -> pa.Table:
    """Stars (constant and variable) brighter than ``mag_max`` in r, as observed at ``epoch``.

    Positions are propagated to ``epoch`` and perturbed by ``position_error_mas``; proper motions by
    a tenth of that per year; fluxes (nJy, mean) by the fractional ``flux_error``.
    """
    rng = np.random.default_rng([seed, 7200])
    sel = np.isin(sky.kind, [int(ObjectKind.STAR), int(ObjectKind.VARIABLE)]) & (sky.mag[:, 2] < mag_max)
    years = epoch - sky.epoch
    n = int(sel.sum())
    dec0 = sky.dec[sel]
    cosd = np.cos(np.radians(dec0))
    err_deg = position_error_mas / 3.6e6
    ra = sky.ra[sel] + sky.pm_ra[sel] * years / 3.6e6 / cosd + rng.normal(0, err_deg, n) / cosd
    dec = dec0 + sky.pm_dec[sel] * years / 3.6e6 + rng.normal(0, err_deg, n)
    pm_err = position_error_mas / 10.0
    cols: dict[str, np.ndarray] = {
        "id": sky.id[sel],
        "ra": np.mod(ra, 360.0),
        "dec": dec,
        "ra_err": np.full(n, position_error_mas),
        "dec_err": np.full(n, position_error_mas),
        "pm_ra": sky.pm_ra[sel] + rng.normal(0, pm_err, n),
        "pm_dec": sky.pm_dec[sel] + rng.normal(0, pm_err, n),
        "pm_ra_err": np.full(n, pm_err),
        "pm_dec_err": np.full(n, pm_err),
        "epoch": np.full(n, epoch),
    }
    for b, band in enumerate(BANDS):
        flux = 10 ** ((31.4 - sky.mag[sel, b]) / 2.5)
        cols[f"{band}_flux"] = flux * (1.0 + rng.normal(0, flux_error, n))
        cols[f"{band}_flux_err"] = flux * flux_error
    units = {
        "ra": "deg",
        "dec": "deg",
        "ra_err": "mas",
        "dec_err": "mas",
        "pm_ra": "mas/yr",
        "pm_dec": "mas/yr",
        "pm_ra_err": "mas/yr",
        "pm_dec_err": "mas/yr",
        "epoch": "Julian year",
    }
    fields = [
        pa.field(k, pa.array(v).type, metadata={"unit": units.get(k, "nJy" if "flux" in k else "")})
        for k, v in cols.items()
    ]
    meta = {
        "epoch": str(epoch),
        "description": "skystack simulated reference catalogue (pm_ra includes cos dec)",
    }
    return pa.table(cols, schema=pa.schema(fields, metadata=meta))


def write_refcat(table: pa.Table, path: str | Path) -> Path:
    """Write the reference catalogue as Parquet."""
    out = Path(path)
    pq.write_table(table, out)
    return out
