# SPDX-License-Identifier: GPL-3.0-or-later
"""`SkyWcs`: a celestial WCS (pixel ↔ sky) built on `astropy.wcs.WCS`.

Pixel convention (Rubin): 0-based pixel coordinates with pixel centres at integer values, i.e.
astropy ``origin=0``. Sky coordinates are ICRS-like (ra, dec) in degrees for arrays and
`SpherePoint` / `Angle` for single values.

Any celestial WCS astropy reads is accepted (TAN, TAN-SIP, TPV from DECam headers, SIN, ZEA, …).
For TAN and TAN-SIP, which are what surveys and our skymaps use, ``pixel_to_sky`` and
``sky_to_pixel`` use a direct vectorised implementation of the FITS WCS formulas (Calabretta &
Greisen 2002, zenithal projections with general ``LONPOLE``; SIP per Shupe et al. 2005) that
is faster than astropy and agrees with it to better than a microarcsecond; it is verified
against astropy when each `SkyWcs` is built and otherwise astropy itself is used. Inverse SIP
is solved by Newton iteration to 1e-10 pixel (the ``AP``/``BP`` polynomials, when present, are
only the starting guess), so ``sky_to_pixel(pixel_to_sky(x, y))`` recovers ``(x, y)``.

FITS headers are written with every floating-point value at full double precision (shortest
round-trip representation), so ``from_fits_header(to_fits_header())`` is bit-exact; astropy's
own ``WCS.to_header`` keeps only 13 significant digits.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning, Sip, Wcsprm
from lsst import sphgeom

from ..utils.persist import register_persistable
from .angle import Angle
from .box import Box2D, Point2D
from .sky import SpherePoint, radec_to_unit_vectors

__all__ = ["LocalAffine", "SkyWcs", "make_cd_matrix"]

_DEG = math.pi / 180.0
_FAST_TOLERANCE_DEG = 1e-9  # 3.6 µas: fast path must agree with astropy to this at build time
_NEWTON_TOLERANCE = 1e-10  # pixels
_NEWTON_MAX_ITER = 30


def make_cd_matrix(scale: Angle, orientation: Angle | None = None, flip_x: bool = False) -> np.ndarray:
    """A CD matrix (degrees per pixel) for a pixel scale and orientation (as Rubin ``makeCdMatrix``).

    Parameters
    ----------
    scale : `Angle`
        Pixel scale (size of a pixel on the sky); must be positive.
    orientation : `Angle`, optional
        Position angle of the +y pixel axis, from north through east (default 0: +y is north).
    flip_x : `bool`, optional
        False (default, the usual view of the sky): at orientation 0, +x points west, i.e. RA
        increases to the left and ``CD1_1 < 0``. True: +x points east.

    Returns
    -------
    cd : `numpy.ndarray`
        2×2 array ``[[CD1_1, CD1_2], [CD2_1, CD2_2]]`` in degrees per pixel.

    Raises
    ------
    ValueError
        If ``scale`` is not a positive `Angle`.
    """
    if not isinstance(scale, Angle) or not scale.radians > 0.0:
        raise ValueError(f"make_cd_matrix: scale must be a positive Angle, got {scale!r}")
    theta = 0.0 if orientation is None else orientation.radians
    s = scale.degrees
    xmult = 1.0 if flip_x else -1.0
    c, sn = math.cos(theta), math.sin(theta)
    return np.array([[xmult * s * c, s * sn], [-xmult * s * sn, s * c]])


@dataclass(frozen=True)
class LocalAffine:
    """The linear approximation of a WCS's pixel → sky mapping at one point.

    ``(ra, dec) ≈ offset + matrix @ (x, y)`` near the point, in degrees.

    Attributes
    ----------
    matrix : `numpy.ndarray`
        2×2 Jacobian ``d(ra, dec) / d(x, y)`` in degrees per pixel. The RA row is a derivative
        of RA itself (not multiplied by ``cos(dec)``); see `tangent_matrix` for the local CD
        matrix of on-sky angles.
    offset : `numpy.ndarray`
        ``(ra, dec) - matrix @ (x, y)`` in degrees.
    pixel : `Point2D`
        Where the approximation was made.
    sky : `SpherePoint`
        The sky position of ``pixel``.

    Notes
    -----
    Being linear in RA, the approximation is meaningful only near the point and away from
    the poles; values from `apply` are not wrapped into ``[0, 360)``.
    """

    matrix: np.ndarray
    offset: np.ndarray
    pixel: Point2D
    sky: SpherePoint

    @property
    def tangent_matrix(self) -> np.ndarray:
        """Local CD matrix ``d(ra·cos dec, dec)/d(x, y)`` in degrees (on the sky) per pixel."""
        scaled = self.matrix.copy()
        scaled[0] *= math.cos(self.sky.dec.radians)
        return scaled

    def apply(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[Any, Any]:
        """Evaluate the approximation: ``(ra, dec)`` in degrees (not wrapped)."""
        xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        ra = self.offset[0] + self.matrix[0, 0] * xa + self.matrix[0, 1] * ya
        dec = self.offset[1] + self.matrix[1, 0] * xa + self.matrix[1, 1] * ya
        return ra, dec


# -- SIP polynomials ------------------------------------------------------------------------------
class _Poly2:
    """A 2-d polynomial ``Σ c[p, q] u^p v^q`` evaluated with cached powers (vectorised)."""

    def __init__(self, coeffs: np.ndarray) -> None:
        c = np.asarray(coeffs, dtype=float)
        p_idx, q_idx = np.nonzero(c)
        self.terms = [(int(p), int(q), float(c[p, q])) for p, q in zip(p_idx, q_idx, strict=True)]
        self.order = c.shape[0] - 1

    @staticmethod
    def powers(values: np.ndarray, order: int) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = [None, values]
        for _ in range(2, order + 1):
            prev = out[-1]
            assert prev is not None
            out.append(prev * values)
        return out

    def value(self, up: list[np.ndarray | None], vp: list[np.ndarray | None], like: np.ndarray) -> Any:
        total: Any = np.zeros_like(like)
        for p, q, c in self.terms:
            total = total + _mono(c, up, vp, p, q)
        return total

    def du(self, up: list[np.ndarray | None], vp: list[np.ndarray | None], like: np.ndarray) -> Any:
        total: Any = np.zeros_like(like)
        for p, q, c in self.terms:
            if p > 0:
                total = total + _mono(c * p, up, vp, p - 1, q)
        return total

    def dv(self, up: list[np.ndarray | None], vp: list[np.ndarray | None], like: np.ndarray) -> Any:
        total: Any = np.zeros_like(like)
        for p, q, c in self.terms:
            if q > 0:
                total = total + _mono(c * q, up, vp, p, q - 1)
        return total


def _mono(c: float, up: list[np.ndarray | None], vp: list[np.ndarray | None], p: int, q: int) -> Any:
    term: Any = c
    if p > 0:
        term = term * up[p]
    if q > 0:
        term = term * vp[q]
    return term


@dataclass
class _TanSip:
    """Parameters of a TAN(-SIP) WCS for the direct formulas (angles in radians)."""

    crpix0: np.ndarray  # 0-based reference pixel
    cd: np.ndarray  # radians per pixel
    cd_inv: np.ndarray
    alpha_p: float
    sin_dp: float
    cos_dp: float
    sin_phip: float
    cos_phip: float
    sip_a: _Poly2 | None
    sip_b: _Poly2 | None
    sip_ap: _Poly2 | None
    sip_bp: _Poly2 | None

    @classmethod
    def from_wcs(cls, wcs: WCS) -> _TanSip | None:
        w = wcs.wcs
        ctypes = [str(c) for c in w.ctype]
        if wcs.naxis != 2 or w.lng != 0 or w.lat != 1:
            return None
        if not all(c[4:] in ("-TAN", "-TAN-SIP") for c in ctypes):
            return None
        if wcs.cpdis1 is not None or wcs.cpdis2 is not None or wcs.det2im1 is not None:
            return None
        if wcs.det2im2 is not None or w.get_pv() or w.cel.offset:
            return None
        if w.cel.phi0 != 0.0 or w.cel.theta0 != 90.0 or any(str(u) != "deg" for u in w.cunit):
            return None
        sip = wcs.sip
        if sip is not None and not np.array_equal(sip.crpix, w.crpix):
            return None
        cd = np.asarray(w.get_pc(), dtype=float) * np.asarray(w.get_cdelt(), dtype=float)[:, None] * _DEG
        if not np.isfinite(cd).all() or abs(np.linalg.det(cd)) == 0.0:
            return None
        phip = float(w.lonpole) * _DEG
        dp = float(w.crval[1]) * _DEG
        return cls(
            crpix0=np.asarray(w.crpix, dtype=float) - 1.0,
            cd=cd,
            cd_inv=np.linalg.inv(cd),
            alpha_p=float(w.crval[0]) * _DEG,
            sin_dp=math.sin(dp),
            cos_dp=math.cos(dp),
            sin_phip=math.sin(phip),
            cos_phip=math.cos(phip),
            sip_a=None if sip is None or sip.a is None else _Poly2(sip.a),
            sip_b=None if sip is None or sip.b is None else _Poly2(sip.b),
            sip_ap=None if sip is None or sip.ap is None else _Poly2(sip.ap),
            sip_bp=None if sip is None or sip.bp is None else _Poly2(sip.bp),
        )

    def _distort(self, u: np.ndarray, v: np.ndarray) -> tuple[Any, Any]:
        if self.sip_a is None and self.sip_b is None:
            return u, v
        order = max(p.order for p in (self.sip_a, self.sip_b) if p is not None)
        up, vp = _Poly2.powers(u, order), _Poly2.powers(v, order)
        du = self.sip_a.value(up, vp, u) if self.sip_a is not None else 0.0
        dv = self.sip_b.value(up, vp, v) if self.sip_b is not None else 0.0
        return u + du, v + dv

    def pixel_to_sky(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u, v = self._distort(x - self.crpix0[0], y - self.crpix0[1])
        cd = self.cd
        xi = cd[0, 0] * u + cd[0, 1] * v
        eta = cd[1, 0] * u + cd[1, 1] * v
        if self.cos_phip == -1.0:  # LONPOLE = 180, the usual case
            a, b = eta, -xi
        else:
            a = xi * self.sin_phip - eta * self.cos_phip
            b = xi * self.cos_phip + eta * self.sin_phip
        den = self.cos_dp - self.sin_dp * a
        ra = np.arctan2(-b, den)
        ra += self.alpha_p
        dec = np.arctan2(self.sin_dp + self.cos_dp * a, np.hypot(b, den))
        ra_deg = np.degrees(ra, out=ra)
        ra_deg %= 360.0
        return ra_deg, np.degrees(dec, out=dec)

    def sky_to_pixel(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d_ra = np.radians(ra) - self.alpha_p
        dec_r = np.radians(dec)
        sd, cd_ = np.sin(dec_r), np.cos(dec_r)
        sda, cda = np.sin(d_ra), np.cos(d_ra)
        xx = -cd_ * sda
        yy = sd * self.cos_dp - cd_ * self.sin_dp * cda
        zz = sd * self.sin_dp + cd_ * self.cos_dp * cda
        with np.errstate(divide="ignore", invalid="ignore"):
            inv_z = np.where(zz > 0.0, 1.0 / zz, np.nan)  # beyond 90° of the tangent point
        xi = (xx * self.cos_phip + yy * self.sin_phip) * inv_z
        eta = (xx * self.sin_phip - yy * self.cos_phip) * inv_z
        ci = self.cd_inv
        uu = ci[0, 0] * xi + ci[0, 1] * eta
        vv = ci[1, 0] * xi + ci[1, 1] * eta
        if self.sip_a is not None or self.sip_b is not None:
            uu, vv = self._undistort(uu, vv)
        return uu + self.crpix0[0], vv + self.crpix0[1]

    def _undistort(self, uu: np.ndarray, vv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Solve ``u + A(u, v) = uu, v + B(u, v) = vv`` by Newton iteration."""
        u, v = uu.copy(), vv.copy()
        if self.sip_ap is not None or self.sip_bp is not None:
            order = max(p.order for p in (self.sip_ap, self.sip_bp) if p is not None)
            up, vp = _Poly2.powers(uu, order), _Poly2.powers(vv, order)
            if self.sip_ap is not None:
                u = u + self.sip_ap.value(up, vp, uu)
            if self.sip_bp is not None:
                v = v + self.sip_bp.value(up, vp, vv)
        zero = _Poly2(np.zeros((1, 1)))
        pa = self.sip_a if self.sip_a is not None else zero
        pb = self.sip_b if self.sip_b is not None else zero
        order = max(pa.order, pb.order, 1)
        active = np.flatnonzero(np.isfinite(u) & np.isfinite(v))
        for _ in range(_NEWTON_MAX_ITER):
            ua, va = u[active], v[active]
            up, vp = _Poly2.powers(ua, order), _Poly2.powers(va, order)
            f = ua + pa.value(up, vp, ua) - uu[active]
            g = va + pb.value(up, vp, va) - vv[active]
            todo = ~(np.abs(f) + np.abs(g) < _NEWTON_TOLERANCE)
            if not todo.any():
                active = active[:0]
                break
            if not todo.all():
                active, f, g, ua, va = active[todo], f[todo], g[todo], ua[todo], va[todo]
                up, vp = _Poly2.powers(ua, order), _Poly2.powers(va, order)
            j11 = 1.0 + pa.du(up, vp, ua)
            j12 = pa.dv(up, vp, ua)
            j21 = pb.du(up, vp, va)
            j22 = 1.0 + pb.dv(up, vp, va)
            det = j11 * j22 - j12 * j21
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                u[active] = ua - (j22 * f - j12 * g) / det
                v[active] = va - (j11 * g - j21 * f) / det
        if active.size:  # did not converge: no reliable pixel position
            u[active] = np.nan
            v[active] = np.nan
        return u, v


