# SPDX-License-Identifier: GPL-3.0-or-later
"""The simulated sky: stars, galaxies, variables, transients, lensed quasars and moving objects.

`make_sky` draws a `SkyCatalog` (a struct of arrays, one row per object) over a circular field;
`SkyCatalog.positions_at` and `SkyCatalog.flux_at` give each object's position and flux (nJy) at
any time, including proper motion, periodic variability, transient light curves, time-delayed
quasar variability and asteroid motion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any

import numpy as np

from .config import SkyConfig

__all__ = ["BANDS", "ObjectKind", "SkyCatalog", "ab_mag_to_njy", "make_sky", "njy_to_ab_mag"]

BANDS = ("u", "g", "r", "i", "z", "y")
_R = BANDS.index("r")
_JYEAR_MJD0 = 51544.5  # J2000.0 as MJD


def ab_mag_to_njy(mag: Any) -> Any:
    """AB magnitude → flux density in nJy (``31.4`` mag = 1 nJy)."""
    return 10.0 ** ((31.4 - np.asarray(mag, dtype=float)) / 2.5)


def njy_to_ab_mag(flux: Any) -> Any:
    """Flux density in nJy → AB magnitude."""
    return 31.4 - 2.5 * np.log10(np.asarray(flux, dtype=float))


class ObjectKind(IntEnum):
    """Type of a simulated object."""

    STAR = 0
    GALAXY = 1
    VARIABLE = 2
    TRANSIENT = 3
    LENSED_IMAGE = 4
    LENS_GALAXY = 5
    MOVING = 6

    @property
    def is_point(self) -> bool:
        """Whether the object is rendered as a point source."""
        return self not in (ObjectKind.GALAXY, ObjectKind.LENS_GALAXY)


@dataclass
class SkyCatalog:
    """Objects of the simulated sky as parallel arrays (one row per object).

    Positions ``ra, dec`` (degrees) are at Julian year `epoch` for stars and at ``ref_mjd`` for
    moving objects; ``mag`` holds the mean AB magnitude in `BANDS` order.
    """

    id: np.ndarray
    kind: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    pm_ra: np.ndarray  # mas/yr, includes cos(dec)
    pm_dec: np.ndarray
    mag: np.ndarray  # (n, 6)
    sersic_n: np.ndarray
    r_eff: np.ndarray  # arcsec, major axis
    axis_ratio: np.ndarray
    position_angle: np.ndarray  # degrees east of north
    period: np.ndarray  # days
    amplitude: np.ndarray  # mag
    phase: np.ndarray
    t_peak: np.ndarray  # MJD (transients)
    delay: np.ndarray  # days (lensed images)
    qso_amp: np.ndarray  # (n, 3) mag
    qso_period: np.ndarray  # (n, 3) days
    qso_phase: np.ndarray  # (n, 3)
    rate_ra: np.ndarray  # deg/day (moving; includes cos(dec))
    rate_dec: np.ndarray
    parent: np.ndarray  # id of the host galaxy / lens, -1 if none
    epoch: float
    ref_mjd: float

    def __len__(self) -> int:
        return int(self.id.size)

    def positions_at(self, mjd: float) -> tuple[np.ndarray, np.ndarray]:
        """Positions ``(ra, dec)`` in degrees at TAI MJD ``mjd`` (proper motion, asteroid motion)."""
        years = (mjd - _JYEAR_MJD0) / 365.25 + 2000.0 - self.epoch
        cosd = np.cos(np.radians(self.dec))
        ra = self.ra + self.pm_ra * years / 3.6e6 / cosd
        dec = self.dec + self.pm_dec * years / 3.6e6
        days = mjd - self.ref_mjd
        moving = self.kind == ObjectKind.MOVING
        ra = np.where(moving, self.ra + self.rate_ra * days / cosd, ra)
        dec = np.where(moving, self.dec + self.rate_dec * days, dec)
        return np.mod(ra, 360.0), dec

    def flux_at(self, band: str, mjd: float) -> np.ndarray:
        """Flux (nJy) of every object in ``band`` at TAI MJD ``mjd``."""
        mag = self.mag[:, BANDS.index(band)].copy()
        kind = self.kind
        var = kind == ObjectKind.VARIABLE
        cycle = np.mod((mjd - self.ref_mjd) / np.where(var, self.period, 1.0) + self.phase, 1.0)
        # RR Lyrae-like sawtooth: fast rise (first 15 % of the cycle), slow decline.
        shape = np.where(cycle < 0.15, cycle / 0.15, 1.0 - (cycle - 0.15) / 0.85)
        mag = np.where(var, mag + self.amplitude * (0.5 - shape), mag)
        qso = kind == ObjectKind.LENSED_IMAGE
        t = mjd - self.delay[:, None]
        wiggle = (self.qso_amp * np.sin(2 * np.pi * t / self.qso_period + self.qso_phase)).sum(axis=1)
        mag = np.where(qso, mag + wiggle, mag)
        flux = ab_mag_to_njy(mag)
        tr = kind == ObjectKind.TRANSIENT
        dt = mjd - self.t_peak
        rise, fall = 5.0, 25.0
        with np.errstate(over="ignore"):
            bazin = np.exp(-dt / fall) / (1.0 + np.exp(-dt / rise))
        peak_dt = rise * math.log(fall / rise - 1.0) if fall > 2 * rise else 0.0
        norm = math.exp(-peak_dt / fall) / (1.0 + math.exp(-peak_dt / rise))
        return np.where(tr, flux * np.nan_to_num(bazin / norm), flux)

    def to_columns(self) -> dict[str, np.ndarray]:
        """Columns for a truth table (per-band magnitudes split into ``mag_<band>``)."""
        out: dict[str, np.ndarray] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, np.ndarray):
                continue
            if f.name == "mag":
                for b, band in enumerate(BANDS):
                    out[f"mag_{band}"] = value[:, b]
            elif value.ndim == 2:
                for c in range(value.shape[1]):
                    out[f"{f.name}_{c}"] = value[:, c]
            else:
                out[f.name] = value
        return out


def _sample_lf(rng: np.random.Generator, n: int, m_min: float, m_max: float, slope: float) -> np.ndarray:
    """Magnitudes with ``log10 N(<m) = slope m + const`` between ``m_min`` and ``m_max``."""
    lo, hi = 10.0 ** (slope * m_min), 10.0 ** (slope * m_max)
    return np.log10(lo + rng.uniform(size=n) * (hi - lo)) / slope


def _disc(rng: np.random.Generator, n: int, ra0: float, dec0: float, radius: float) -> tuple[Any, Any]:
    r = radius * np.sqrt(rng.uniform(size=n))
    t = rng.uniform(0, 2 * np.pi, n)
    return ra0 + r * np.cos(t) / math.cos(math.radians(dec0)), dec0 + r * np.sin(t)


def make_sky(
    config: SkyConfig, ra: float, dec: float, radius: float, ref_mjd: float, seed: int
) -> SkyCatalog:
    """Draw the simulated sky in a disc of ``radius`` degrees about ``(ra, dec)``.

    Parameters
    ----------
    config : `SkyConfig`
        Densities, magnitude ranges and counts.
    ra, dec, radius : `float`
        Field centre and radius (degrees).
    ref_mjd : `float`
        Reference time (TAI MJD) for moving objects, variable phases and transient peaks.
    seed : `int`
        Random seed; the same seed gives the same catalogue.
    """
    rng = np.random.default_rng([seed, 7001])
    area = math.pi * radius**2
    rows: list[dict[str, Any]] = []

    def block(n: int, kind: ObjectKind, **cols: Any) -> None:
        rows.append({"n": n, "kind": np.full(n, int(kind), dtype=np.int8), **cols})

    # Stars: luminosity function, colours from g-r, proper motions; a fraction are variables.
    n_star = rng.poisson(config.star_density * area)
    sra, sdec = _disc(rng, n_star, ra, dec, radius)
    r_mag = _sample_lf(rng, n_star, config.star_mag_min, config.star_mag_max, config.star_lf_slope)
    gr = rng.uniform(0.2, 1.4, n_star)
    colors = np.stack([1.2 + 1.3 * gr, gr, np.zeros(n_star), -0.45 * gr, -0.65 * gr, -0.75 * gr], axis=1)
    var = rng.uniform(size=n_star) < config.variable_fraction
    block(
        n_star,
        ObjectKind.STAR,
        ra=sra,
        dec=sdec,
        pm_ra=rng.normal(0, config.proper_motion_sigma, n_star),
        pm_dec=rng.normal(0, config.proper_motion_sigma, n_star),
        mag=r_mag[:, None] + colors,
        period=np.where(var, rng.uniform(0.3, 20.0, n_star), 0.0),
        amplitude=np.where(var, rng.uniform(0.2, 0.8, n_star), 0.0),
        phase=rng.uniform(size=n_star),
    )
    rows[-1]["kind"][var] = int(ObjectKind.VARIABLE)

    # Galaxies: Sérsic (disc-like n~1 or bulge-like n~4), sizes shrinking with magnitude.
    n_gal = rng.poisson(config.galaxy_density * area)
    gra, gdec = _disc(rng, n_gal, ra, dec, radius)
    g_r = _sample_lf(rng, n_gal, config.galaxy_mag_min, config.galaxy_mag_max, 0.35)
    bulge = rng.uniform(size=n_gal) < 0.3
    ggr = np.where(bulge, rng.uniform(0.8, 1.2, n_gal), rng.uniform(0.3, 0.8, n_gal))
    gcol = np.stack([1.0 + 1.0 * ggr, ggr, np.zeros(n_gal), -0.4 * ggr, -0.6 * ggr, -0.7 * ggr], axis=1)
    block(
        n_gal,
        ObjectKind.GALAXY,
        ra=gra,
        dec=gdec,
        mag=g_r[:, None] + gcol,
        sersic_n=np.where(bulge, 4.0, rng.uniform(0.8, 1.5, n_gal)),
        r_eff=np.clip(rng.lognormal(np.log(1.5 * 10 ** (-0.15 * (g_r - 20))), 0.3), 0.2, 6.0),
        axis_ratio=rng.uniform(0.3, 1.0, n_gal),
        position_angle=rng.uniform(0, 180, n_gal),
    )

    # Transients on random host galaxies, offset within the host's half-light radius.
    n_tr = min(config.n_transients, n_gal)
    if n_tr:
        host = rng.choice(n_gal, n_tr, replace=False)
        off = rows[-1]["r_eff"][host] * np.sqrt(rng.uniform(size=n_tr)) / 3600.0
        ang = rng.uniform(0, 2 * np.pi, n_tr)
        peak = rng.uniform(19.0, 22.0, n_tr)
        block(
            n_tr,
            ObjectKind.TRANSIENT,
            ra=gra[host] + off * np.cos(ang) / math.cos(math.radians(dec)),
            dec=gdec[host] + off * np.sin(ang),
            mag=peak[:, None] + np.array([0.6, 0.1, 0.0, 0.1, 0.3, 0.4]),
            t_peak=ref_mjd + rng.uniform(-10.0, 50.0, n_tr),
            parent_local=host,
        )

    # Lensed quasars: a lens galaxy with 2 or 4 images within 0.5–1 arcsec, time-delayed variability.
    for _ in range(config.n_lensed_quasars):
        lra, ldec = _disc(rng, 1, ra, dec, radius * 0.5)
        n_img = int(rng.choice([2, 4]))
        rad = rng.uniform(0.5, 1.0) / 3600.0
        ang = rng.uniform(0, 2 * np.pi) + np.arange(n_img) * 2 * np.pi / n_img + rng.normal(0, 0.2, n_img)
        rads = rad * rng.uniform(0.8, 1.2, n_img)
        base = rng.uniform(19.5, 21.0) + rng.uniform(0.0, 1.0, n_img)
        amp = np.broadcast_to(rng.uniform(0.05, 0.25, 3), (n_img, 3))
        block(
            1,
            ObjectKind.LENS_GALAXY,
            ra=lra,
            dec=ldec,
            mag=np.array([[23.0, 21.6, 20.8, 20.4, 20.1, 19.9]]),
            sersic_n=np.array([4.0]),
            r_eff=np.array([0.6]),
            axis_ratio=np.array([0.8]),
            position_angle=rng.uniform(0, 180, 1),
        )
        block(
            n_img,
            ObjectKind.LENSED_IMAGE,
            ra=lra + rads * np.cos(ang) / math.cos(math.radians(dec)),
            dec=ldec + rads * np.sin(ang),
            mag=base[:, None] + np.array([0.2, 0.1, 0.0, 0.0, 0.05, 0.1]),
            delay=np.concatenate([[0.0], rng.uniform(5.0, 30.0, n_img - 1)]),
            qso_amp=np.array(amp),
            qso_period=np.broadcast_to(rng.uniform(20.0, 200.0, 3), (n_img, 3)).copy(),
            qso_phase=np.broadcast_to(rng.uniform(0, 2 * np.pi, 3), (n_img, 3)).copy(),
            parent_rel=np.full(n_img, -1),
        )

    # Moving objects: asteroid-like, 0.1–0.5 deg/day.
    n_mov = config.n_moving
    if n_mov:
        mra, mdec = _disc(rng, n_mov, ra, dec, radius * 0.7)
        speed = rng.uniform(0.1, 0.5, n_mov)
        direction = rng.uniform(0, 2 * np.pi, n_mov)
        block(
            n_mov,
            ObjectKind.MOVING,
            ra=mra,
            dec=mdec,
            mag=rng.uniform(19.0, 21.0, n_mov)[:, None] + np.array([1.5, 0.5, 0.0, -0.1, -0.15, -0.2]),
            rate_ra=speed * np.cos(direction),
            rate_dec=speed * np.sin(direction),
        )
    return _assemble(rows, config.epoch, ref_mjd, n_star)


def _assemble(rows: list[dict[str, Any]], epoch: float, ref_mjd: float, n_star: int) -> SkyCatalog:
    total = sum(r["n"] for r in rows)
    defaults: dict[str, tuple[float, int]] = {
        "pm_ra": (0.0, 0),
        "pm_dec": (0.0, 0),
        "sersic_n": (0.0, 0),
        "r_eff": (0.0, 0),
        "axis_ratio": (1.0, 0),
        "position_angle": (0.0, 0),
        "period": (0.0, 0),
        "amplitude": (0.0, 0),
        "phase": (0.0, 0),
        "t_peak": (0.0, 0),
        "delay": (0.0, 0),
        "rate_ra": (0.0, 0),
        "rate_dec": (0.0, 0),
        "qso_amp": (0.0, 3),
        "qso_period": (1.0, 3),
        "qso_phase": (0.0, 3),
    }
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("kind", "ra", "dec", "mag", "parent", *defaults)}
    start = 0
    n_gal_start = n_star
    last_lens = -1
    for r in rows:
        n = r["n"]
        for key, (fill, width) in defaults.items():
            shape = (n, width) if width else (n,)
            cols[key].append(np.broadcast_to(np.asarray(r.get(key, fill), dtype=float), shape))
        for key in ("kind", "ra", "dec", "mag"):
            cols[key].append(np.asarray(r[key]))
        if "parent_local" in r:
            cols["parent"].append(n_gal_start + 1 + np.asarray(r["parent_local"], dtype=np.int64))
        elif "parent_rel" in r:
            cols["parent"].append(np.full(n, last_lens, dtype=np.int64))
        else:
            cols["parent"].append(np.full(n, -1, dtype=np.int64))
        if n and int(r["kind"][0]) == ObjectKind.LENS_GALAXY:
            last_lens = start + 1  # ids are row + 1
        start += n
    arrays = {k: np.concatenate(v) if v else np.zeros(0) for k, v in cols.items()}
    arrays["ra"] = np.mod(arrays["ra"], 360.0)
    return SkyCatalog(id=np.arange(1, total + 1, dtype=np.int64), epoch=epoch, ref_mjd=ref_mjd, **arrays)
