# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference-catalogue loading: shards joined, proper motions applied, trimmed to a detector.

A reference catalogue is ingested as HEALPix shards (Arrow tables, see
``skystack.instruments.refcat_ingest``). For one exposure the shards overlapping the detector are
concatenated, their positions moved from the catalogue epoch to the exposure's epoch with the
proper motions, and the stars trimmed to the detector box (plus a margin) through an approximate
WCS. The result is plain arrays in a `ReferenceCatalog`.

Column conventions (those of ``skystack simulate`` and of the Gaia column maps): ``ra``, ``dec``
(degrees), optional ``pm_ra`` (mas/yr, **including** the cos(dec) factor, as Gaia's ``pmra``),
``pm_dec`` (mas/yr), ``epoch`` (Julian year) per row or in the table metadata, ``ra_err`` and
``dec_err`` (mas), and fluxes ``<band>_flux`` / ``<band>_flux_err`` in nJy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from skystack.geom import Box2I, SkyWcs

__all__ = ["ReferenceCatalog", "ReferenceCatalogError", "load_reference_catalog", "mjd_to_julian_year"]

_MAS_PER_DEG = 3.6e6


class ReferenceCatalogError(ValueError):
    """A reference catalogue is missing a column, or no shard was given."""


def mjd_to_julian_year(mjd: float) -> float:
    """The Julian epoch (e.g. 2016.0) of a (TAI or UTC) MJD; exact to well under a day."""
    return 2000.0 + (float(mjd) - 51544.5) / 365.25


@dataclass(frozen=True)
class ReferenceCatalog:
    """Reference stars for one detector, as plain arrays (all of one length).

    Attributes
    ----------
    id : `numpy.ndarray`
        Reference ids (int64).
    ra, dec : `numpy.ndarray`
        Positions (degrees) at the requested epoch.
    ra_err, dec_err : `numpy.ndarray`
        Position errors (mas) at the requested epoch (catalogue error and proper-motion error
        propagated in quadrature when the latter is known).
    flux, flux_err : `numpy.ndarray`
        Flux and error (nJy) in the requested band (NaN when no band was asked for).
    x, y : `numpy.ndarray`
        Pixel positions through the WCS used for trimming (NaN when no WCS was given).
    epoch : `float`
        The Julian epoch the positions refer to.
    band : `str` or `None`
        The band of ``flux``.
    """

    id: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    ra_err: np.ndarray
    dec_err: np.ndarray
    flux: np.ndarray
    flux_err: np.ndarray
    x: np.ndarray
    y: np.ndarray
    epoch: float
    band: str | None

    def __len__(self) -> int:
        return int(self.ra.size)

    def select(self, keep: np.ndarray) -> ReferenceCatalog:
        """A catalogue of the rows where the boolean or index array ``keep`` selects."""
        return ReferenceCatalog(
            id=self.id[keep],
            ra=self.ra[keep],
            dec=self.dec[keep],
            ra_err=self.ra_err[keep],
            dec_err=self.dec_err[keep],
            flux=self.flux[keep],
            flux_err=self.flux_err[keep],
            x=self.x[keep],
            y=self.y[keep],
            epoch=self.epoch,
            band=self.band,
        )


def _column(table: pa.Table, name: str, default: float | None, what: str) -> np.ndarray:
    if name in table.column_names:
        return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=float)
    if default is None:
        raise ReferenceCatalogError(
            f"Reference catalogue has no column {name!r} ({what}); it has {table.column_names}. "
            "Re-ingest it with a column map that provides it (butler ingest-refcat --column-map)."
        )
    return np.full(table.num_rows, default)


def _table_epoch(table: pa.Table) -> np.ndarray:
    if "epoch" in table.column_names:
        return np.asarray(table.column("epoch").to_numpy(zero_copy_only=False), dtype=float)
    meta = table.schema.metadata or {}
    text = meta.get(b"epoch")
    if text is None:
        return np.full(table.num_rows, np.nan)
    return np.full(table.num_rows, float(text.decode()))


