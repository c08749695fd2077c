# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of the calibration models: backgrounds, bounded fields and PSF images.

Peers, measured in the same run: a background made with astropy ``sigma_clipped_stats`` on the
same bins plus a scipy bicubic ``RectBivariateSpline`` to full resolution; numpy ``chebval2d`` on a
full pixel grid; ``scipy.ndimage.shift`` (cubic spline) of a PSF stamp.
"""

from __future__ import annotations

import numpy as np
from astropy.stats import sigma_clipped_stats
from numpy.polynomial import chebyshev
from scipy.interpolate import RectBivariateSpline
from scipy.ndimage import shift

from _util import Row, median_time, print_rows
from skystack.geom.box import Box2I
from skystack.image.background import BackgroundModel
from skystack.image.bounded_field import ChebyshevBoundedField
from skystack.image.psf import GaussianPsf, PixelPsf


def _peer_background(image: np.ndarray, bin_size: int) -> np.ndarray:
    ny, nx = image.shape[0] // bin_size, image.shape[1] // bin_size
    bins = image.reshape(ny, bin_size, nx, bin_size).transpose(0, 2, 1, 3).reshape(ny, nx, -1)
    _, median, _ = sigma_clipped_stats(bins, axis=-1, sigma=3.0, maxiters=3)
    centers_y = (np.arange(ny) + 0.5) * bin_size - 0.5
    centers_x = (np.arange(nx) + 0.5) * bin_size - 0.5
    spline = RectBivariateSpline(centers_y, centers_x, median, kx=3, ky=3)
    return spline(np.arange(image.shape[0]), np.arange(image.shape[1]))


def main() -> None:
    rng = np.random.default_rng(0)
    size = 4096
    image = (1000.0 + rng.normal(0, 10, (size, size))).astype(np.float32)
    rows = []

    ours = median_time(lambda: BackgroundModel.from_image(image, bin_size=128).get_image(), repeat=3)
    peer = median_time(lambda: _peer_background(image, 128), repeat=3)
    rows.append(
        Row(
            "background 4k x 4k (clipped stats + interp)",
            ours,
            peer=peer,
            peer_name="astropy+scipy",
            target="<= 1.0x peer",
            passed=ours <= peer,
        )
    )
    model = BackgroundModel.from_image(image, bin_size=128)
    ours = median_time(lambda: model.get_image(), repeat=5)
    rows.append(Row("background get_image 4k x 4k", ours, target="<= 0.2 s", passed=ours <= 0.2))

    bbox = Box2I(0, 0, size, size)
    field = ChebyshevBoundedField(rng.normal(size=(4, 4)), bbox)
    yy, xx = np.mgrid[0:size, 0:size].astype(float) * (2.0 / size) - 1.0 + 1.0 / size

    ours = median_time(lambda: field.make_image(), repeat=5)
    peer = median_time(lambda: chebyshev.chebval2d(xx, yy, field.coefficients.T), repeat=3)
    rows.append(
        Row(
            "Chebyshev field make_image 4k x 4k (order 3)",
            ours,
            peer=peer,
            peer_name="chebval2d",
            target="<= 0.5x peer",
            passed=ours <= 0.5 * peer,
        )
    )

    kernel = GaussianPsf(2.0, 63).compute_kernel_image()
    stamps = kernel[None] + rng.normal(0, 1e-4, (6, 63, 63))
    psf = PixelPsf(stamps, degree=2, bbox=Box2I(0, 0, 2048, 4096))
    ours = median_time(lambda: psf.compute_image(1000.3, 2000.7), repeat=200)
    peer = median_time(lambda: shift(kernel, (0.7, 0.3), order=3), repeat=200)
    rows.append(
        Row(
            "PixelPsf compute_image 63x63 (deg-2, shifted)",
            ours,
            peer=peer,
            peer_name="ndimage.shift",
            target="<= 2.0x peer",
            passed=ours <= 2.0 * peer,
        )
    )
    print_rows("Calibration models (PSF, fields, backgrounds)", rows)


if __name__ == "__main__":
    main()
