# SPDX-License-Identifier: GPL-3.0-or-later
"""Match detected sources to a reference catalogue when the WCS is only roughly known.

This is the "MatchSemiBlind" step of BootstrapImChar (LDM-151 §5.1.1.13): the telescope's WCS
can be off by tens of arcseconds, a fraction of a degree of rotation and a few per cent of
scale. The algorithm is triangle-pattern voting in the style of Groth (1986) and Valdes et al.
(1995), constrained by those bounds as in Tabur's (2007) Optimistic Pattern Matcher B, which
Rubin's ``matchOptimisticB`` implements:

1. Sources (pixel positions mapped through the approximate WCS) and references are projected
   onto the plane tangent to the sky at the centre of the detector (`tangent_plane`), in
   arcseconds. There the two lists differ by a similarity transform ``q = a p + b`` (complex
   notation: ``|a|`` the scale, ``arg a`` the rotation, ``b`` the pointing offset) plus small
   distortion and noise.
2. All triangles of the brightest sources, and of the brightest references in the search
   area, are put in a canonical vertex order (by the length of the opposite side) and described
   by four numbers: two shape ratios (invariant), the log of the size and the direction of the
   longest side. Because the rotation and scale are known to within ``max_rotation_deg`` and
   ``max_scale_error``, a source triangle's counterpart differs from it by at most that much in
   direction and log size, so a box query in a k-d tree of the reference triangles finds the
   candidate pairs (far fewer than with rotation- and scale-invariant features alone).
3. Each candidate pair gives a similarity transform; those within the bounds of rotation,
   scale and offset vote in a histogram of the offset, and the most voted ones are verified by
   counting how many of the ``2 n_brightest`` brightest sources land within
   ``tolerance_arcsec`` of a reference. The best must match at least ``min_matches`` sources,
   and three (its own triangle) plus more than the best of all verified wrong transforms would
   match by chance (Poisson tail at a false-alarm probability of 10⁻³, from the density of
   references); the refined solution must keep that many pairs. The search is "optimistic"
   (as OPMb): it starts with the 12 brightest sources and grows the lists by half until a
   solution verifies or ``n_brightest`` is reached, so easy fields cost milliseconds and hard
   ones (bright stars saturated, brightness order scrambled by colours) get more stars.
4. The solution is refined on the full lists by nearest-neighbour matching (`scipy.spatial.cKDTree`)
   under a polynomial transform (affine, then up to ``refine_order`` as the pairs allow, which
   absorbs optical distortion), iterating while the match radius shrinks to a few times the
   rms residual (but not below ``min_radius_arcsec``). Each reference keeps its nearest source.

Everything is vectorised (no Python loop over sources, references, triangles or candidates).
No well-kept Python library does constrained sky-catalogue matching (astroalign matches images
in pixel space by invariants only), so this is written here.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree
from scipy.special import gammainc

from skystack.geom import Box2D, Box2I, SpherePoint
from skystack.geom.wcs import SkyWcs

from .tangent_plane import gnomonic_project

__all__ = ["MatchError", "PatternMatch", "match_pattern"]

_ARCSEC_PER_DEG = 3600.0
_MAX_VERIFY = 48  # candidate transforms verified per stage
_FALSE_ALARM = 1e-3  # chance that a wrong transform reaches the needed number of matches


class MatchError(RuntimeError):
    """No consistent match between the sources and the reference catalogue was found."""


@dataclass(frozen=True)
class PatternMatch:
    """The result of `match_pattern`.

    Coordinates ``(xi, eta)`` are gnomonic standard coordinates in arcseconds about
    ``tangent_point`` (``xi`` east, ``eta`` north); sources enter them through the approximate
    WCS given to `match_pattern`.

    Attributes
    ----------
    source_index, ref_index : `numpy.ndarray`
        Indices (into the arrays given to `match_pattern`) of the matched pairs; each source and
        each reference appears at most once.
    distance : `numpy.ndarray`
        Residual of each pair (arcsec) under the final refinement transform.
    tangent_point : `~skystack.geom.SpherePoint`
        Sky position of the centre of the detector under the approximate WCS.
    rotation : `float`
        Rotation (degrees, counter-clockwise from +xi towards +eta) of the least-squares
        similarity transform from source to reference coordinates over the final matches.
    scale : `float`
        Its scale factor (reference / source distances).
    offset : `tuple` [`float`, `float`]
        Its translation ``(xi, eta)`` in arcsec: the pointing error at the tangent point.
    affine : `numpy.ndarray`
        2×3 least-squares affine transform over the final matches:
        ``[xi_ref, eta_ref] = affine[:, :2] @ [xi_src, eta_src] + affine[:, 2]`` (arcsec).
    rms : `float`
        Root mean square of ``distance`` (arcsec).
    radius : `float`
        The final match radius (arcsec).
    n_pattern : `int`
        Of the ``2 n_brightest`` brightest sources, how many the pattern solution matched
        within ``tolerance_arcsec`` (before refinement).
    n_sources_tried, n_refs_tried : `int`
        How many of the brightest sources and references the pattern search used.
    """

    source_index: np.ndarray
    ref_index: np.ndarray
    distance: np.ndarray
    tangent_point: SpherePoint
    rotation: float
    scale: float
    offset: tuple[float, float]
    affine: np.ndarray
    rms: float
    radius: float
    n_pattern: int
    n_sources_tried: int
    n_refs_tried: int

    @property
    def n_matches(self) -> int:
        """Number of matched pairs."""
        return int(self.source_index.size)


# -- small vectorised helpers ---------------------------------------------------------------------
def _float_array(values: npt.ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"match_pattern: {name} must be a 1-d array, got shape {arr.shape}")
    return arr


@functools.lru_cache(maxsize=8)
def _triplets(n: int) -> np.ndarray:
    """All index triples ``i < j < k < n`` as an ``(n choose 3, 3)`` array (vectorised)."""
    i, j = np.triu_indices(n, 1)
    counts = n - 1 - j
    total = int(counts.sum())
    ii = np.repeat(i, counts)
    jj = np.repeat(j, counts)
    starts = np.cumsum(counts) - counts
    kk = jj + 1 + (np.arange(total) - np.repeat(starts, counts))
    out = np.stack([ii, jj, kk], axis=1)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class _Triangles:
    vertices: np.ndarray  # (m, 3) point indices: opposite the longest, middle, shortest side
    log_size: np.ndarray  # (m,) log of the longest side (arcsec)
    angle: np.ndarray  # (m,) direction of the longest side, vertex 1 -> vertex 2 (radians)
    shape: np.ndarray  # (m, 2) middle and shortest side over the longest

    @property
    def longest(self) -> np.ndarray:
        return np.exp(self.log_size)


def _triangles(points: np.ndarray, min_side: float, max_side: float, ambiguity: float) -> _Triangles:
    """Triangles of ``points`` with sides in ``[min_side, max_side]`` and an unambiguous vertex order.

    Triangles whose side lengths differ by less than ``ambiguity`` are dropped: their canonical
    vertex order could differ between the two catalogues.
    """
    trip = _triplets(points.shape[0])
    pa, pb, pc = points[trip[:, 0]], points[trip[:, 1]], points[trip[:, 2]]
    sides = np.stack(
        [np.hypot(*(pb - pc).T), np.hypot(*(pa - pc).T), np.hypot(*(pa - pb).T)], axis=1
    )  # side opposite vertex 0, 1, 2
    order = np.argsort(-sides, axis=1)
    s = np.take_along_axis(sides, order, axis=1)
    keep = (s[:, 2] >= min_side) & (s[:, 0] <= max_side)
    keep &= (s[:, 0] - s[:, 1] > ambiguity) & (s[:, 1] - s[:, 2] > ambiguity)
    verts = np.take_along_axis(trip, order, axis=1)[keep]
    s = s[keep]
    edge = points[verts[:, 2]] - points[verts[:, 1]]
    return _Triangles(
        vertices=verts,
        log_size=np.log(s[:, 0]),
        angle=np.arctan2(edge[:, 1], edge[:, 0]),
        shape=s[:, 1:] / s[:, :1],
    )


def _candidate_pairs(
    src: _Triangles, ref: _Triangles, max_rotation: float, max_scale_error: float, tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (source triangle, reference triangle) of similar shape, size and orientation.

    Features are (log size, orientation, two shape ratios), scaled so that the allowed difference
    is about 1 on each axis; a k-d tree box query (max-norm) per source triangle, with a radius
    covering that triangle's own noise, finds the candidates. Orientations near ±π are repeated
    shifted by ∓2π among the references so that the box query needs no wrap-around.
    """
    rot = math.radians(max_rotation)
    dlog = math.log1p(max_scale_error)
    noise = 2.0 * math.sqrt(2.0) * tolerance / np.exp(src.log_size)  # per source triangle
    typical = float(np.median(noise))
    scales = np.array([dlog + typical, rot + typical, 2.0 * typical, 2.0 * typical])
    radius = np.maximum.reduce(
        [(dlog + noise) / scales[0], (rot + noise) / scales[1], 2.0 * noise / scales[2]]
    )
    half_width = float(np.max(radius)) * scales[1]
    angle = ref.angle
    low = angle < -math.pi + half_width
    high = angle > math.pi - half_width
    index = np.concatenate([np.arange(angle.size), np.flatnonzero(low), np.flatnonzero(high)])
    angle = np.concatenate([angle, angle[low] + 2 * math.pi, angle[high] - 2 * math.pi])
    ref_feat = np.column_stack([ref.log_size[index], angle, ref.shape[index]]) / scales
    src_feat = np.column_stack([src.log_size, src.angle, src.shape]) / scales
    tree = cKDTree(ref_feat)
    q_idx, r_idx = _flatten_neighbours(tree.query_ball_point(src_feat, radius, p=np.inf))
    return q_idx, index[r_idx]


