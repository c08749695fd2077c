# SPDX-License-Identifier: GPL-3.0-or-later
"""Exposure FITS I/O against plain astropy.io.fits on the same arrays.

Measured, side by side in one run, on a 4k×4k float32 Exposure (image float32, mask int32,
variance float32, a WCS and a VisitInfo):

* full write to a new file (how the Butler writes): `write_exposure` vs
  ``HDUList([...]).writeto`` of the same three arrays (target: within 1.2× of astropy);
* replacing an existing file, for information: our atomic write renames a temporary file over
  the target, and ext4 (``auto_da_alloc``) then forces the new data to disk before the rename —
  the price of never leaving a truncated file at the target after a crash, which astropy's
  in-place truncate-and-rewrite can;
* full read: `read_exposure` vs ``fits.open(memmap=False)`` and loading the three arrays
  (target: within 1.2× of astropy);
* sub-box read of 1 % of the pixels vs our full read (target: ≥ 20× faster);
* the same with ``compression="lossless"`` (for information, no target).

Files go to a temporary folder on local disk (``$TMPDIR``); figures are medians of several runs.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.io import fits

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Row, median_time, print_rows
from skystack.geom import Box2I
from skystack.geom.wcs import SkyWcs
from skystack.image import Exposure, VisitInfo, read_exposure, write_exposure

SIZE = 4096


def _make_exposure() -> Exposure:
    rng = np.random.default_rng(42)
    image = rng.normal(1000.0, 30.0, size=(SIZE, SIZE)).astype(np.float32)
    mask = (rng.random((SIZE, SIZE)) < 0.01).astype(np.int32) * 5
    variance = np.full((SIZE, SIZE), 900.0, dtype=np.float32)
    header = fits.Header(
        {
            "CTYPE1": "RA---TAN",
            "CTYPE2": "DEC--TAN",
            "CRPIX1": 2048.5,
            "CRPIX2": 2048.5,
            "CRVAL1": 150.0,
            "CRVAL2": 2.0,
            "CD1_1": -5.5e-5,
            "CD1_2": 0.0,
            "CD2_1": 0.0,
            "CD2_2": 5.5e-5,
        }
    )
    return Exposure.from_arrays(
        image,
        mask,
        variance,
        wcs=SkyWcs.from_fits_header(header),
        visit_info=VisitInfo(exposure_id=1, exposure_time=30.0, band="r", mjd_tai=60000.5),
    )


def _time_fresh(write: Callable[[str], object], folder: str, repeat: int) -> float:
    """Median time of ``write(path)`` to a new file; each file is deleted after its timing."""
    times = []
    for i in range(repeat + 1):
        path = os.path.join(folder, f"fresh_{i}.fits")
        t0 = time.perf_counter()
        write(path)
        elapsed = time.perf_counter() - t0
        os.remove(path)
        if i:  # the first run is a warm-up
            times.append(elapsed)
    return statistics.median(times)


def main() -> None:
    exposure = _make_exposure()
    arrays = (exposure.image.array, exposure.mask.array, exposure.variance.array)
    side = round(SIZE * 0.1)  # 10 % of each side = 1 % of the pixels
    sub_bbox = Box2I(1500, 2200, side, side)
    repeat = 5
    with tempfile.TemporaryDirectory(prefix="skystack_bench_fits_") as folder:
        ours_path = os.path.join(folder, "exposure.fits")
        peer_path = os.path.join(folder, "astropy.fits")
        comp_path = os.path.join(folder, "exposure_rice_gzip.fits")

        def peer_write(path: str = peer_path) -> None:
            hdus = [fits.PrimaryHDU()] + [
                fits.ImageHDU(a, name=n) for a, n in zip(arrays, ("IMAGE", "MASK", "VARIANCE"), strict=True)
            ]
            fits.HDUList(hdus).writeto(path, overwrite=True)

        def peer_read() -> None:
            with fits.open(peer_path, memmap=False) as hdul:
                for name in ("IMAGE", "MASK", "VARIANCE"):
                    _ = hdul[name].data

        t_write = _time_fresh(lambda p: write_exposure(p, exposure), folder, repeat)
        t_peer_write = _time_fresh(peer_write, folder, repeat)
        t_owrite = median_time(lambda: write_exposure(ours_path, exposure), repeat=repeat)
        t_peer_owrite = median_time(peer_write, repeat=repeat)
        t_read = median_time(lambda: read_exposure(ours_path), repeat=repeat)
        t_peer_read = median_time(peer_read, repeat=repeat)

        def peer_read_native() -> None:
            # The same, but with the pixels in native byte order, as skystack returns them
            # (astropy hands back FITS's big-endian arrays as they are on disk).
            with fits.open(peer_path, memmap=False) as hdul:
                for name in ("IMAGE", "MASK", "VARIANCE"):
                    data = hdul[name].data
                    _ = data.byteswap().view(data.dtype.newbyteorder("="))

        t_peer_read_native = median_time(peer_read_native, repeat=repeat)
        t_sub = median_time(lambda: read_exposure(ours_path, bbox=sub_bbox), repeat=repeat * 4)

        back = read_exposure(ours_path)
        exact = all(
            np.array_equal(a, b.array)
            for a, b in zip(arrays, (back.image, back.mask, back.variance), strict=True)
        )

        t_cwrite = median_time(lambda: write_exposure(comp_path, exposure, compression="lossless"), repeat=3)
        t_cread = median_time(lambda: read_exposure(comp_path), repeat=3)
        t_csub = median_time(lambda: read_exposure(comp_path, bbox=sub_bbox), repeat=repeat * 2)
        ratio_size = os.path.getsize(comp_path) / os.path.getsize(ours_path)

    rows = [
        Row(
            "4k×4k Exposure write (new file)",
            t_write,
            peer=t_peer_write,
            peer_name="astropy",
            target="≤ 1.2× astropy",
            passed=t_write <= 1.2 * t_peer_write,
        ),
        Row(
            "4k×4k Exposure write (replacing a file)",
            t_owrite,
            peer=t_peer_owrite,
            peer_name="astropy",
            target="(information: our atomic replace vs astropy's in-place overwrite)",
        ),
        Row(
            "4k×4k Exposure read (full)",
            t_read,
            peer=t_peer_read,
            peer_name="astropy",
            target="≤ 1.2× astropy",
            passed=t_read <= 1.2 * t_peer_read,
        ),
        Row(
            "  same, peer converted to native byte order",
            t_read,
            peer=t_peer_read_native,
            peer_name="astropy+swap",
            target="(information: equal work)",
        ),
        Row(
            f"sub-box read {side}×{side} (1 % of pixels)",
            t_sub,
            peer=t_read,
            peer_name="full read",
            target="≥ 20× faster than full read",
            passed=t_read / t_sub >= 20.0,
        ),
        Row("lossless compressed write", t_cwrite, peer=t_write, peer_name="uncompressed"),
        Row("lossless compressed read (full)", t_cread, peer=t_read, peer_name="uncompressed"),
        Row(f"lossless compressed sub-box read {side}×{side}", t_csub, peer=t_cread, peer_name="full"),
        Row("compressed / uncompressed file size", ratio_size, unit="", target="information"),
    ]
    print_rows("Exposure FITS I/O (4096×4096 float32 image + int32 mask + float32 variance)", rows)
    print(f"round trip bit-exact: {exact}")


if __name__ == "__main__":
    main()
