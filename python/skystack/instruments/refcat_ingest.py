# SPDX-License-Identifier: GPL-3.0-or-later
"""Ingest a reference catalogue into a Butler repository, sharded by HEALPix (``butler ingest-refcat``).

Input files (FITS binary tables, CSV or Parquet) are read, their columns renamed by a column
map, and the rows split by their nested HEALPix pixel at the registry's sky-pixel level
(``healpix8``). Each shard becomes one Parquet dataset (storage class ``ArrowTable``) of the
dataset type named after the catalogue, with dimensions ``(healpix8,)``.

Column map: output name → input column, or ``mag:<column>`` to convert an AB magnitude into a
flux in nJy (``10**((31.4 - mag) / 2.5)``). The output must have ``ra`` and ``dec`` in degrees.
Input columns that are not renamed (magnitudes converted to fluxes included) are kept unless
``keep_unmapped=False``.

All files of a catalogue are read together (so rows of one shard coming from several files end
up in one dataset); ingest a catalogue in one call. Shards that already exist in the run are left
unchanged, so ingesting again is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from skystack.butler import DatasetRef, DatasetType
from skystack.geom import healpix_index

if TYPE_CHECKING:
    from skystack.butler import Butler

__all__ = [
    "REFCAT_RUN",
    "RefcatError",
    "RefcatIngestResult",
    "ingest_refcat",
    "read_catalog_file",
    "refcat_dataset_type",
    "remap_columns",
]

REFCAT_RUN = "refcats"
"""The default RUN of reference catalogues."""
_NJY_AB_ZERO_POINT = 31.4


class RefcatError(ValueError):
    """A reference-catalogue file cannot be read or lacks the columns the map names."""


def refcat_dataset_type(name: str, level: int = 8) -> DatasetType:
    """The dataset type of catalogue ``name``: dimensions ``(healpix<level>,)``, ``ArrowTable``."""
    return DatasetType(name, (f"healpix{level}",), "ArrowTable")


def read_catalog_file(path: str | os.PathLike[str]) -> pa.Table:
    """Read a FITS binary table (first table HDU), CSV or Parquet file as an Arrow table.

    FITS columns with more than one value per row are left out (reference catalogues are flat).

    Raises
    ------
    RefcatError
        If the file does not exist, has an unknown extension or cannot be read (named).
    """
    p = Path(path)
    if not p.is_file():
        raise RefcatError(f"reference catalogue file {p} does not exist")
    name = p.name.lower()
    try:
        if name.endswith((".parquet", ".parq", ".pq")):
            import pyarrow.parquet as pq

            return pq.read_table(p)
        if name.endswith((".csv", ".csv.gz")):
            import pyarrow.csv as pcsv

            return pcsv.read_csv(p)
        if name.endswith((".fits", ".fit", ".fits.gz", ".fit.gz")):
            from astropy.io import fits

            with fits.open(p, memmap=False) as hdus:
                hdu = next((h for h in hdus if isinstance(h, fits.BinTableHDU)), None)
                if hdu is None:
                    raise RefcatError(f"{p} has no binary-table HDU")
                data = hdu.data
                columns: dict[str, Any] = {}
                for col in hdu.columns.names:
                    values = np.asarray(data[col])
                    if values.ndim == 1:
                        columns[col] = values.astype(values.dtype.newbyteorder("="), copy=False)
                return pa.table(columns)
    except RefcatError:
        raise
    except (OSError, ValueError, pa.ArrowException) as err:
        raise RefcatError(f"cannot read reference catalogue file {p}: {err}") from err
    raise RefcatError(f"{p}: unknown catalogue format; use .fits, .csv or .parquet files")


def remap_columns(
    table: pa.Table, column_map: Mapping[str, str], *, keep_unmapped: bool = True, source: str = "<table>"
) -> pa.Table:
    """Rename (and convert) columns by a column map (see the module docstring).

    Raises
    ------
    RefcatError
        If a mapped input column is missing (the available ones are listed).
    """
    names = table.column_names
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    used: set[str] = set()
    for target, spec in column_map.items():
        column = spec[4:] if spec.startswith("mag:") else spec
        if column not in names:
            raise RefcatError(f"{source}: column map {target}={spec} names no column; available: {names}")
        values = table.column(column)
        if not spec.startswith("mag:"):
            used.add(column)  # renamed; a magnitude converted to a flux is kept as well
        else:
            mag = values.to_numpy(zero_copy_only=False).astype(float)
            values = pa.array(10.0 ** ((_NJY_AB_ZERO_POINT - mag) / 2.5))
        out[target] = values
    if keep_unmapped:
        for column in names:
            if column not in used and column not in out:
                out[column] = table.column(column)
    return pa.table(out)


@dataclass
class RefcatIngestResult:
    """What `ingest_refcat` did: the shard datasets (new and existing) and row counts."""

    refs: list[DatasetRef] = field(default_factory=list)
    n_rows: int = 0
    n_new_shards: int = 0
    shard_rows: dict[int, int] = field(default_factory=dict)


def ingest_refcat(
    butler: Butler,
    files: Iterable[str | os.PathLike[str]],
    name: str,
    *,
    column_map: Mapping[str, str] | None = None,
    keep_unmapped: bool = True,
    run: str = REFCAT_RUN,
    level: int | None = None,
) -> RefcatIngestResult:
    """Ingest a reference catalogue, one ``ArrowTable`` dataset per HEALPix shard.

    Parameters
    ----------
    butler : `Butler`
        A writeable Butler.
    files : iterable of path-like
        FITS, CSV or Parquet files of the catalogue (read together).
    name : `str`
        The catalogue's dataset type name (e.g. ``"gaia_dr2"``, ``"ref_cat"``).
    column_map : mapping, optional
        Output column → input column or ``mag:<column>``; ``ra`` and ``dec`` must result.
    keep_unmapped : `bool`, optional
        Keep the input columns the map does not name.
    run : `str`, optional
        RUN collection (default ``refcats``).
    level : `int`, optional
        HEALPix level (default the registry's common sky-pixel level, 8).

    Returns
    -------
    result : `RefcatIngestResult`

    Raises
    ------
    RefcatError
        If a file cannot be read, a mapped column is missing, files have different columns,
        ``ra``/``dec`` are missing, or a position is not finite or off the sphere.
    """
    butler._check_writeable("ingest a reference catalogue")
    registry = butler.registry
    level = registry.universe.common_skypix_level if level is None else level
    tables: list[pa.Table] = []
    for path in files:
        table = remap_columns(
            read_catalog_file(path), column_map or {}, keep_unmapped=keep_unmapped, source=str(path)
        )
        if tables and table.schema.names != tables[0].schema.names:
            raise RefcatError(
                f"{path} has columns {table.schema.names} but the first file has {tables[0].schema.names}; "
                "give files of one catalogue with the same columns"
            )
        tables.append(table)
    if not tables:
        raise RefcatError("ingest_refcat: no input files")
    catalog = pa.concat_tables(tables, promote_options="permissive")
    for column in ("ra", "dec"):
        if column not in catalog.column_names:
            raise RefcatError(
                f"the catalogue has no {column!r} column (columns: {catalog.column_names}); map one with "
                f"column_map={{'{column}': '<input column>'}}"
            )
    ra = catalog.column("ra").to_numpy(zero_copy_only=False).astype(float)
    dec = catalog.column("dec").to_numpy(zero_copy_only=False).astype(float)
    bad = ~(np.isfinite(ra) & np.isfinite(dec) & (np.abs(dec) <= 90.0))
    if bad.any():
        raise RefcatError(
            f"{int(bad.sum())} row(s) have no valid ra/dec (first at row {int(np.flatnonzero(bad)[0])}); "
            "ra and dec must be finite degrees with |dec| <= 90"
        )
    pixels = healpix_index(ra, dec, level)
    order = np.argsort(pixels, kind="stable")
    sorted_pixels = pixels[order]
    starts = np.flatnonzero(np.r_[True, sorted_pixels[1:] != sorted_pixels[:-1]])
    ends = np.r_[starts[1:], len(order)]
    dtype = refcat_dataset_type(name, level)
    registry.register_dataset_type(dtype)
    registry.register_run(run)
    meta = dict(catalog.schema.metadata or {})
    meta.update({b"healpix_level": str(level).encode(), b"catalog": name.encode()})
    dimension = f"healpix{level}"
    result = RefcatIngestResult(n_rows=catalog.num_rows)
    for start, end in zip(starts, ends, strict=True):
        pixel = int(sorted_pixels[start])
        data_id = {dimension: pixel}
        result.shard_rows[pixel] = int(end - start)
        ref = registry.find_dataset(dtype, data_id, collections=[run])
        if ref is None:
            shard = catalog.take(pa.array(order[start:end])).replace_schema_metadata(meta)
            ref = butler.put(shard, dtype, data_id, run=run)
            result.n_new_shards += 1
        result.refs.append(ref)
    return result