def _exact_card(key: str, value: float, comment: str = "") -> fits.Card:
    """A FITS card holding ``value`` at full double precision (shortest round-trip digits)."""
    text = repr(float(value)).upper()
    if "E" not in text and "." not in text:
        text += ".0"
    image = f"{key:<8s}= {text:>20s}"
    if comment:
        image = f"{image} / {comment}"
    return fits.Card.fromstring(image[:80])


def _replace_card(header: fits.Header, card: fits.Card) -> None:
    """Replace the card of the same keyword in place (keeping its position), else append it."""
    if card.keyword in header:
        index = header.index(card.keyword)
        del header[index]
        header.insert(index, card)
    else:
        header.append(card)


def _as_array(values: npt.ArrayLike) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _maybe_scalar(a: np.ndarray, scalar: bool) -> Any:
    return float(a[0]) if scalar else a


_TAN_CTYPES = {("RA---TAN", "DEC--TAN"), ("RA---TAN-SIP", "DEC--TAN-SIP")}
_SIP_CARD = re.compile(r"^(A|B|AP|BP)_(\d+)_(\d+)$")


def _card_number(card: str) -> float:
    return float(card[10:80].split("/")[0].strip().replace("D", "E"))


def _tan_sip_from_cards(cards: list[str]) -> WCS | None:
    """Build a TAN or TAN-SIP astropy WCS from primary-WCS header cards without ``WCS.__init__``.

    ``WCS(header)`` verifies every card twice and costs ~1 ms; wcslib's own parser plus an
    astropy `Sip` built from the ``A_p_q``/``B_p_q`` cards gives the same object in ~0.1 ms.
    Returns None for any other projection (or anything unusual), so the caller uses astropy.
    """
    ctypes = {
        c[:8].rstrip(): c[10:80].split("/")[0].strip().strip("'").strip()
        for c in cards
        if c.startswith("CTYPE")
    }
    ctype = (ctypes.get("CTYPE1", ""), ctypes.get("CTYPE2", ""))
    if ctype not in _TAN_CTYPES:
        return None
    coeffs: dict[str, dict[tuple[int, int], float]] = {"A": {}, "B": {}, "AP": {}, "BP": {}}
    orders: dict[str, int] = {}
    plain = []
    for card in cards:
        key = card[:8].rstrip()
        match = _SIP_CARD.match(key)
        if match:
            coeffs[match.group(1)][(int(match.group(2)), int(match.group(3)))] = _card_number(card)
        elif key.endswith("_ORDER") and key.split("_")[0] in coeffs:
            orders[key.split("_")[0]] = int(_card_number(card))
        elif not key.endswith("_DMAX"):
            plain.append(card)
    is_sip = ctype[0].endswith("-SIP")
    if is_sip != ("A" in orders and "B" in orders):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prm = Wcsprm(header="".join(plain).encode("ascii"), relax=True)
            prm.fix()  # as WCS.__init__ does (e.g. MJD-OBS from DATE-OBS)
    except Exception:  # anything wcslib dislikes: let astropy's full parser report it
        return None
    wcs = WCS(naxis=2)
    wcs.wcs = prm
    if is_sip:
        arrays: list[np.ndarray | None] = []
        for name in ("A", "B", "AP", "BP"):
            if name not in orders:
                arrays.append(None)
                continue
            arr = np.zeros((orders[name] + 1, orders[name] + 1))
            for (i, j), value in coeffs[name].items():
                if i + j > orders[name]:
                    return None
                arr[i, j] = value
            arrays.append(arr)
        wcs.sip = Sip(arrays[0], arrays[1], arrays[2], arrays[3], prm.crpix)
    return wcs


