# SPDX-License-Identifier: GPL-3.0-or-later
"""`AstrometryTask`: match a detector's sources to a reference catalogue and fit a TAN-SIP WCS.

1. Sources usable for astrometry: primary (not blended parents), centroid not flagged, not
   saturated or at the edge, PSF-flux S/N above ``min_sn``.
2. A pattern (triangle) match against the references through the telescope's WCS, which may be
   off by tens of arcseconds and a fraction of a degree
   (`skystack.algorithms.astrometry.match_pattern`).
3. A TAN-SIP fit to the matched pairs with clipping
   (`skystack.algorithms.astrometry.fit_tan_sip_wcs`); the SIP order is lowered until there are
   at least ``pairs_per_parameter`` pairs per fitted coefficient.
4. ``n_rematch`` rounds of nearest-neighbour re-matching within ``match_radius`` arcsec through the
   fitted WCS, each followed by a refit.

The catalog gets ``calib_astrometry_used`` for the pairs of the final fit.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from skystack.algorithms.astrometry import PatternMatch, WcsFitResult, fit_tan_sip_wcs, match_pattern
from skystack.algorithms.reference_catalog import ReferenceCatalog
from skystack.config import Config, field
from skystack.geom import Box2I, SkyWcs
from skystack.table import Field, SourceCatalog
from skystack.task import Struct, Task, timed

__all__ = ["AstrometryConfig", "AstrometryResult", "AstrometryTask", "usable_sources"]


class AstrometryConfig(Config):
    """Config of `AstrometryTask`."""

    min_sn: float = field(10.0, doc="Sources with a lower PSF-flux S/N are not matched.", gt=0)
    max_offset_arcsec: float = field(90.0, doc="Largest pointing error searched (arcsec).", gt=0)
    max_rotation_deg: float = field(2.0, doc="Largest rotation error searched (degrees).", gt=0)
    max_scale_error: float = field(0.05, doc="Largest fractional plate-scale error searched.", gt=0)
    tolerance_arcsec: float = field(2.0, doc="Pattern-match position tolerance (arcsec).", gt=0)
    n_brightest: int = field(50, doc="Brightest sources used to build patterns.", ge=4)
    min_matches: int = field(6, doc="Fewest pattern matches accepted.", ge=3)
    sip_order: int = field(
        3, doc="Highest order of the WCS distortion polynomials (1: pure TAN).", ge=1, le=6
    )
    pairs_per_parameter: float = field(
        3.0, doc="The SIP order is lowered until there are this many pairs per fitted coefficient.", gt=0
    )
    n_sigma: float = field(3.0, doc="Clipping threshold of the WCS fit.", gt=0)
    match_radius: float = field(1.0, doc="Re-match radius through the fitted WCS (arcsec).", gt=0)
    n_rematch: int = field(2, doc="Rounds of re-matching and refitting.", ge=0)


class AstrometryResult(Struct):
    """What `AstrometryTask.run` returns.

    Attributes
    ----------
    wcs : `~skystack.geom.SkyWcs`
        The fitted TAN-SIP WCS.
    source_rows, ref_index : `numpy.ndarray`
        Catalog rows and reference indices of the final matched pairs.
    fit : `~skystack.algorithms.astrometry.WcsFitResult`
        The final fit (its ``used`` selects the pairs kept by clipping).
    pattern : `~skystack.algorithms.astrometry.PatternMatch`
        The initial pattern match (pointing offset, rotation, scale).
    """

    wcs: SkyWcs
    source_rows: np.ndarray
    ref_index: np.ndarray
    fit: WcsFitResult
    pattern: PatternMatch


def usable_sources(catalog: SourceCatalog, min_sn: float) -> np.ndarray:
    """Rows of primary, unflagged sources with finite centroids and PSF-flux S/N ≥ ``min_sn``."""
    flux = np.asarray(catalog["psf_flux"], dtype=float)
    err = np.asarray(catalog["psf_flux_err"], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        sn = flux / err
    ok = (
        np.asarray(catalog["is_primary"], dtype=bool)
        & ~np.asarray(catalog["centroid_flag"], dtype=bool)
        & ~np.asarray(catalog["pixel_flags_saturated_center"], dtype=bool)
        & ~np.asarray(catalog["pixel_flags_edge"], dtype=bool)
        & np.isfinite(catalog["slot_centroid_x"])
        & np.isfinite(catalog["slot_centroid_y"])
        & (sn >= min_sn)
    )
    return np.flatnonzero(ok)


class AstrometryTask(Task):
    """Pattern-match sources to a reference catalogue and fit a TAN-SIP WCS."""

    ConfigClass = AstrometryConfig
    default_name = "astrometry"
    config: AstrometryConfig

    def _fit(
        self, x: np.ndarray, y: np.ndarray, ra: np.ndarray, dec: np.ndarray, bbox: Box2I
    ) -> WcsFitResult:
        c = self.config
        order = c.sip_order
        while order > 1 and x.size < c.pairs_per_parameter * ((order + 1) * (order + 2) + 2):
            order -= 1
        return fit_tan_sip_wcs(x, y, ra, dec, bbox=bbox, sip_order=order, n_sigma=c.n_sigma)

    @timed
    def run(
        self, catalog: SourceCatalog, wcs: SkyWcs, refcat: ReferenceCatalog, bbox: Box2I
    ) -> AstrometryResult:
        """Match ``catalog`` to ``refcat`` starting from ``wcs`` and fit a new WCS.

        Raises
        ------
        skystack.algorithms.astrometry.MatchError
            If no pattern matches (the message says how many sources and references were tried).
        """
        c = self.config
        rows = usable_sources(catalog, c.min_sn)
        x = np.asarray(catalog["slot_centroid_x"], dtype=float)
        y = np.asarray(catalog["slot_centroid_y"], dtype=float)
        flux = np.asarray(catalog["psf_flux"], dtype=float)
        pattern = match_pattern(
            x[rows],
            y[rows],
            refcat.ra,
            refcat.dec,
            wcs,
            source_flux=flux[rows],
            ref_flux=refcat.flux if np.isfinite(refcat.flux).any() else None,
            bbox=bbox,
            max_offset_arcsec=c.max_offset_arcsec,
            max_rotation_deg=c.max_rotation_deg,
            max_scale_error=c.max_scale_error,
            tolerance_arcsec=c.tolerance_arcsec,
            n_brightest=c.n_brightest,
            min_matches=c.min_matches,
        )
        src, ref = rows[pattern.source_index], pattern.ref_index
        fit = self._fit(x[src], y[src], refcat.ra[ref], refcat.dec[ref], bbox)
        for _ in range(c.n_rematch):
            src, ref = _nearest_matches(fit.wcs, x[rows], y[rows], refcat, c.match_radius)
            src = rows[src]
            if src.size < c.min_matches:
                break
            fit = self._fit(x[src], y[src], refcat.ra[ref], refcat.dec[ref], bbox)
        used = np.zeros(len(catalog), dtype=bool)
        used[src[fit.used]] = True
        if "calib_astrometry_used" in catalog.schema:
            catalog["calib_astrometry_used"] = used
        else:
            catalog.add_column(
                Field("calib_astrometry_used", np.dtype(bool), "", "Used in the astrometric fit"), used
            )
        md = self.metadata
        md["n_pattern_matches"] = int(pattern.source_index.size)
        md["pointing_offset_arcsec"] = float(np.hypot(*pattern.offset))
        md["rotation_error_deg"] = float(pattern.rotation)
        md["n_matches"] = int(fit.n_used)
        md["rms_mas"] = float(fit.rms)
        md["sip_order"] = int(fit.sip_order)
        return AstrometryResult(wcs=fit.wcs, source_rows=src, ref_index=ref, fit=fit, pattern=pattern)


def _nearest_matches(
    wcs: SkyWcs, x: np.ndarray, y: np.ndarray, refcat: ReferenceCatalog, radius_arcsec: float
) -> tuple[np.ndarray, np.ndarray]:
    """Unique nearest-neighbour pairs (source index, reference index) within ``radius_arcsec``."""
    rx, ry = wcs.sky_to_pixel(refcat.ra, refcat.dec)
    good = np.flatnonzero(np.isfinite(rx) & np.isfinite(ry))
    if good.size == 0 or x.size == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    scale = wcs.pixel_scale().arcseconds
    tree = cKDTree(np.column_stack([rx[good], ry[good]]))
    dist, idx = tree.query(np.column_stack([x, y]), distance_upper_bound=radius_arcsec / scale)
    hit = np.isfinite(dist)
    src = np.flatnonzero(hit)
    ref = good[idx[hit]]
    dist = dist[hit]
    # one source per reference: keep the closest
    order = np.lexsort((dist, ref))
    src, ref = src[order], ref[order]
    first = np.ones(ref.size, dtype=bool)
    first[1:] = ref[1:] != ref[:-1]
    return src[first], ref[first]