def load_reference_catalog(
    shards: Sequence[pa.Table],
    *,
    epoch: float | None = None,
    band: str | None = None,
    wcs: SkyWcs | None = None,
    bbox: Box2I | None = None,
    margin: float = 50.0,
) -> ReferenceCatalog:
    """Join reference shards, apply proper motions and trim to a detector.

    Parameters
    ----------
    shards : sequence of `pyarrow.Table`
        The shards overlapping the detector (duplicates by ``id`` are dropped).
    epoch : `float`, optional
        Julian epoch to move positions to (`mjd_to_julian_year` of the exposure); `None` keeps
        the catalogue epoch. Rows without proper motions keep their positions.
    band : `str`, optional
        Band whose ``<band>_flux`` and ``<band>_flux_err`` columns fill ``flux``/``flux_err``.
    wcs, bbox : optional
        Approximate WCS and detector box; when both are given only stars whose pixel position is
        inside ``bbox`` grown by ``margin`` pixels are kept, and ``x``/``y`` are filled.
    margin : `float`
        Margin in pixels (cover the pointing error of the approximate WCS).

    Returns
    -------
    catalog : `ReferenceCatalog`

    Raises
    ------
    ReferenceCatalogError
        If no shard is given, or a needed column is missing.
    """
    if not shards:
        raise ReferenceCatalogError("No reference-catalogue shard overlaps this detector")
    tables = [t for t in shards if t.num_rows]
    if not tables:
        tables = [shards[0]]
    ids = np.concatenate(
        [
            np.asarray(t.column("id").to_numpy(zero_copy_only=False), dtype=np.int64)
            if "id" in t.column_names
            else np.arange(t.num_rows, dtype=np.int64)
            for t in tables
        ]
    )

    def gather(name: str, default: float | None, what: str) -> np.ndarray:
        return np.concatenate([_column(t, name, default, what) for t in tables])

    cols = {
        "ra": gather("ra", None, "right ascension, degrees"),
        "dec": gather("dec", None, "declination, degrees"),
        "ra_err": gather("ra_err", np.nan, ""),
        "dec_err": gather("dec_err", np.nan, ""),
        "pm_ra": gather("pm_ra", 0.0, ""),
        "pm_dec": gather("pm_dec", 0.0, ""),
        "pm_ra_err": gather("pm_ra_err", 0.0, ""),
        "pm_dec_err": gather("pm_dec_err", 0.0, ""),
        "epoch": np.concatenate([_table_epoch(t) for t in tables]),
    }
    if band is not None:
        cols["flux"] = gather(f"{band}_flux", None, f"flux in band {band!r}, nJy")
        cols["flux_err"] = gather(f"{band}_flux_err", np.nan, "")
    else:
        cols["flux"] = cols["flux_err"] = np.full(ids.size, np.nan)
    _, first = np.unique(ids, return_index=True)
    if first.size != ids.size:  # a star in two shards (ingested twice) is kept once
        first.sort()
        ids = ids[first]
        cols = {k: v[first] for k, v in cols.items()}
    ra, dec, ra_err, dec_err = cols["ra"], cols["dec"], cols["ra_err"], cols["dec_err"]
    cat_epoch = cols["epoch"]
    out_epoch = float(np.nanmedian(cat_epoch)) if epoch is None and np.isfinite(cat_epoch).any() else epoch
    if epoch is not None:
        dt = np.where(np.isfinite(cat_epoch), epoch - cat_epoch, 0.0)
        cosd = np.cos(np.radians(dec))
        dec = dec + cols["pm_dec"] * dt / _MAS_PER_DEG
        ra = np.mod(ra + cols["pm_ra"] * dt / _MAS_PER_DEG / np.maximum(cosd, 1e-12), 360.0)
        ra_err = np.hypot(ra_err, cols["pm_ra_err"] * dt)
        dec_err = np.hypot(dec_err, cols["pm_dec_err"] * dt)
    x = np.full(ra.size, np.nan)
    y = np.full(ra.size, np.nan)
    keep = np.ones(ra.size, dtype=bool)
    if wcs is not None and bbox is not None:
        x, y = (np.asarray(v, dtype=float) for v in wcs.sky_to_pixel(ra, dec))
        keep = (
            (x >= bbox.min_x - 0.5 - margin)
            & (x <= bbox.max_x + 0.5 + margin)
            & (y >= bbox.min_y - 0.5 - margin)
            & (y <= bbox.max_y + 0.5 + margin)
        )
    return ReferenceCatalog(
        id=ids,
        ra=ra,
        dec=dec,
        ra_err=ra_err,
        dec_err=dec_err,
        flux=cols["flux"],
        flux_err=cols["flux_err"],
        x=x,
        y=y,
        epoch=float("nan") if out_epoch is None else float(out_epoch),
        band=band,
    ).select(keep)