# Keywords of a primary (not alternate) celestial WCS, with SIP and TPV distortion terms.
_WCS_KEYWORD = re.compile(
    r"^(WCSAXES|WCSNAME|CTYPE\d|CUNIT\d|CRPIX\d|CRVAL\d|CDELT\d|CD\d_\d|PC\d_\d|PV\d_\d+|PS\d_\d+"
    r"|CROTA\d|CNAME\d|CRDER\d|CSYER\d|LONPOLE|LATPOLE|RADESYS|RADECSYS|EQUINOX|EPOCH|NAXIS\d?"
    r"|MJD-OBS|MJD-BEG|MJD-AVG|MJD-END|MJDREF[IF]?|DATE|DATE-OBS|DATE-BEG|DATE-AVG|DATE-END|DATEREF"
    r"|TIMESYS|TREFPOS|TREFDIR|PLEPHEM|TIMEUNIT|TIMEOFFS|TSTART|TSTOP|TELAPSE|XPOSURE"
    r"|OBSGEO-[XYZLBH]|RESTFRQ|RESTFREQ|RESTWAV|SPECSYS|SSYSOBS|SSYSSRC|VELOSYS|VELANGL|ZSOURCE"
    r"|(A|B|AP|BP)_(ORDER|DMAX|\d+_\d+))$"
)


