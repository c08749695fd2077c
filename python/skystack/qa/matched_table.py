# SPDX-License-Identifier: GPL-3.0-or-later
"""Input of the SRD metrics: a multi-visit source table matched into objects, and the star cuts.

A *matched table* has one row per measurement (one object seen in one visit) with the columns of
`REQUIRED_COLUMNS`; `SHAPE_COLUMNS` (second moments of the star and of the PSF model at its
position, in pixels²) are optional and enable TE1/TE2. Any table-like input works: an astropy
`~astropy.table.Table`, a pandas ``DataFrame``, a pyarrow ``Table``, a
`skystack.table.SourceCatalog`, a mapping of column arrays, or the path of a Parquet or FITS
table. ``column_map={ours: theirs}`` names the user's column for each of ours.

`SrdMetricsConfig` holds the selection cuts and the parameters of each metric; `select_stars`
applies the cuts with one stable sort by object, ``np.bincount`` and a numba per-object median.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numba
import numpy as np

from skystack.config import Config, ConfigValidationError, field

__all__ = [
    "REQUIRED_COLUMNS",
    "SHAPE_COLUMNS",
    "MatchedTable",
    "MatchedTableError",
    "SrdMetricsConfig",
    "StarSample",
    "group_median",
    "load_matched_table",
    "select_stars",
]

#: Columns every matched table needs (our names; map yours with ``column_map``).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "object_id",
    "visit",
    "band",
    "psf_mag",
    "psf_mag_err",
    "snr",
    "extendedness",
    "ra",
    "dec",
)
#: Optional second moments of the star (``ixx``, ``iyy``, ``ixy``) and of the PSF model there.
SHAPE_COLUMNS: tuple[str, ...] = ("ixx", "iyy", "ixy", "ixx_psf", "iyy_psf", "ixy_psf")

_FITS_SUFFIXES = (".fits", ".fit", ".fits.gz", ".fit.gz", ".fts")
_PARQUET_SUFFIXES = (".parquet", ".pq")


class MatchedTableError(ValueError):
    """A matched table lacks columns, has inconsistent columns, or cannot be read."""


class SrdMetricsConfig(Config):
    """Selection cuts and parameters of the SRD metrics (defaults follow the SRD and validate_drp).

    A measurement is used only if none of ``flag_columns`` is set and its quantities are finite.
    A star is an object (per band) with at least ``min_measurements`` usable measurements whose
    median extendedness is below ``max_extendedness`` and whose median S/N passes the metric's
    S/N cut (``min_snr`` for PA1/PF1/PA2, ``astrometry_min_snr`` for AMx/AFx/ADx,
    ``ellipticity_min_snr`` for TE1/TE2).
    """

    bands: list[str] = field(
        default_factory=list, doc="Bands to compute; empty: every band present in the table."
    )
    min_measurements: int = field(
        3, doc="Minimum usable measurements of an object (and common visits of a pair).", ge=2
    )
    min_snr: float = field(200.0, doc="Minimum median S/N of PA1/PF1/PA2 stars (SRD: bright stars).", ge=0)
    max_extendedness: float = field(
        0.9, doc="Stars have median extendedness strictly below this (0: point source, 1: extended)."
    )
    flag_columns: list[str] = field(
        default_factory=list,
        doc="Boolean/integer flag columns; a measurement with any of them set (non-zero) is rejected.",
    )
    astrometry_min_snr: float = field(50.0, doc="Minimum median S/N of the AMx/AFx/ADx stars.", ge=0)
    annulus_half_width_arcmin: float = field(
        1.0,
        doc="AMx pairs are D +/- this apart (arcmin); 1' is the validate_drp/faro annulus width of 2'.",
        gt=0,
        lt=5,
    )
    max_pairs: int = field(
        100_000, doc="At most this many star pairs per AMx annulus (a random subsample beyond it).", ge=10
    )
    seed: int = field(0, doc="Seed of the random pair subsampling (results are reproducible).")
    ellipticity_min_snr: float = field(50.0, doc="Minimum median S/N of the TE1/TE2 stars.", ge=0)
    te1_max_arcmin: float = field(1.0, doc="TE1 uses pairs of one visit closer than this (arcmin).", gt=0)
    te2_min_arcmin: float = field(
        5.0, doc="TE2 uses pairs of one visit at least this far apart (arcmin).", gt=0
    )
    te2_max_arcmin: float = field(20.0, doc="...and at most this far apart (arcmin).", gt=0)
    te_statistic: Literal["median", "mean"] = field(
        "median", doc="How the per-visit correlations are combined into TE1/TE2."
    )
    te_min_pairs_per_visit: int = field(
        1, doc="A visit enters TE1/TE2 only with at least this many star pairs in the range.", ge=1
    )

    def validate_config(self) -> None:
        """Check the TE2 range is not empty."""
        super().validate_config()
        if self.te2_max_arcmin <= self.te2_min_arcmin:
            raise ConfigValidationError(
                f"te2_max_arcmin ({self.te2_max_arcmin}) must exceed te2_min_arcmin ({self.te2_min_arcmin})"
            )


@dataclass(frozen=True)
class MatchedTable:
    """The columns of a matched table as numpy arrays under our names.

    Attributes
    ----------
    object_id, visit : `numpy.ndarray`
        Object and visit identifiers (any sortable dtype).
    band : `numpy.ndarray` of `str`
        Band of each measurement.
    psf_mag, psf_mag_err, snr, extendedness : `numpy.ndarray` of float64
        PSF magnitude and its error (mag), S/N, extendedness.
    ra, dec : `numpy.ndarray` of float64
        Position in degrees.
    shapes : `dict` of `str` to `numpy.ndarray`, or `None`
        The six `SHAPE_COLUMNS` (pixels²), or None if the table has none of them.
    flagged : `numpy.ndarray` of `bool`
        True where any requested flag column is set.
    """

    object_id: np.ndarray
    visit: np.ndarray
    band: np.ndarray
    psf_mag: np.ndarray
    psf_mag_err: np.ndarray
    snr: np.ndarray
    extendedness: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    shapes: dict[str, np.ndarray] | None
    flagged: np.ndarray

    def __len__(self) -> int:
        return int(self.psf_mag.shape[0])

    @property
    def bands(self) -> list[str]:
        """The distinct bands, sorted."""
        return [str(b) for b in np.unique(self.band)]


def _to_numpy(values: Any, name: str) -> np.ndarray:
    """A 1-d numpy array from an astropy/pandas/arrow/numpy column; masked floats become NaN."""
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):
        try:  # pyarrow (Chunked)Array, pandas Series
            values = values.to_numpy(zero_copy_only=False)
        except TypeError:
            values = values.to_numpy()
    if isinstance(values, np.ma.MaskedArray):
        if values.dtype.kind == "f":
            values = values.filled(np.nan)
        elif np.ma.is_masked(values):
            raise MatchedTableError(f"Column {name!r} has masked (missing) values; fill or drop those rows")
        else:
            values = values.data
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise MatchedTableError(f"Column {name!r} must be one value per row, got shape {arr.shape}")
    return arr


def _open_file(path: Path) -> tuple[list[str], Callable[[str], Any], Callable[[list[str]], None]]:
    name = path.name.lower()
    if not path.exists():
        raise MatchedTableError(f"Matched table file {str(path)!r} does not exist")
    if name.endswith(_PARQUET_SUFFIXES):
        import pyarrow.parquet as pq

        names = list(pq.read_schema(path).names)
        loaded: dict[str, Any] = {}

        def prefetch(columns: list[str]) -> None:  # read only the columns we use, in one pass
            loaded.update(zip(columns, pq.read_table(path, columns=columns).columns, strict=True))

        return names, loaded.__getitem__, prefetch
    if name.endswith(_FITS_SUFFIXES):
        from astropy.table import Table

        try:
            table = Table.read(path)
        except (OSError, ValueError) as err:
            raise MatchedTableError(f"Cannot read a FITS table from {str(path)!r}: {err}") from err
        return list(table.colnames), table.__getitem__, lambda columns: None
    raise MatchedTableError(
        f"Cannot tell the format of {str(path)!r}: name it *.parquet/*.pq (Parquet) "
        "or *.fits/*.fit/*.fits.gz (FITS table)"
    )


def _accessor(source: Any) -> tuple[list[str], Callable[[str], Any], Callable[[list[str]], None]]:
    """Column names, a column getter and a prefetch hook for any supported table-like input."""
    from skystack.table import SourceCatalog

    def noop(columns: list[str]) -> None:
        return None

    if isinstance(source, str | Path):
        return _open_file(Path(source))
    if isinstance(source, SourceCatalog):
        return list(source.schema.names), source.__getitem__, noop
    module = type(source).__module__.split(".")[0]
    if module == "pyarrow" and hasattr(source, "column_names"):
        return list(source.column_names), source.column, noop
    if module == "pandas" and hasattr(source, "columns"):
        return [str(c) for c in source.columns], source.__getitem__, noop
    if hasattr(source, "colnames"):  # astropy Table / QTable
        return list(source.colnames), source.__getitem__, noop
    if isinstance(source, Mapping):
        return [str(k) for k in source], source.__getitem__, noop
    raise MatchedTableError(
        f"Cannot read a matched table from a {type(source).__name__}; give an astropy Table, a pandas "
        "DataFrame, a pyarrow Table, a SourceCatalog, a mapping of arrays or a Parquet/FITS path"
    )


def _as_str(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind == "S":
        arr = np.char.decode(arr, "utf-8")
    return np.char.strip(arr.astype(str))


def load_matched_table(
    source: Any,
    *,
    column_map: Mapping[str, str] | None = None,
    flag_columns: Sequence[str] = (),
) -> MatchedTable:
    """Read and validate a matched multi-visit table.

    Parameters
    ----------
    source : table-like or path
        An astropy Table, pandas DataFrame, pyarrow Table, `~skystack.table.SourceCatalog`,
        mapping of column arrays, or a path to a Parquet (``.parquet``/``.pq``) or FITS table.
    column_map : mapping of `str` to `str`, optional
        ``{ours: theirs}``: the column of ``source`` holding each of our columns
        (`REQUIRED_COLUMNS` and `SHAPE_COLUMNS`); unmapped columns are looked up by our name.
    flag_columns : sequence of `str`
        Columns (names in ``source``) whose non-zero values reject a measurement.

    Returns
    -------
    table : `MatchedTable`

    Raises
    ------
    MatchedTableError
        If ``column_map`` names an unknown column of ours, required or flag columns are missing
        (the message lists what is missing and what the table has), only some shape columns are
        present, the columns have different lengths, or the file cannot be read.
    """
    mapping = dict(column_map or {})
    ours = REQUIRED_COLUMNS + SHAPE_COLUMNS
    unknown = sorted(set(mapping) - set(ours))
    if unknown:
        raise MatchedTableError(
            f"column_map names {unknown} which are not columns of a matched table; "
            f"its keys must be among: {', '.join(ours)}"
        )
    names, get, prefetch = _accessor(source)
    have = set(names)
    theirs = {c: mapping.get(c, c) for c in ours}
    missing = [c for c in REQUIRED_COLUMNS if theirs[c] not in have]
    missing_flags = [f for f in flag_columns if f not in have]
    if missing or missing_flags:
        described = [c if theirs[c] == c else f"{c} (mapped to {theirs[c]!r})" for c in missing]
        described += [f"flag column {f!r}" for f in missing_flags]
        raise MatchedTableError(
            f"The matched table lacks required columns: {', '.join(described)}. "
            f"It has: {', '.join(names) or '(no columns)'}. "
            "Map your names with column_map={'ours': 'theirs'} (CLI: --column-map ours=theirs)"
            + (" or remove the missing flag columns from flag_columns" if missing_flags else "")
        )
    present_shapes = [c for c in SHAPE_COLUMNS if theirs[c] in have]
    if present_shapes and len(present_shapes) != len(SHAPE_COLUMNS):
        absent = [c for c in SHAPE_COLUMNS if c not in present_shapes]
        raise MatchedTableError(
            f"The matched table has shape columns {present_shapes} but not {absent}; TE1/TE2 need all of "
            f"{', '.join(SHAPE_COLUMNS)} (star and PSF-model moments): map them with column_map"
        )
    used = [theirs[c] for c in REQUIRED_COLUMNS + tuple(present_shapes)] + list(flag_columns)
    prefetch(list(dict.fromkeys(used)))
    cols = {c: _to_numpy(get(theirs[c]), theirs[c]) for c in REQUIRED_COLUMNS + tuple(present_shapes)}
    lengths = {c: len(a) for c, a in cols.items()}
    n = lengths["psf_mag"]
    if any(v != n for v in lengths.values()):
        raise MatchedTableError(f"The matched table's columns have different lengths: {lengths}")
    flagged = np.zeros(n, dtype=bool)
    for name in flag_columns:
        flag = _to_numpy(get(name), name)
        if len(flag) != n:
            raise MatchedTableError(f"Flag column {name!r} has {len(flag)} rows, the table {n}")
        if flag.dtype.kind == "f":
            flagged |= np.nan_to_num(flag, nan=1.0) != 0
        elif flag.dtype.kind in "biu":
            flagged |= flag != 0
        else:
            raise MatchedTableError(f"Flag column {name!r} must be boolean or integer, got {flag.dtype}")
    floats = {
        c: np.asarray(cols[c], dtype=np.float64) for c in cols if c not in ("object_id", "visit", "band")
    }
    shapes = {c: floats[c] for c in SHAPE_COLUMNS} if present_shapes else None
    return MatchedTable(
        object_id=cols["object_id"],
        visit=cols["visit"],
        band=_as_str(cols["band"]),
        psf_mag=floats["psf_mag"],
        psf_mag_err=floats["psf_mag_err"],
        snr=floats["snr"],
        extendedness=floats["extendedness"],
        ra=floats["ra"],
        dec=floats["dec"],
        shapes=shapes,
        flagged=flagged,
    )


@numba.njit(cache=True, nogil=True)
def _segment_median(
    values: np.ndarray, starts: np.ndarray, counts: np.ndarray
) -> np.ndarray:  # pragma: no cover
    # Per-group medians of consecutive segments: a per-group sort that numpy cannot express without
    # a global lexsort. Insertion sort in one reused buffer for the usual few values per group;
    # NaN values count as larger than every number (as np.sort orders them).
    out = np.empty(len(starts))
    buf = np.empty(max(1, counts.max()) if len(counts) else 1)
    for g in range(len(starts)):
        n = counts[g]
        if n == 0:
            out[g] = np.nan
            continue
        m = 0
        for k in range(starts[g], starts[g] + n):
            v = values[k]
            if v == v:  # not NaN
                buf[m] = v
                m += 1
        if m > 32:
            buf[:m] = np.sort(buf[:m])
        else:
            for a in range(1, m):
                v = buf[a]
                b = a - 1
                while b >= 0 and buf[b] > v:
                    buf[b + 1] = buf[b]
                    b -= 1
                buf[b + 1] = v
        lo, hi = (n - 1) // 2, n // 2
        out[g] = np.nan if hi >= m else 0.5 * (buf[lo] + buf[hi])
    return out


def group_median(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of ``values`` within each group (NaN for an empty group).

    A NaN among a group's values sorts last, so it makes the median NaN only when it falls in the
    middle (more than half of the group's values are NaN, or the median takes the last value).

    Parameters
    ----------
    group : `numpy.ndarray` of int
        Group index of each value, in ``[0, n_groups)``.
    values : `numpy.ndarray`
        The values.
    n_groups : `int`
        Number of groups.
    """
    order = np.argsort(group, kind="stable")
    counts = np.bincount(group, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    return _segment_median(np.asarray(values, dtype=np.float64)[order], starts, counts)


@dataclass(frozen=True)
class StarSample:
    """The measurements of the stars that passed the cuts in one band.

    Attributes
    ----------
    rows : `numpy.ndarray` of int
        Rows of the matched table used, grouped by star.
    star : `numpy.ndarray` of int
        Star index (``0 .. n_stars - 1``) of each row in ``rows``.
    n_stars : `int`
        Number of stars.
    summary : `str`
        How many objects survived each cut (used to explain an empty selection).
    """

    rows: np.ndarray
    star: np.ndarray
    n_stars: int
    summary: str


def select_stars(
    table: MatchedTable,
    band: str,
    usable: np.ndarray,
    *,
    min_snr: float,
    max_extendedness: float,
    min_measurements: int,
) -> StarSample:
    """Select the stars of ``band`` from the usable measurements.

    Parameters
    ----------
    table : `MatchedTable`
        The matched table.
    band : `str`
        Band to select.
    usable : `numpy.ndarray` of bool
        Per row: the measurement is usable for this metric (unflagged, finite quantities).
    min_snr, max_extendedness, min_measurements
        The cuts (see `SrdMetricsConfig`): median S/N >= ``min_snr``, median extendedness
        < ``max_extendedness``, at least ``min_measurements`` usable measurements.

    Returns
    -------
    sample : `StarSample`
    """
    rows = np.flatnonzero((table.band == band) & usable)
    # One stable sort by object gives the groups, their order and the per-group medians.
    order = np.argsort(table.object_id[rows], kind="stable")
    rows = rows[order]
    ids = table.object_id[rows]
    starts = (
        np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1]))) if len(ids) else np.empty(0, np.intp)
    )
    counts = np.diff(np.append(starts, len(ids)))
    n_obj = len(starts)
    med_snr = _segment_median(table.snr[rows], starts, counts)
    med_ext = _segment_median(table.extendedness[rows], starts, counts)
    enough = counts >= min_measurements
    bright = enough & (med_snr >= min_snr)
    keep = bright & (med_ext < max_extendedness)
    summary = (
        f"band {band!r}: {n_obj} objects with usable measurements, "
        f"{int(enough.sum())} with >= {min_measurements} of them, {int(bright.sum())} of those with "
        f"median S/N >= {min_snr:g}, {int(keep.sum())} of those star-like "
        f"(extendedness < {max_extendedness:g})"
    )
    group = np.repeat(np.arange(n_obj), counts)
    kept_rows = keep[group]
    star = (np.cumsum(keep) - 1)[group[kept_rows]]
    return StarSample(rows[kept_rows], star, int(keep.sum()), summary)
