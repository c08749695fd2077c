# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: SkyWcs pixel → sky and sky → pixel of 10⁶ points against astropy, same run.

Two WCSs: a pure TAN (a 0.2″ 4k×4k detector) and a TAN-SIP one (astropy's PTF test header
``siponly.hdr``, 2048×4096). The peer is astropy's ``all_pix2world`` / ``all_world2pix``
(origin 0) on the same arrays; the target is ours ≤ 1.2 × astropy.
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path

import astropy.wcs
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Row, median_time, print_rows
from skystack.geom import Angle, Point2D, SkyWcs, SpherePoint, make_cd_matrix

N_POINTS = 1_000_000
TARGET = 1.2


def _wcs_cases() -> list[tuple[str, SkyWcs, tuple[int, int]]]:
    tan = SkyWcs.from_tan(
        SpherePoint.from_degrees(150.1, 2.2),
        Point2D(2047.5, 2047.5),
        make_cd_matrix(Angle.from_arcseconds(0.2), Angle.from_degrees(12.0)),
    )
    path = Path(astropy.wcs.__file__).parent / "tests" / "data" / "siponly.hdr"
    sip = SkyWcs.from_fits_header(fits.Header.fromstring(path.read_bytes()))
    return [("TAN", tan, (4096, 4096)), ("TAN-SIP", sip, (2048, 4096))]


def main() -> None:
    rng = np.random.default_rng(12345)
    rows: list[Row] = []
    for name, wcs, (nx, ny) in _wcs_cases():
        x = rng.uniform(-0.5, nx - 0.5, N_POINTS)
        y = rng.uniform(-0.5, ny - 0.5, N_POINTS)
        peer: WCS = wcs.astropy_wcs.deepcopy()
        ra, dec = wcs.pixel_to_sky(x, y)

        ours = median_time(functools.partial(wcs.pixel_to_sky, x, y), repeat=7)
        theirs = median_time(functools.partial(peer.all_pix2world, x, y, 0), repeat=7)
        ratio = ours / theirs
        rows.append(
            Row(
                f"pixel->sky 1e6 points, {name}",
                ours,
                peer=theirs,
                peer_name="astropy",
                target=f"<= {TARGET}x astropy all_pix2world",
                passed=ratio <= TARGET,
            )
        )

        def astropy_inverse(peer: WCS = peer, ra: np.ndarray = ra, dec: np.ndarray = dec) -> object:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return peer.all_world2pix(ra, dec, 0)

        ours_inv = median_time(functools.partial(wcs.sky_to_pixel, ra, dec), repeat=5)
        theirs_inv = median_time(astropy_inverse, repeat=5)
        rows.append(
            Row(
                f"sky->pixel 1e6 points, {name}",
                ours_inv,
                peer=theirs_inv,
                peer_name="astropy",
                target=f"<= {TARGET}x astropy all_world2pix",
                passed=ours_inv / theirs_inv <= TARGET,
            )
        )
        # accuracy beside speed: agreement with astropy and round trip
        ra_a, dec_a = peer.all_pix2world(x[:100_000], y[:100_000], 0)
        d_ra = ((ra[:100_000] - ra_a + 180.0) % 360.0 - 180.0) * np.cos(np.radians(dec_a))
        err_mas = float(np.max(np.hypot(d_ra, dec[:100_000] - dec_a)) * 3.6e6)
        xb, yb = wcs.sky_to_pixel(ra[:100_000], dec[:100_000])
        rt_px = float(np.max(np.hypot(xb - x[:100_000], yb - y[:100_000])))
        rows.append(
            Row(
                f"  max |ours - astropy| sky, {name}",
                err_mas,
                unit="mas",
                target="< 0.1 mas",
                passed=err_mas < 0.1,
            )
        )
        rows.append(
            Row(
                f"  max pixel round-trip error, {name}",
                rt_px,
                unit="px",
                target="< 1e-6 px",
                passed=rt_px < 1e-6,
            )
        )
    print_rows("SkyWcs vs astropy.wcs (10^6 points, one core)", rows)


if __name__ == "__main__":
    main()