@register_persistable("SkyWcs")
class SkyWcs:
    """A celestial world coordinate system: 0-based pixel ↔ (ra, dec).

    Parameters
    ----------
    wcs : `astropy.wcs.WCS`
        A two-axis celestial WCS (longitude first). It is copied, so later changes to the
        argument do not affect this object.

    Raises
    ------
    ValueError
        If ``wcs`` is not a two-axis celestial WCS.

    Notes
    -----
    Build one with `from_fits_header`, `from_tan` or from an astropy `WCS`; write it with
    `to_fits_header` (for the image header of a FITS file) or `to_dict` (persistence). Objects
    are immutable; `shifted_pixel_origin` returns a new one.
    """

    def __init__(self, wcs: WCS) -> None:
        if not isinstance(wcs, WCS):
            raise TypeError(f"SkyWcs needs an astropy.wcs.WCS, got {type(wcs).__qualname__}")
        if not wcs.has_celestial or wcs.naxis != 2 or wcs.wcs.lng != 0 or wcs.wcs.lat != 1:
            raise ValueError(
                f"SkyWcs needs a two-axis celestial WCS with longitude first, got naxis={wcs.naxis} "
                f"CTYPE={list(wcs.wcs.ctype)}; pass wcs.celestial (or reorder the axes) instead"
            )
        self._setup(wcs.deepcopy())

    @classmethod
    def _adopt(cls, wcs: WCS) -> SkyWcs:
        """Wrap a WCS this module has just built (no defensive copy)."""
        obj = cls.__new__(cls)
        obj._setup(wcs)
        return obj

    def _setup(self, wcs: WCS) -> None:
        self._wcs = wcs
        self._wcs.wcs.set()
        self._header_text: str | None = None
        self._fast = _TanSip.from_wcs(self._wcs)
        if self._fast is not None and not self._fast_path_agrees():
            self._fast = None

    def _fast_path_agrees(self) -> bool:
        """Check the direct formulas against astropy on a grid around the reference pixel."""
        assert self._fast is not None
        cx, cy = self._fast.crpix0
        span = 1000.0
        shape = self._wcs.pixel_shape
        if shape is not None and all(n > 0 for n in shape):
            span = float(max(shape))
        offsets = np.linspace(-span, span, 5)
        gx, gy = np.meshgrid(cx + offsets, cy + offsets)
        gx, gy = gx.ravel(), gy.ravel()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ra_a, dec_a = self._wcs.all_pix2world(gx, gy, 0)
        ra_f, dec_f = self._fast.pixel_to_sky(gx, gy)
        ok = np.isfinite(ra_a) & np.isfinite(dec_a)
        if not ok.any():
            return False
        d_ra = (ra_f[ok] - ra_a[ok] + 180.0) % 360.0 - 180.0
        d_ra *= np.cos(np.radians(dec_a[ok]))
        err = np.hypot(d_ra, dec_f[ok] - dec_a[ok])
        return bool(np.all(err < _FAST_TOLERANCE_DEG))

    # -- construction ----------------------------------------------------------------------------
    @classmethod
    def from_fits_header(cls, header: fits.Header) -> SkyWcs:
        """Read the celestial WCS of a FITS header (TAN, TAN-SIP, TPV, … anything astropy reads).

        Raises
        ------
        ValueError
            If the header has no valid celestial WCS; the message names the problem.
        """
        if not isinstance(header, fits.Header):
            raise TypeError(f"from_fits_header needs an astropy.io.fits.Header, got {type(header)!r}")
        return cls._from_parsed_header(header, lambda key: header.get(key))

    @classmethod
    def from_header_text(cls, text: str) -> SkyWcs:
        """Read the celestial WCS of a FITS header given as its raw text (80-character cards).

        Faster than `from_fits_header` when a reader already holds the header bytes: wcslib
        parses the text directly, without building and verifying an astropy ``Header``.

        Raises
        ------
        ValueError
            If the header has no valid celestial WCS; the message names the problem.
        """
        if not isinstance(text, str):
            raise TypeError(f"from_header_text needs the header as str, got {type(text)!r}")
        # astropy verifies every card of the header it is given, twice; hand it only the cards
        # of the primary WCS (no alternate-WCS or unrelated keywords).
        cards = [text[i : i + 80] for i in range(0, len(text) - 79, 80)]
        cards = [c for c in cards if _WCS_KEYWORD.match(c[:8].rstrip())]
        fast = _tan_sip_from_cards(cards)
        if fast is not None:
            return cls._adopt(fast)
        text = "".join(cards)

        def lookup(key: str) -> str | None:
            for start in range(0, len(text) - 79, 80):
                if text[start : start + 8].rstrip() == key:
                    return text[start + 10 : start + 80].split("/")[0].strip().strip("'").strip()
            return None

        return cls._from_parsed_header(text, lookup)

    @classmethod
    def _from_parsed_header(cls, header: fits.Header | str, lookup: Any) -> SkyWcs:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(header, relax=True)
        except Exception as err:  # astropy raises many types for malformed WCS keywords
            raise ValueError(f"FITS header has an invalid WCS: {type(err).__name__}: {err}") from err
        if not wcs.has_celestial:
            ctypes = [lookup(f"CTYPE{i}") for i in (1, 2)]
            raise ValueError(
                f"FITS header has no celestial WCS (CTYPE1/CTYPE2 = {ctypes}); "
                "a sky WCS needs RA/DEC (or GLON/GLAT …) CTYPE keywords"
            )
        if wcs.naxis != 2:
            wcs = wcs.celestial
        return cls._adopt(wcs)

    @classmethod
    def from_tan(cls, crval: SpherePoint, crpix: Point2D, cd_matrix: npt.ArrayLike) -> SkyWcs:
        """A TAN (gnomonic) WCS.

        Parameters
        ----------
        crval : `SpherePoint`
            Sky position of the reference pixel (the tangent point).
        crpix : `Point2D`
            Reference pixel in 0-based pixel coordinates (FITS ``CRPIX`` minus 1).
        cd_matrix : array_like
            2×2 CD matrix in degrees per pixel (see `make_cd_matrix`).
        """
        cd = np.asarray(cd_matrix, dtype=float)
        if cd.shape != (2, 2) or not np.isfinite(cd).all() or np.linalg.det(cd) == 0.0:
            raise ValueError(f"from_tan: cd_matrix must be a finite, invertible 2x2 matrix, got {cd!r}")
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.cunit = ["deg", "deg"]
        wcs.wcs.crval = [crval.ra.degrees, crval.dec.degrees]
        wcs.wcs.crpix = [float(crpix[0]) + 1.0, float(crpix[1]) + 1.0]
        wcs.wcs.cd = cd
        wcs.wcs.radesys = "ICRS"
        return cls(wcs)

    # -- accessors -------------------------------------------------------------------------------
    @property
    def astropy_wcs(self) -> WCS:
        """The underlying astropy WCS (shared: copy it before modifying)."""
        return self._wcs

    @property
    def pixel_origin(self) -> Point2D:
        """The reference pixel (FITS ``CRPIX`` − 1) in 0-based coordinates."""
        crpix = self._wcs.wcs.crpix
        return Point2D(float(crpix[0]) - 1.0, float(crpix[1]) - 1.0)

    @property
    def sky_origin(self) -> SpherePoint:
        """The sky position of the reference pixel (``CRVAL``)."""
        crval = self._wcs.wcs.crval
        return SpherePoint.from_degrees(float(crval[0]), float(crval[1]))

    @property
    def has_fast_path(self) -> bool:
        """Whether pixel ↔ sky uses the direct TAN/TAN-SIP formulas (else astropy)."""
        return self._fast is not None

    # -- transforms ------------------------------------------------------------------------------
    def pixel_to_sky(self, x: npt.ArrayLike, y: npt.ArrayLike) -> tuple[Any, Any]:
        """Sky positions of 0-based pixel positions.

        Parameters
        ----------
        x, y : array_like or `float`
            Pixel coordinates (broadcast together).

        Returns
        -------
        ra, dec : `numpy.ndarray` or `float`
            Degrees; RA in ``[0, 360)``. Floats for scalar input. NaN where the pixel has no
            sky position.
        """
        xa, ya = np.broadcast_arrays(_as_array(x), _as_array(y))
        scalar = xa.ndim == 0
        if scalar:
            xa, ya = xa.reshape(1), ya.reshape(1)
        if self._fast is not None:
            ra, dec = self._fast.pixel_to_sky(xa, ya)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ra, dec = self._wcs.all_pix2world(xa, ya, 0)
            ra = np.mod(ra, 360.0)
        return _maybe_scalar(ra, scalar), _maybe_scalar(dec, scalar)

    def sky_to_pixel(self, ra: npt.ArrayLike, dec: npt.ArrayLike) -> tuple[Any, Any]:
        """0-based pixel positions of sky positions.

        Parameters
        ----------
        ra, dec : array_like or `float`
            Degrees (broadcast together).

        Returns
        -------
        x, y : `numpy.ndarray` or `float`
            Pixel coordinates; floats for scalar input. NaN for positions that cannot be
            mapped (for TAN, more than 90° from the tangent point; for SIP, where the inverse
            distortion does not converge).
        """
        ra_a, dec_a = np.broadcast_arrays(_as_array(ra), _as_array(dec))
        scalar = ra_a.ndim == 0
        if scalar:
            ra_a, dec_a = ra_a.reshape(1), dec_a.reshape(1)
        if self._fast is not None:
            x, y = self._fast.sky_to_pixel(ra_a, dec_a)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                x, y = self._wcs.all_world2pix(ra_a, dec_a, 0, tolerance=1e-10, maxiter=50, quiet=True)
        return _maybe_scalar(x, scalar), _maybe_scalar(y, scalar)

    def pixel_to_sky_point(self, x: float, y: float) -> SpherePoint:
        """The sky position of one pixel position as a `SpherePoint`.

        Raises
        ------
        ValueError
            If the pixel has no sky position.
        """
        ra, dec = self.pixel_to_sky(float(x), float(y))
        if not (math.isfinite(ra) and math.isfinite(dec)):
            raise ValueError(f"SkyWcs: pixel ({x}, {y}) has no sky position")
        return SpherePoint.from_degrees(ra, dec)

    def sky_point_to_pixel(self, point: SpherePoint) -> Point2D:
        """The pixel position of a `SpherePoint` (components NaN if it cannot be mapped)."""
        x, y = self.sky_to_pixel(point.ra.degrees, point.dec.degrees)
        return Point2D(x, y)

    # -- local properties ------------------------------------------------------------------------
    def local_affine(self, x: float, y: float) -> LocalAffine:
        """The linear approximation of pixel → sky at pixel ``(x, y)``.

        For TAN/TAN-SIP the Jacobian is analytic; otherwise it is a central difference with a
        step of 0.01 pixel.

        Raises
        ------
        ValueError
            If the pixel has no sky position.
        """
        x, y = float(x), float(y)
        sky = self.pixel_to_sky_point(x, y)
        if self._fast is not None:
            matrix = self._analytic_jacobian(x, y, sky)
        else:
            h = 0.01
            ra, dec = self.pixel_to_sky(np.array([x + h, x - h, x, x]), np.array([y, y, y + h, y - h]))
            d_ra_x = ((ra[0] - ra[1] + 180.0) % 360.0 - 180.0) / (2 * h)
            d_ra_y = ((ra[2] - ra[3] + 180.0) % 360.0 - 180.0) / (2 * h)
            matrix = np.array([[d_ra_x, d_ra_y], [(dec[0] - dec[1]) / (2 * h), (dec[2] - dec[3]) / (2 * h)]])
        offset = np.array([sky.ra.degrees, sky.dec.degrees]) - matrix @ np.array([x, y])
        return LocalAffine(matrix=matrix, offset=offset, pixel=Point2D(x, y), sky=sky)

    def _analytic_jacobian(self, x: float, y: float, sky: SpherePoint) -> np.ndarray:
        fast = self._fast
        assert fast is not None
        u = np.array([x - fast.crpix0[0]])
        v = np.array([y - fast.crpix0[1]])
        j_sip = np.eye(2)
        for row, poly in enumerate((fast.sip_a, fast.sip_b)):
            if poly is not None:
                up, vp = _Poly2.powers(u, poly.order), _Poly2.powers(v, poly.order)
                j_sip[row, 0] += float(poly.du(up, vp, u)[0])
                j_sip[row, 1] += float(poly.dv(up, vp, v)[0])
        uu, vv = fast._distort(u, v)
        xi = float(fast.cd[0, 0] * uu[0] + fast.cd[0, 1] * vv[0])
        eta = float(fast.cd[1, 0] * uu[0] + fast.cd[1, 1] * vv[0])
        # Sky vector (frame rotated by alpha_p about z) w = c + A n + B m, s = w/|w|.
        sdp, cdp, sph, cph = fast.sin_dp, fast.cos_dp, fast.sin_phip, fast.cos_phip
        a = xi * sph - eta * cph
        b = xi * cph + eta * sph
        c = np.array([cdp, 0.0, sdp])
        n = np.array([-sdp, 0.0, cdp])
        m = np.array([0.0, -1.0, 0.0])
        w = c + a * n + b * m
        norm = float(np.linalg.norm(w))
        dw_dxi = n * sph + m * cph
        dw_deta = -n * cph + m * sph
        alpha = sky.ra.radians - fast.alpha_p
        dec = sky.dec.radians
        e_ra = np.array([-math.sin(alpha), math.cos(alpha), 0.0])
        e_dec = np.array([-math.sin(dec) * math.cos(alpha), -math.sin(dec) * math.sin(alpha), math.cos(dec)])
        j_tan = np.array([[e_ra @ dw_dxi, e_ra @ dw_deta], [e_dec @ dw_dxi, e_dec @ dw_deta]]) / norm
        j = j_tan @ fast.cd @ j_sip  # on-sky radians per pixel
        j[0] /= math.cos(dec)
        return np.degrees(j)

    def pixel_scale(self, x: float | None = None, y: float | None = None) -> Angle:
        """Pixel scale at a pixel position: square root of the area of the pixel on the sky.

        Parameters
        ----------
        x, y : `float`, optional
            Where to evaluate; both default to the reference pixel (`pixel_origin`). Give both
            or neither.
        """
        if (x is None) != (y is None):
            raise ValueError("SkyWcs.pixel_scale: give both x and y, or neither (the reference pixel)")
        if x is None or y is None:
            x, y = self.pixel_origin
        affine = self.local_affine(x, y)
        return Angle.from_degrees(math.sqrt(abs(float(np.linalg.det(affine.tangent_matrix)))))

    def pixel_region(self, box: Box2D, points_per_side: int = 1) -> sphgeom.ConvexPolygon:
        """The sky polygon of a pixel box.

        Parameters
        ----------
        box : `Box2D`
            The pixel region (e.g. ``bbox.to_box2d()`` for the pixel edges of an image).
        points_per_side : `int`, optional
            Points sampled per side (1: the four corners only). The polygon is the convex hull
            of the sampled positions; for a TAN WCS the corners are exact (straight pixel lines
            are great circles), with distortion sample more points.

        Raises
        ------
        ValueError
            If the box is empty or a sampled pixel has no sky position.
        """
        if box.is_empty:
            raise ValueError("SkyWcs.pixel_region: the box is empty")
        if points_per_side < 1:
            raise ValueError(f"SkyWcs.pixel_region: points_per_side must be >= 1, got {points_per_side}")
        t = np.arange(points_per_side) / points_per_side
        x0, x1, y0, y1 = box.min_x, box.max_x, box.min_y, box.max_y
        xs = np.concatenate(
            [x0 + (x1 - x0) * t, np.full_like(t, x1), x1 - (x1 - x0) * t, np.full_like(t, x0)]
        )
        ys = np.concatenate(
            [np.full_like(t, y0), y0 + (y1 - y0) * t, np.full_like(t, y1), y1 - (y1 - y0) * t]
        )
        ra, dec = self.pixel_to_sky(xs, ys)
        if not (np.isfinite(ra).all() and np.isfinite(dec).all()):
            raise ValueError(f"SkyWcs.pixel_region: part of {box} has no sky position")
        vectors = radec_to_unit_vectors(ra, dec)
        return sphgeom.ConvexPolygon.convexHull([sphgeom.UnitVector3d(*row) for row in vectors])

    # -- derived WCSs ----------------------------------------------------------------------------
    def shifted_pixel_origin(self, dx: float, dy: float) -> SkyWcs:
        """A WCS whose pixel ``(x, y)`` is this WCS's pixel ``(x + dx, y + dy)``.

        Used to write an image whose first pixel is at ``xy0`` into a file whose grid starts
        at 0: ``wcs.shifted_pixel_origin(*xy0)``.
        """
        wcs = self._wcs.deepcopy()
        wcs.wcs.crpix = wcs.wcs.crpix - np.array([float(dx), float(dy)])
        sip = wcs.sip
        if sip is not None:  # SIP polynomials are in offsets from CRPIX: they move with it
            wcs.sip = Sip(sip.a, sip.b, sip.ap, sip.bp, wcs.wcs.crpix)
        return SkyWcs._adopt(wcs)

    # -- persistence -----------------------------------------------------------------------------
    def to_fits_header(self) -> fits.Header:
        """FITS header cards of this WCS, at full double precision.

        SIP WCSs get ``-SIP`` CTYPEs and ``A_``/``B_`` (and ``AP_``/``BP_``) keywords; TPV keeps
        its ``PVi_m`` keywords. Reading the cards back with `from_fits_header` (or astropy)
        gives a bit-identical WCS.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            header = self._wcs.to_header(relax=True)
        w = self._wcs.wcs
        exact: dict[str, float] = {}
        pc, cdelt = w.get_pc(), w.get_cdelt()
        for i in range(2):
            exact[f"CRPIX{i + 1}"] = w.crpix[i]
            exact[f"CRVAL{i + 1}"] = w.crval[i]
            exact[f"CDELT{i + 1}"] = cdelt[i]
            for j in range(2):
                exact[f"PC{i + 1}_{j + 1}"] = pc[i, j]
        exact["LONPOLE"] = w.lonpole
        exact["LATPOLE"] = w.latpole
        for i, m, value in w.get_pv():
            exact[f"PV{i}_{m}"] = value
        sip = self._wcs.sip
        if sip is not None:
            for name, coeffs in (("A", sip.a), ("B", sip.b), ("AP", sip.ap), ("BP", sip.bp)):
                if coeffs is None:
                    continue
                for p, q in zip(*np.nonzero(coeffs), strict=True):
                    exact[f"{name}_{p}_{q}"] = coeffs[p, q]
        for key, value in exact.items():
            if key in header:
                _replace_card(header, _exact_card(key, float(value), header.comments[key]))
            elif key.startswith(("A_", "B_", "AP_", "BP_", "PV")):
                header.append(_exact_card(key, float(value)))
        return header

    def _canonical_header(self) -> str:
        if self._header_text is None:
            self._header_text = self.to_fits_header().tostring()
        return self._header_text

    def to_dict(self) -> dict[str, Any]:
        """``{"header": [card images]}``: the cards of `to_fits_header` (lossless)."""
        text = self._canonical_header()
        return {"header": [text[i : i + 80].rstrip() for i in range(0, len(text), 80)]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SkyWcs:
        """Inverse of `to_dict`.

        Raises
        ------
        ValueError
            If the stored cards are missing or are not a valid celestial WCS.
        """
        cards = data.get("header")
        if not isinstance(cards, list) or not all(isinstance(c, str) for c in cards):
            raise ValueError("SkyWcs.from_dict: 'header' must be a list of FITS card strings")
        header = fits.Header.fromstring("".join(f"{c:<80s}" for c in cards))
        return cls.from_fits_header(header)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SkyWcs):
            return NotImplemented
        return self._canonical_header() == other._canonical_header()

    def __hash__(self) -> int:
        return hash(self._canonical_header())

    def __repr__(self) -> str:
        w = self._wcs.wcs
        return (
            f"SkyWcs(ctype={list(w.ctype)}, crval=({float(w.crval[0])!r}, {float(w.crval[1])!r}), "
            f"crpix0=({float(w.crpix[0]) - 1.0!r}, {float(w.crpix[1]) - 1.0!r}))"
        )
