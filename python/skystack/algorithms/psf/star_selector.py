# SPDX-License-Identifier: GPL-3.0-or-later
"""Select PSF candidate stars from measured sources (the Rubin ``objectSize`` star selector role).

A source is a PSF candidate when it passes, in this order (each rejected source is counted once,
under the first cut it fails):

1. ``non_finite`` — finite position, flux, flux error and moments, positive flux error;
2. each flag given (``saturated``, ``edge``, ``blended``, … — any name): the flag is unset;
3. ``signal_to_noise`` — ``flux / flux_err >= sn_min``;
4. ``size_range`` — determinant radius ``(ixx iyy - ixy²)^(1/4)`` within ``[size_min, size_max]``
   (removes cosmic rays and unresolved junk below, huge objects above);
5. ``border`` — when a ``bbox`` is given, at least ``border`` pixels from its edges;
6. ``stellar_locus`` — the size lies on the stellar locus, the mode of the size distribution:
   ``log(size)`` is split by k-means (``n_clusters`` centres started at quantiles, as Rubin's
   ``objectSize`` selector does) and the locus starts as the *densest* cluster — most members per
   unit robust spread, among clusters holding at least ``min_cluster_fraction`` of the sources —
   rather than Rubin's smallest one, so that a tight group of small junk (unrepaired cosmic rays,
   hot pixels) cannot take its place; it is then refined by iterated clipping at ``locus_n_mad``
   robust sigmas (``1.4826 MAD``, floored at ``locus_min_width`` of the size) around the median.
   Point sources are the most numerous and tightest group at S/N >= 50;
7. ``not_isolated`` — no other source (of all the sources given, whatever their cuts) within
   ``isolation_radius`` pixels (default ``isolation_radius_fwhm`` = 4 locus FWHMs, about the half-size
   of a PSF stamp) has more than ``isolation_flux_ratio`` times the candidate's flux.

All arrays are plain numpy; nothing is copied beyond a few per-source vectors. Neighbours are found
with `scipy.spatial.cKDTree` (``query_pairs``), so the isolation cut costs ``O(n log n)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from ...config import Config, ConfigValidationError, field
from ...geom.box import Box2I

__all__ = ["StarSelection", "StarSelectorConfig", "select_psf_candidates"]

_MAD_TO_SIGMA = 1.4826
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


class StarSelectorConfig(Config):
    """Parameters of `select_psf_candidates`."""

    sn_min: float = field(50.0, doc="Minimum signal-to-noise ratio flux / flux_err.", ge=0)
    size_min: float = field(
        0.5, doc="Minimum determinant radius (pixels); smaller sources are cosmic rays or junk.", ge=0
    )
    size_max: float = field(20.0, doc="Maximum determinant radius (pixels).", gt=0)
    n_clusters: int = field(4, doc="Number of k-means clusters in log(size).", ge=1, le=10)
    min_cluster_fraction: float = field(
        0.05,
        doc="The locus is the smallest-size cluster holding at least this fraction of sources.",
        ge=0,
        lt=1,
    )
    locus_n_mad: float = field(
        4.0, doc="Keep sizes within this many robust sigmas (1.4826 MAD) of the locus median.", gt=0
    )
    locus_min_width: float = field(
        0.02, doc="Floor of the locus' robust sigma, as a fraction of its median size.", ge=0
    )
    locus_iterations: int = field(10, doc="Maximum clipping iterations refining the locus.", ge=1)
    min_locus_stars: int = field(3, doc="Fewest sources that define a stellar locus.", ge=1)
    border: int = field(0, doc="Minimum distance (pixels) from the bbox edges, when a bbox is given.", ge=0)
    isolation_radius: float | None = field(
        None,
        doc="Radius (pixels) within which a brighter neighbour disqualifies a candidate; None: "
        "isolation_radius_fwhm times the locus FWHM (2.355 times its determinant radius).",
        ge=0,
    )
    isolation_radius_fwhm: float = field(
        4.0,
        doc="Automatic isolation radius in units of the locus FWHM (about a PSF stamp's half-size).",
        ge=0,
    )
    isolation_flux_ratio: float = field(
        0.05, doc="A neighbour disqualifies when its flux exceeds this fraction of the candidate's.", ge=0
    )

    def validate_config(self) -> None:
        if self.size_min >= self.size_max:
            raise ConfigValidationError(
                f"size_min ({self.size_min}) must be below size_max ({self.size_max}) (pixels)"
            )


@dataclass(frozen=True)
class StarSelection:
    """Result of `select_psf_candidates`.

    Attributes
    ----------
    mask : `numpy.ndarray`
        Boolean ``(n,)``: the source is a PSF candidate.
    reasons : `dict` [`str`, `int`]
        Number of sources rejected by each cut (each counted once, under the first cut it fails),
        in the order applied; ``reasons`` sum to ``n - mask.sum()``.
    locus_size : `float`
        Median determinant radius (pixels) of the stellar locus (NaN if none was found).
    locus_width : `float`
        Robust sigma (pixels) of the locus sizes used for the cut (NaN if none was found).
    """

    mask: np.ndarray
    reasons: dict[str, int] = dataclass_field(default_factory=dict)
    locus_size: float = math.nan
    locus_width: float = math.nan

    @property
    def n_selected(self) -> int:
        return int(np.count_nonzero(self.mask))


def _as_vector(name: str, value: npt.ArrayLike, n: int | None) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"select_psf_candidates: {name} must be a 1-D array, got shape {arr.shape}")
    if n is not None and arr.size != n:
        raise ValueError(
            f"select_psf_candidates: {name} has {arr.size} values, expected {n} (one per source)"
        )
    return arr


def _kmeans_1d(values: np.ndarray, k: int, n_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Cluster 1-D ``values`` into ``k`` groups; returns sorted centres and each value's label."""
    centres = np.unique(np.quantile(values, (np.arange(k) + 0.5) / k))
    labels = np.zeros(values.size, dtype=np.int64)
    for _ in range(n_iter):
        labels = np.argmin(np.abs(values[:, None] - centres[None, :]), axis=1)
        counts = np.bincount(labels, minlength=centres.size)
        sums = np.bincount(labels, weights=values, minlength=centres.size)
        new = np.where(counts > 0, sums / np.maximum(counts, 1), centres)
        if np.allclose(new, centres, rtol=0, atol=1e-9):
            break
        centres = new
    order = np.argsort(centres)
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return centres[order], rank[labels]


