# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark: source detection, deblending and cosmic rays on one 4k×4k detector, one core.

The image is a simulated, background-subtracted float32 star field: 12,000 Gaussian stars
(σ = 1.5 px, fluxes log-uniform over 10^2.3–10^5.5) on sky noise of 10 e- with Poisson noise of
the stars, plus 400 cosmic rays (single hits and tracks) for the cosmic-ray row.

Peer: ``sep.extract`` (SExtractor's algorithm in C) on the same image with the per-pixel error
and the same 5σ threshold, with its default deblending and without (``deblend_cont=1``);
``sep.sum_circle`` is timed too, since the target (DESIGN.md) is "detection and aperture
photometry no slower than sep": if `skystack.algorithms.measure.aperture_flux` is available, a
combined row times our detection plus 3σ-radius aperture fluxes at our peaks against
``sep.extract`` plus ``sep.sum_circle`` at sep's objects. Our detection is `detect_sources`
(PSF-smoothing, per-pixel 5σ threshold, footprints grown by 2.4σ, peaks). If sep cannot be
imported the peer rows are skipped and said so. Ours and the peer run alternately (so both see
the same machine load) and each row reports the median times and the median of the per-pair
ratios.
"""

from __future__ import annotations

import os

for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one core

import gc  # noqa: E402  (after the thread settings)
import sys  # noqa: E402  (after the thread settings)
import time  # noqa: E402  (after the thread settings)
from collections.abc import Callable  # noqa: E402  (after the thread settings)
from pathlib import Path  # noqa: E402  (after the thread settings)
from typing import Any  # noqa: E402  (after the thread settings)

import numpy as np  # noqa: E402  (after the thread settings)
from scipy.spatial import cKDTree  # noqa: E402  (after the thread settings)
from scipy.special import erf  # noqa: E402  (after the thread settings)

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _util import Row, median_time, print_rows  # noqa: E402  (after the thread settings)
from skystack.algorithms.detection import (  # noqa: E402  (after the thread settings)
    deblend,
    detect_sources,
    find_cosmic_rays,
    repair_cosmic_rays,
)

try:
    import sep
except ImportError as exc:  # pragma: no cover - depends on the environment
    sep = None
    SEP_ERROR = str(exc)
try:  # aperture photometry is another module's work; the combined row needs it
    from skystack.algorithms.measure import aperture_flux
except ImportError:  # pragma: no cover - depends on the checkout
    aperture_flux = None  # type: ignore[assignment]

SIZE = 4096
N_STARS = 12_000
PSF_SIGMA = 1.5
SKY_NOISE = 10.0
THRESHOLD = 5.0
REPEAT = 5


def star_field(seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Noisy image, its variance, the cosmic-ray charge image, and the star truth."""
    rng = np.random.default_rng(seed)
    model = np.zeros((SIZE, SIZE), np.float32)
    x = rng.uniform(4, SIZE - 4, N_STARS)
    y = rng.uniform(4, SIZE - 4, N_STARS)
    flux = 10 ** rng.uniform(2.3, 5.5, N_STARS)
    r = int(np.ceil(5 * PSF_SIGMA))
    edges = np.arange(-r, r + 2) - 0.5
    scale = np.sqrt(2) * PSF_SIGMA
    for xi, yi, fi in zip(x, y, flux, strict=True):
        ix, iy = int(np.floor(xi + 0.5)), int(np.floor(yi + 0.5))
        ex = np.diff(erf((edges + ix - xi) / scale)) / 2
        ey = np.diff(erf((edges + iy - yi) / scale)) / 2
        ys = slice(max(iy - r, 0), min(iy + r + 1, SIZE))
        xs = slice(max(ix - r, 0), min(ix + r + 1, SIZE))
        stamp = fi * np.outer(ey, ex)
        model[ys, xs] += stamp[ys.start - iy + r : ys.stop - iy + r, xs.start - ix + r : xs.stop - ix + r]
    variance = (SKY_NOISE**2 + model).astype(np.float32)
    image = model + rng.standard_normal(model.shape, dtype=np.float32) * np.sqrt(variance)
    cr = np.zeros_like(image)
    for k in range(400):
        x0, y0 = rng.integers(10, SIZE - 10, 2)
        length = 1 if k < 150 else int(rng.integers(3, 15))
        t = np.arange(length)
        angle = rng.uniform(0, np.pi)
        cr[np.round(y0 + t * np.sin(angle)).astype(int), np.round(x0 + t * np.cos(angle)).astype(int)] = (
            rng.uniform(15, 300, length) * SKY_NOISE
        )
    snr = flux / (SKY_NOISE * np.sqrt(4 * np.pi) * PSF_SIGMA)
    return image, variance, cr, {"x": x, "y": y, "flux": flux, "snr": snr}


def paired(
    ours: Callable[[], object], peer: Callable[[], object], repeat: int = REPEAT
) -> tuple[float, float, float]:
    """Median times of ``ours`` and ``peer`` run alternately, and the median of their ratios."""
    ours()
    peer()
    t_ours: list[float] = []
    t_peer: list[float] = []
    for _ in range(repeat):
        for fn, times in ((ours, t_ours), (peer, t_peer)):
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    ratios = np.array(t_ours) / np.array(t_peer)
    return float(np.median(t_ours)), float(np.median(t_peer)), float(np.median(ratios))


def recovered(x: np.ndarray, y: np.ndarray, truth: dict[str, np.ndarray], min_snr: float) -> float:
    """Fraction of isolated true stars with S/N > ``min_snr`` that have a detection within 2 px."""
    pos = np.c_[truth["x"], truth["y"]]
    nearest, _ = cKDTree(pos).query(pos, k=2)
    isolated = (nearest[:, 1] > 6) & (truth["snr"] > min_snr)
    dist, _ = cKDTree(np.c_[x, y]).query(pos[isolated])
    return float(np.mean(dist < 2.0))


def main() -> None:
    t0 = time.perf_counter()
    image, variance, cr, truth = star_field()
    err = np.sqrt(variance)
    print(f"simulated a {SIZE}x{SIZE} float32 field of {N_STARS} stars in {time.perf_counter() - t0:.1f} s")

    def ours() -> Any:
        return detect_sources(image, variance, psf_sigma=PSF_SIGMA, threshold=THRESHOLD)

    result = ours()  # compile (numba caches on disk) and keep for the sanity figures
    rows = []
    peaks = np.concatenate([fp.peaks for fp in result.footprints])
    if sep is None:
        print(f"\nsep cannot be imported ({SEP_ERROR}); showing skystack figures only")
        rows.append(Row("detect_sources (smooth, threshold, grow, peaks)", median_time(ours, repeat=REPEAT)))
    else:
        objects = sep.extract(image, THRESHOLD, err=err)

        def peer() -> Any:
            return sep.extract(image, THRESHOLD, err=err)

        def peer_no_deblend() -> Any:
            return sep.extract(image, THRESHOLD, err=err, deblend_cont=1.0)

        def peer_sum() -> Any:
            return sep.sum_circle(image, objects["x"], objects["y"], 3.0 * PSF_SIGMA, err=err)

        t_ours, t_peer, r_peer = paired(ours, peer)
        t_ours_nd, t_peer_nd, r_peer_nd = paired(ours, peer_no_deblend)
        rows += [
            Row(
                "detect_sources vs sep.extract (deblending on)",
                t_ours,
                peer=t_peer,
                peer_name="sep",
                target=f"<= 1.0x sep; pair ratio {r_peer:.2f}",
                passed=r_peer <= 1.0,
            ),
            Row(
                "detect_sources vs sep.extract (no deblending)",
                t_ours_nd,
                peer=t_peer_nd,
                peer_name="sep",
                target=f"pair ratio {r_peer_nd:.2f}",
            ),
            Row("sep.sum_circle r=3σ on sep's objects", median_time(peer_sum, repeat=REPEAT)),
        ]
        if aperture_flux is not None:

            def ours_with_apertures() -> Any:
                found = ours()
                pk = np.concatenate([fp.peaks for fp in found.footprints])
                return aperture_flux(image, pk["x"], pk["y"], 3.0 * PSF_SIGMA, variance=variance)

            def peer_with_apertures() -> Any:
                obj = sep.extract(image, THRESHOLD, err=err)
                return sep.sum_circle(image, obj["x"], obj["y"], 3.0 * PSF_SIGMA, err=err)

            t_both, t_peer_both, r_both = paired(ours_with_apertures, peer_with_apertures)
            rows.append(
                Row(
                    "detect + aperture_flux vs extract + sum_circle",
                    t_both,
                    peer=t_peer_both,
                    peer_name="sep",
                    target=f"<= 1.0x sep; pair ratio {r_both:.2f}",
                    passed=r_both <= 1.0,
                )
            )
        else:
            rows.append(
                Row("(skystack.algorithms.measure.aperture_flux not importable: no combined row)", 0.0)
            )
        print(
            f"\nsanity: {len(result.footprints)} footprints, {len(peaks)} peaks; sep {len(objects)} objects. "
            f"Isolated stars with S/N > 10 found: ours {recovered(peaks['x'], peaks['y'], truth, 10):.3f}, "
            f"sep {recovered(objects['x'], objects['y'], truth, 10):.3f}"
        )

    families: list[Any] = []

    def run_deblend() -> None:
        families[:] = deblend(image, result.footprints, variance=variance)

    run_deblend()
    n_blended = sum(f.is_blended for f in families)
    rows.append(Row(f"deblend ({n_blended} multi-peak parents)", median_time(run_deblend, repeat=3)))

    with_cr = image + cr

    def find_crs() -> Any:
        return find_cosmic_rays(with_cr, variance, psf_fwhm=2.3548 * PSF_SIGMA)

    crs = find_crs()
    rows.append(Row("find_cosmic_rays (4k x 4k, 400 injected)", median_time(find_crs, repeat=REPEAT)))
    repaired = with_cr.copy()

    def repair() -> None:
        repaired[...] = with_cr
        repair_cosmic_rays(repaired, crs)

    rows.append(Row("repair_cosmic_rays (incl. an image copy)", median_time(repair, repeat=REPEAT)))
    print_rows(f"Detection ({SIZE} x {SIZE} float32, {N_STARS} stars, one core)", rows)
    strong = cr > 10 * SKY_NOISE
    print(
        f"\ncosmic rays: {crs.n_cosmic_rays} found, {crs.n_pixels} pixels; "
        f"{crs.mask[strong].mean():.3f} of the injected pixels above 10σ flagged"
    )


if __name__ == "__main__":
    main()