def _flatten_neighbours(lists: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query index, found index) pairs from `cKDTree.query_ball_point`'s list-of-lists output."""
    lengths = np.fromiter(map(len, lists), dtype=np.intp, count=len(lists))
    total = int(lengths.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    found = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.intp, count=total)
    return np.repeat(np.arange(len(lists)), lengths), found


def _similarity(p: np.ndarray, q: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares similarity ``q ≈ a p + b`` (complex points) along ``axis``."""
    pm = p.mean(axis=axis, keepdims=True)
    qm = q.mean(axis=axis, keepdims=True)
    dp = p - pm
    with np.errstate(divide="ignore", invalid="ignore"):
        a = (np.sum((q - qm) * np.conj(dp), axis=axis) / np.sum(np.abs(dp) ** 2, axis=axis))[..., None]
    b = qm - a * pm
    return np.squeeze(a, axis=-1), np.squeeze(b, axis=-1)


def _poly_terms(order: int) -> list[tuple[int, int]]:
    return [(p, t - p) for t in range(order + 1) for p in range(t, -1, -1)]


def _poly_design(x: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    return np.stack([x**p * y**q for p, q in _poly_terms(order)], axis=1)


@dataclass
class _PolyModel:
    """``[xi, eta]_ref = poly(xi_src / norm, eta_src / norm)`` with coefficients per output axis."""

    order: int
    norm: float
    coeffs: np.ndarray  # (n_terms, 2)

    def __call__(self, pts: np.ndarray) -> np.ndarray:
        design = _poly_design(pts[:, 0] / self.norm, pts[:, 1] / self.norm, self.order)
        return design @ self.coeffs

    @classmethod
    def from_similarity(cls, a: complex, b: complex, norm: float) -> _PolyModel:
        coeffs = np.array([[b.real, b.imag], [a.real * norm, a.imag * norm], [-a.imag * norm, a.real * norm]])
        return cls(order=1, norm=norm, coeffs=coeffs)

    @classmethod
    def fit(cls, src: np.ndarray, ref: np.ndarray, order: int, norm: float, n_sigma: float) -> _PolyModel:
        design = _poly_design(src[:, 0] / norm, src[:, 1] / norm, order)
        keep = np.ones(src.shape[0], dtype=bool)
        coeffs = np.zeros((design.shape[1], 2))
        for _ in range(3):  # a few rounds of clipping against mismatches inside the radius
            coeffs, *_ = np.linalg.lstsq(design[keep], ref[keep], rcond=None)
            resid = np.hypot(*(design @ coeffs - ref).T)
            rms = math.sqrt(float(np.mean(resid[keep] ** 2)))
            new_keep = resid <= max(n_sigma * rms, 1e-9)
            if new_keep.sum() < design.shape[1] + 2 or np.array_equal(new_keep, keep):
                break
            keep = new_keep
        return cls(order=order, norm=norm, coeffs=coeffs)


def _unique_nearest(
    dist: np.ndarray, idx: np.ndarray, n_ref: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (source, ref, distance) within the query radius, each reference keeping its nearest source."""
    found = idx < n_ref
    src = np.flatnonzero(found)
    ref = idx[found]
    d = dist[found]
    order = np.lexsort((d, ref))
    ref_o = ref[order]
    first = np.ones(ref_o.size, dtype=bool)
    first[1:] = ref_o[1:] != ref_o[:-1]
    sel = order[first]
    return src[sel], ref[sel], d[sel]


def _brightest(indices: np.ndarray, flux: np.ndarray | None, n: int) -> np.ndarray:
    if flux is None:
        return indices[:n]
    f = flux[indices]
    key = np.where(np.isfinite(f), f, -np.inf)
    return indices[np.argsort(-key, kind="stable")[:n]]


# -- the matcher ----------------------------------------------------------------------------------
def match_pattern(
    source_x: npt.ArrayLike,
    source_y: npt.ArrayLike,
    ref_ra: npt.ArrayLike,
    ref_dec: npt.ArrayLike,
    wcs: SkyWcs,
    *,
    source_flux: npt.ArrayLike | None = None,
    ref_flux: npt.ArrayLike | None = None,
    bbox: Box2I | Box2D | None = None,
    max_offset_arcsec: float = 90.0,
    max_rotation_deg: float = 2.0,
    max_scale_error: float = 0.05,
    tolerance_arcsec: float = 2.0,
    n_brightest: int = 50,
    min_matches: int = 6,
    refine_order: int = 3,
    min_radius_arcsec: float = 0.5,
    max_refine_iter: int = 20,
) -> PatternMatch:
    """Match sources on a detector to reference stars, given an approximate WCS.

    Parameters
    ----------
    source_x, source_y : array_like
        Pixel positions of the detected sources (0-based, parent pixels). Non-finite
        positions are ignored (never matched).
    ref_ra, ref_dec : array_like
        Reference positions in degrees, at the epoch of the observation. References with
        non-finite positions are ignored.
    wcs : `~skystack.geom.SkyWcs`
        Approximate WCS of the detector (e.g. the telescope's pointing).
    source_flux, ref_flux : array_like, optional
        Brightness used to pick the brightest objects for the pattern search (any monotonic
        flux: instrumental counts, nJy). Without them the first ``n_brightest`` entries are
        used, so pass the lists sorted by brightness.
    bbox : `~skystack.geom.Box2I` or `~skystack.geom.Box2D`, optional
        The detector's pixel box (default: the box spanned by the sources). References whose
        approximate position falls outside it by more than the search bounds are ignored.
    max_offset_arcsec : `float`
        Largest offset searched at the centre of the detector, in arcsec: the pointing error
        plus the rotation error times the detector's distance from the boresight.
    max_rotation_deg : `float`
        Largest rotation error searched, in degrees.
    max_scale_error : `float`
        Largest fractional scale error searched.
    tolerance_arcsec : `float`
        Largest position mismatch of a true pair under the pattern's similarity transform
        (noise plus the distortion the approximate WCS lacks).
    n_brightest : `int`
        Number of brightest sources used to build triangles (≥ 4); up to twice as many of the
        brightest references in the (larger) search area are used.
    min_matches : `int`
        Fewest bright sources the pattern solution must match (≥ 3); more are required where
        the density of references makes chance matches likely (see the module notes).
    refine_order : `int`
        Highest polynomial order (1–5) of the source → reference transform used to refine the
        matches; each order is used once there are at least three pairs per coefficient.
    min_radius_arcsec : `float`
        Smallest final match radius.
    max_refine_iter : `int`
        Most nearest-neighbour refinement iterations.

    Returns
    -------
    match : `PatternMatch`

    Raises
    ------
    ValueError
        If the inputs have mismatched lengths or the parameters are out of range.
    MatchError
        If too few sources or references are usable, or no pattern consistent with the bounds
        matches enough sources; the message says what was tried.
    """
    sx = _float_array(source_x, "source_x")
    sy = _float_array(source_y, "source_y")
    rra = _float_array(ref_ra, "ref_ra")
    rdec = _float_array(ref_dec, "ref_dec")
    if sx.size != sy.size:
        raise ValueError(f"match_pattern: source_x and source_y differ in length ({sx.size} vs {sy.size})")
    if rra.size != rdec.size:
        raise ValueError(f"match_pattern: ref_ra and ref_dec differ in length ({rra.size} vs {rdec.size})")
    sflux = None if source_flux is None else _float_array(source_flux, "source_flux")
    rflux = None if ref_flux is None else _float_array(ref_flux, "ref_flux")
    if sflux is not None and sflux.size != sx.size:
        raise ValueError(f"match_pattern: source_flux has {sflux.size} entries for {sx.size} sources")
    if rflux is not None and rflux.size != rra.size:
        raise ValueError(f"match_pattern: ref_flux has {rflux.size} entries for {rra.size} references")
    _check_parameters(
        max_offset_arcsec,
        max_rotation_deg,
        max_scale_error,
        tolerance_arcsec,
        n_brightest,
        min_matches,
        refine_order,
        min_radius_arcsec,
        max_refine_iter,
    )
    if not isinstance(wcs, SkyWcs):
        raise TypeError(f"match_pattern: wcs must be a skystack SkyWcs, got {type(wcs).__qualname__}")

    src_ok = np.flatnonzero(np.isfinite(sx) & np.isfinite(sy))
    if src_ok.size < 3:
        raise MatchError(f"match_pattern: {src_ok.size} sources with finite positions; at least 3 are needed")
    if bbox is None:
        box = Box2D.from_points(sx[src_ok], sy[src_ok])
    else:
        box = bbox.to_box2d() if isinstance(bbox, Box2I) else bbox
        if box.is_empty:
            raise ValueError("match_pattern: bbox is empty; give the detector's pixel box")
    cx, cy = box.center
    tangent = wcs.pixel_to_sky_point(cx, cy)
    ra0, dec0 = tangent.ra.degrees, tangent.dec.degrees
    pixel_scale = wcs.pixel_scale(cx, cy).arcseconds

    # Sources through the approximate WCS, references: both in the tangent plane (arcsec).
    s_ra, s_dec = wcs.pixel_to_sky(sx[src_ok], sy[src_ok])
    s_xi, s_eta = gnomonic_project(s_ra, s_dec, ra0, dec0)
    src_pts = np.stack([s_xi, s_eta], axis=1) * _ARCSEC_PER_DEG
    src_keep = np.isfinite(src_pts).all(axis=1)
    src_ok, src_pts = src_ok[src_keep], src_pts[src_keep]

    half_diag = 0.5 * math.hypot(box.width, box.height) * pixel_scale
    pad = (
        max_offset_arcsec + (math.radians(max_rotation_deg) + max_scale_error) * half_diag + tolerance_arcsec
    )
    pad_px = pad / pixel_scale
    ref_fin = np.flatnonzero(np.isfinite(rra) & np.isfinite(rdec))
    r_xi, r_eta = gnomonic_project(rra[ref_fin], rdec[ref_fin], ra0, dec0)
    rx, ry = wcs.sky_to_pixel(rra[ref_fin], rdec[ref_fin])
    in_area = box.grown(pad_px).contains(rx, ry) & np.isfinite(r_xi) & np.isfinite(r_eta)
    ref_ok = ref_fin[in_area]
    ref_pts = np.stack([r_xi[in_area], r_eta[in_area]], axis=1) * _ARCSEC_PER_DEG
    if ref_ok.size < 3:
        raise MatchError(
            f"match_pattern: {ref_ok.size} of {rra.size} reference stars fall within {pad:.0f}″ of the "
            f"detector under the approximate WCS; at least 3 are needed (check the WCS and the refcat area)"
        )

    # -- pattern search on the brightest objects, in growing stages ("optimistic": stop at the
    # first verified solution, so that easy fields cost little and hard ones get more stars) --------
    area_ratio = (box.width + 2 * pad_px) * (box.height + 2 * pad_px) / max(box.width * box.height, 1.0)
    src_order = _brightest(np.arange(src_ok.size), None if sflux is None else sflux[src_ok], src_ok.size)
    ref_order = _brightest(np.arange(ref_ok.size), None if rflux is None else rflux[ref_ok], ref_ok.size)
    verify_pts = src_pts[src_order[: 2 * n_brightest]]
    ref_tree = cKDTree(ref_pts)
    search_area = (box.width + 2 * pad_px) * (box.height + 2 * pad_px) * pixel_scale**2
    expected = verify_pts.shape[0] * ref_ok.size / search_area * math.pi * tolerance_arcsec**2
    stages = _stages(n_brightest, src_ok.size)
    needed = max(min_matches, 3 + _chance_matches(expected, _MAX_VERIFY * len(stages), _FALSE_ALARM))
    best_a, best_b, n_pattern = 0j, 0j, 0
    n_s = n_r = 0
    for stage in stages:
        n_s = stage
        n_r = int(min(ref_ok.size, max(n_s, min(2 * n_s, round(n_s * area_ratio)))))
        a_c, b_c, n_found = _search_stage(
            src_pts[src_order[:n_s]],
            ref_pts[ref_order[:n_r]],
            verify_pts,
            ref_tree,
            max_offset_arcsec,
            max_rotation_deg,
            max_scale_error,
            tolerance_arcsec,
        )
        if n_found > n_pattern:
            best_a, best_b, n_pattern = a_c, b_c, n_found
        if n_pattern >= needed:
            break
    if n_pattern < needed:
        raise MatchError(
            f"match_pattern: no consistent pattern between the {n_s} brightest of {src_ok.size} sources and "
            f"the {n_r} brightest of {ref_ok.size} reference stars near the detector (tolerance "
            f"{tolerance_arcsec:g}″, max offset {max_offset_arcsec:g}″, max rotation {max_rotation_deg:g}°, "
            f"max scale error {max_scale_error:g}); the best solution matched {n_pattern} of the "
            f"{verify_pts.shape[0]} brightest sources, {needed} needed. Check the approximate WCS, the "
            "reference catalogue's area, band and epoch, or widen the bounds."
        )

    # -- refinement on the full lists ------------------------------------------------------------
    norm = max(half_diag, 1.0)
    model = _PolyModel.from_similarity(complex(best_a), complex(best_b), norm)
    src_i, ref_i, dist, radius_used = _refine(
        src_pts, ref_pts, ref_tree, model, tolerance_arcsec, min_radius_arcsec, refine_order, max_refine_iter
    )
    if src_i.size < needed:
        raise MatchError(
            f"match_pattern: refinement kept only {src_i.size} pairs within {radius_used:.2f}″ ({needed} "
            f"needed); the pattern solution matching {n_pattern} bright sources is not reliable"
        )
    ps = src_pts[src_i, 0] + 1j * src_pts[src_i, 1]
    pr = ref_pts[ref_i, 0] + 1j * ref_pts[ref_i, 1]
    a, b = _similarity(ps, pr)
    a_c, b_c = complex(a), complex(b)
    design = np.stack([src_pts[src_i, 0], src_pts[src_i, 1], np.ones(src_i.size)], axis=1)
    affine, *_ = np.linalg.lstsq(design, ref_pts[ref_i], rcond=None)
    order = np.argsort(src_ok[src_i], kind="stable")
    return PatternMatch(
        source_index=src_ok[src_i][order],
        ref_index=ref_ok[ref_i][order],
        distance=dist[order],
        tangent_point=tangent,
        rotation=math.degrees(math.atan2(a_c.imag, a_c.real)),
        scale=abs(a_c),
        offset=(b_c.real, b_c.imag),
        affine=affine.T.copy(),
        rms=math.sqrt(float(np.mean(dist**2))),
        radius=radius_used,
        n_pattern=n_pattern,
        n_sources_tried=n_s,
        n_refs_tried=n_r,
    )


def _check_parameters(
    max_offset: float,
    max_rotation: float,
    max_scale_error: float,
    tolerance: float,
    n_brightest: int,
    min_matches: int,
    refine_order: int,
    min_radius: float,
    max_refine_iter: int,
) -> None:
    checks = [
        (max_offset >= 0 and math.isfinite(max_offset), f"max_offset_arcsec must be >= 0, got {max_offset}"),
        (0 <= max_rotation <= 45, f"max_rotation_deg must be in [0, 45], got {max_rotation}"),
        (0 <= max_scale_error < 0.5, f"max_scale_error must be in [0, 0.5), got {max_scale_error}"),
        (tolerance > 0 and math.isfinite(tolerance), f"tolerance_arcsec must be > 0, got {tolerance}"),
        (4 <= n_brightest <= 100, f"n_brightest must be in [4, 100], got {n_brightest}"),
        (min_matches >= 3, f"min_matches must be >= 3, got {min_matches}"),
        (1 <= refine_order <= 5, f"refine_order must be in [1, 5], got {refine_order}"),
        (min_radius > 0, f"min_radius_arcsec must be > 0, got {min_radius}"),
        (max_refine_iter >= 1, f"max_refine_iter must be >= 1, got {max_refine_iter}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ValueError(f"match_pattern: {message}")


def _chance_matches(expected: float, n_trials: int, false_alarm: float) -> int:
    """Smallest ``k`` with ``n_trials * P(Poisson(expected) >= k) <= false_alarm``.

    A wrong transform lands on references by chance about ``expected`` times; since the best of
    ``n_trials`` verified candidates is kept, its chance count must be beaten with that many tries.
    """
    k = 1
    while k < 1000 and n_trials * float(gammainc(k, expected)) > false_alarm:  # P(X >= k) = P(k, λ)
        k += 1
    return k


def _stages(n_brightest: int, n_sources: int) -> list[int]:
    """Numbers of bright sources tried in turn: from 12, growing by half, up to ``n_brightest``."""
    last = min(n_brightest, n_sources)
    stages = []
    n = 12
    while n < last:
        stages.append(n)
        n = math.ceil(n * 1.5)
    return [*stages, last]


def _search_stage(
    bright_src: np.ndarray,
    bright_ref: np.ndarray,
    verify_pts: np.ndarray,
    ref_tree: cKDTree,
    max_offset: float,
    max_rotation: float,
    max_scale_error: float,
    tolerance: float,
) -> tuple[complex, complex, int]:
    """Triangle candidates between two bright lists; the best verified solution and its match count."""
    min_side = 5.0 * tolerance
    s_tri = _triangles(bright_src, min_side, np.inf, 2.0 * tolerance)
    if s_tri.vertices.size == 0:
        return 0j, 0j, 0
    max_side = (1.0 + max_scale_error) * float(s_tri.longest.max()) + 2.0 * tolerance
    r_tri = _triangles(bright_ref, min_side * (1.0 - max_scale_error) - 2.0 * tolerance, max_side, tolerance)
    if r_tri.vertices.size == 0:
        return 0j, 0j, 0
    q_idx, r_idx = _candidate_pairs(s_tri, r_tri, max_rotation, max_scale_error, tolerance)
    return _best_solution(
        bright_src[s_tri.vertices[q_idx]],
        bright_ref[r_tri.vertices[r_idx]],
        verify_pts,
        ref_tree,
        max_offset,
        max_rotation,
        max_scale_error,
        tolerance,
    )


def _best_solution(
    src_vertices: np.ndarray,
    ref_vertices: np.ndarray,
    verify_pts: np.ndarray,
    ref_tree: cKDTree,
    max_offset: float,
    max_rotation: float,
    max_scale_error: float,
    tolerance: float,
    max_verify: int = _MAX_VERIFY,
) -> tuple[complex, complex, int]:
    """Similarity transforms of candidate triangle pairs, filtered by the bounds, voted and verified.

    Returns the best ``(a, b)``, refitted on the verification sources it matches (`_polish`), and
    their number.
    """
    if src_vertices.shape[0] == 0:
        return 0j, 0j, 0
    p = src_vertices[..., 0] + 1j * src_vertices[..., 1]  # (n_cand, 3)
    q = ref_vertices[..., 0] + 1j * ref_vertices[..., 1]
    a, b = _similarity(p, q)
    resid = np.abs(a[:, None] * p + b[:, None] - q).max(axis=1)
    ok = (
        (np.abs(np.abs(a) - 1.0) <= max_scale_error)
        & (np.abs(np.angle(a)) <= math.radians(max_rotation))
        & (np.abs(b) <= max_offset + tolerance)
        & (resid <= 2.0 * tolerance)
    )
    a, b, resid = a[ok], b[ok], resid[ok]
    if a.size == 0:
        return 0j, 0j, 0
    # Vote: candidates sharing an offset bin support each other; verify the best supported ones.
    cell = 2.0 * tolerance
    keys = np.round(b.real / cell).astype(np.int64) * 1_000_003 + np.round(b.imag / cell).astype(np.int64)
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    best = np.lexsort((resid, -counts[inverse]))[:max_verify]
    a, b = a[best], b[best]
    n_ref = ref_tree.n
    pts = verify_pts[:, 0] + 1j * verify_pts[:, 1]
    moved = a[:, None] * pts[None, :] + b[:, None]  # (n_verify, n_points)
    flat = np.stack([moved.real.ravel(), moved.imag.ravel()], axis=1)
    dist, idx = ref_tree.query(flat, distance_upper_bound=tolerance)
    found = idx < n_ref
    cand = np.repeat(np.arange(a.size), pts.size)[found]
    pair_keys = np.unique(cand * (n_ref + 1) + idx[found])  # unique references per candidate
    n_match = np.bincount(pair_keys // (n_ref + 1), minlength=a.size)
    mean_d = np.bincount(cand, weights=dist[found], minlength=a.size) / np.maximum(
        np.bincount(cand, minlength=a.size), 1
    )
    winner = int(np.lexsort((mean_d, -n_match))[0])
    return _polish(complex(a[winner]), complex(b[winner]), pts, ref_tree, tolerance)


def _polish(
    a: complex, b: complex, pts: np.ndarray, ref_tree: cKDTree, tolerance: float
) -> tuple[complex, complex, int]:
    """Refit the similarity on all the verification sources it matches (a triangle fixes it only
    locally: over the whole detector its rotation can be off by more than the tolerance)."""
    ref_c = ref_tree.data[:, 0] + 1j * ref_tree.data[:, 1]
    count = 0
    for _ in range(4):
        moved = a * pts + b
        dist, idx = ref_tree.query(np.stack([moved.real, moved.imag], axis=1), distance_upper_bound=tolerance)
        src_i, ref_i, _ = _unique_nearest(dist, idx, ref_tree.n)
        if src_i.size < 3 or src_i.size == count:
            count = max(count, int(src_i.size))
            break
        count = int(src_i.size)
        a_new, b_new = _similarity(pts[src_i], ref_c[ref_i])
        a, b = complex(a_new), complex(b_new)
    return a, b, count


def _refine(
    src_pts: np.ndarray,
    ref_pts: np.ndarray,
    ref_tree: cKDTree,
    model: _PolyModel,
    start_radius: float,
    min_radius: float,
    refine_order: int,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Nearest-neighbour matching under a polynomial transform refitted while the radius shrinks.

    At each radius the pairs are matched and the model refitted until the pairs no longer
    change; only then does the radius shrink (to 3.5 times the rms residual, not below
    ``min_radius``), so a model fitted to part of the detector cannot lock out the rest.
    """
    n_ref = ref_pts.shape[0]
    radius = max(start_radius, min_radius)
    target = radius
    previous: tuple[np.ndarray, np.ndarray] | None = None
    src_i = ref_i = dist = np.zeros(0)
    radius_used = radius
    for _ in range(max_iter):
        radius_used = radius
        d, idx = ref_tree.query(model(src_pts), distance_upper_bound=radius)
        src_i, ref_i, dist = _unique_nearest(d, idx, n_ref)
        if src_i.size < 3:
            break
        if previous is not None and np.array_equal(previous[0], src_i) and np.array_equal(previous[1], ref_i):
            if radius <= target:
                break
            radius = target  # stable at this radius: shrink, keeping the model
            continue
        previous = (src_i, ref_i)
        order = max([1, *(k for k in range(2, refine_order + 1) if src_i.size >= 3 * len(_poly_terms(k)))])
        model = _PolyModel.fit(src_pts[src_i], ref_pts[ref_i], order, model.norm, n_sigma=3.0)
        resid = np.hypot(*(model(src_pts[src_i]) - ref_pts[ref_i]).T)
        rms = math.sqrt(float(np.mean(np.minimum(resid, radius) ** 2)))
        target = max(min_radius, min(radius, 3.5 * rms))
    return src_i.astype(np.intp), ref_i.astype(np.intp), dist, radius_used