def _stellar_locus(size: np.ndarray, config: StarSelectorConfig) -> tuple[np.ndarray, float, float]:
    """Mask of ``size`` values on the stellar locus, its median and robust width (pixels)."""
    n = size.size
    if n < config.min_locus_stars:
        return np.zeros(n, dtype=bool), math.nan, math.nan
    log_size = np.log(size)
    centres, labels = _kmeans_1d(log_size, min(config.n_clusters, n))
    counts = np.bincount(labels, minlength=centres.size)
    floor = math.log1p(config.locus_min_width)
    density = np.zeros(centres.size)
    for k in np.flatnonzero(counts >= max(config.min_locus_stars, config.min_cluster_fraction * n)):
        # A handful of clusters: members per unit robust spread in log(size).
        values = log_size[labels == k]
        spread = _MAD_TO_SIGMA * float(np.median(np.abs(values - np.median(values))))
        density[k] = counts[k] / max(spread, floor)
    cluster = int(np.argmax(density)) if np.any(density > 0) else int(np.argmax(counts))
    members = labels == cluster
    centre = width = math.nan
    for _ in range(config.locus_iterations):
        if np.count_nonzero(members) < config.min_locus_stars:
            return np.zeros(n, dtype=bool), math.nan, math.nan
        chosen = size[members]
        centre = float(np.median(chosen))
        mad = float(np.median(np.abs(chosen - centre)))
        width = max(_MAD_TO_SIGMA * mad, config.locus_min_width * centre)
        new = np.abs(size - centre) <= config.locus_n_mad * width
        if np.array_equal(new, members):
            break
        members = new
    return members, centre, width


def _isolated(x: np.ndarray, y: np.ndarray, flux: np.ndarray, radius: float, ratio: float) -> np.ndarray:
    """Whether each source has no neighbour within ``radius`` brighter than ``ratio`` times its flux."""
    isolated = np.ones(x.size, dtype=bool)
    if radius <= 0 or x.size < 2:
        return isolated
    good = np.isfinite(x) & np.isfinite(y)
    index = np.flatnonzero(good)
    pairs = cKDTree(np.column_stack([x[index], y[index]])).query_pairs(radius, output_type="ndarray")
    if pairs.size == 0:
        return isolated
    a, b = index[pairs[:, 0]], index[pairs[:, 1]]
    fa, fb = np.nan_to_num(flux[a], nan=np.inf), np.nan_to_num(flux[b], nan=np.inf)
    isolated[a[fb > ratio * fa]] = False
    isolated[b[fa > ratio * fb]] = False
    return isolated


def select_psf_candidates(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    flux: npt.ArrayLike,
    flux_err: npt.ArrayLike,
    ixx: npt.ArrayLike,
    iyy: npt.ArrayLike,
    ixy: npt.ArrayLike,
    flags: Mapping[str, npt.ArrayLike] | None = None,
    config: StarSelectorConfig | None = None,
    bbox: Box2I | None = None,
) -> StarSelection:
    """Select isolated, unflagged, high-S/N sources on the stellar locus as PSF candidates.

    Parameters
    ----------
    x, y : array_like
        ``(n,)`` source centroids in parent pixels.
    flux, flux_err : array_like
        ``(n,)`` fluxes (any consistent unit, e.g. aperture or PSF flux) and their errors.
    ixx, iyy, ixy : array_like
        ``(n,)`` second moments in pixels² (adaptive or SDSS-shape moments: a point source's
        determinant radius is the PSF's).
    flags : `~collections.abc.Mapping` [`str`, array_like], optional
        Boolean ``(n,)`` arrays, e.g. ``{"saturated": ..., "edge": ..., "blended": ...}``; a
        source with any flag set is rejected, counted under that flag's name.
    config : `StarSelectorConfig`, optional
        Cut parameters; default ``StarSelectorConfig()``.
    bbox : `~skystack.geom.Box2I`, optional
        Image box for the ``border`` cut.

    Returns
    -------
    selection : `StarSelection`
        Boolean mask, rejection counts by reason and the locus' size and width.

    Raises
    ------
    ValueError
        If the arrays are not 1-D of one length, or a flag array is not boolean of that length, or
        a flag is named like a built-in cut.
    """
    cfg = StarSelectorConfig() if config is None else config
    cfg.check()
    xa = _as_vector("x", x, None)
    n = xa.size
    ya = _as_vector("y", y, n)
    fa = _as_vector("flux", flux, n)
    ea = _as_vector("flux_err", flux_err, n)
    mxx, myy, mxy = (_as_vector(name, v, n) for name, v in (("ixx", ixx), ("iyy", iyy), ("ixy", ixy)))
    builtin = ("non_finite", "signal_to_noise", "size_range", "border", "stellar_locus", "not_isolated")
    flag_arrays: dict[str, np.ndarray] = {}
    for name, value in (flags or {}).items():
        arr = np.asarray(value)
        if arr.dtype != np.bool_ or arr.shape != (n,):
            raise ValueError(
                f"select_psf_candidates: flag {name!r} must be a boolean array of shape ({n},), "
                f"got {arr.dtype} {arr.shape}"
            )
        if name in builtin:
            raise ValueError(
                f"select_psf_candidates: flag name {name!r} clashes with a built-in cut; rename it"
            )
        flag_arrays[name] = arr

    reasons: dict[str, int] = {}
    alive = np.ones(n, dtype=bool)

    def cut(name: str, keep: np.ndarray) -> None:
        nonlocal alive
        reasons[name] = int(np.count_nonzero(alive & ~keep))
        alive = alive & keep

    with np.errstate(invalid="ignore"):
        det = mxx * myy - mxy * mxy
        finite = np.isfinite(xa) & np.isfinite(ya) & np.isfinite(fa) & np.isfinite(ea) & (ea > 0)
        finite &= np.isfinite(det) & (det > 0) & (mxx > 0) & (myy > 0)
        cut("non_finite", finite)
        for name, arr in flag_arrays.items():
            cut(name, ~arr)
        cut("signal_to_noise", fa >= cfg.sn_min * ea)
        size = np.where(det > 0, np.abs(det) ** 0.25, np.nan)
        cut("size_range", (size >= cfg.size_min) & (size <= cfg.size_max))
    if bbox is not None:
        b = cfg.border
        inner = (
            (xa >= bbox.min_x + b) & (xa <= bbox.max_x - b) & (ya >= bbox.min_y + b) & (ya <= bbox.max_y - b)
        )
        cut("border", inner)
    else:
        reasons["border"] = 0
    locus_index = np.flatnonzero(alive)
    on_locus, centre, width = _stellar_locus(size[locus_index], cfg)
    keep = np.zeros(n, dtype=bool)
    keep[locus_index[on_locus]] = True
    cut("stellar_locus", keep)
    radius = cfg.isolation_radius
    if radius is None:
        radius = cfg.isolation_radius_fwhm * _FWHM_PER_SIGMA * centre if math.isfinite(centre) else 0.0
    cut("not_isolated", _isolated(xa, ya, fa, radius, cfg.isolation_flux_ratio))
    return StarSelection(mask=alive, reasons=reasons, locus_size=centre, locus_width=width)
