# SPDX-License-Identifier: GPL-3.0-or-later
"""ImageStatisticsTask and the robust statistics it uses, against known answers."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from skystack.algorithms.statistics import MAD_TO_SIGMA, mad_stats, sigma_clipped_stats
from skystack.tasks.image_statistics import ImageStatisticsConfig, ImageStatisticsTask


def test_clipped_stats_reject_outliers() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(50.0, 2.0, 200_000)
    values[:2000] = 1e4  # 1 % outliers
    s = sigma_clipped_stats(values, n_sigma=3.0, max_iter=10)
    # A Gaussian clipped at 3 sigma keeps 99.73 % of it with a std of 0.9866 sigma.
    assert s.median == pytest.approx(50.0, abs=0.02)
    assert s.stddev == pytest.approx(2.0 * 0.9866, rel=0.01)
    assert s.n_used == pytest.approx(198_000 * 0.9973, rel=0.003)


def test_mad_stats_and_masks() -> None:
    values = np.array([[1.0, 2.0, 3.0], [4.0, 100.0, np.nan]])
    mask = np.array([[0, 0, 0], [0, 1, 0]])
    s = mad_stats(values, mask)
    assert s.n_used == 4 and s.median == 2.5 and s.stddev == pytest.approx(MAD_TO_SIGMA * 1.0)
    assert mad_stats(np.full(3, np.nan)).n_used == 0
    with pytest.raises(ValueError, match="mask shape"):
        mad_stats(values, mask[:1])
    with pytest.raises(ValueError, match="n_sigma must be positive"):
        sigma_clipped_stats(values, n_sigma=0)


@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyUserWarning")
def test_task_on_real_image(real_data_dir) -> None:  # type: ignore[no-untyped-def]
    """The sep test image has a SExtractor background map: our sky level must agree with it."""
    data = fits.getdata(real_data_dir / "sep_ntt_emmi" / "image.fits").astype(np.float64)
    back = fits.getdata(real_data_dir / "sep_ntt_emmi" / "back.fits")
    rms = fits.getdata(real_data_dir / "sep_ntt_emmi" / "rms.fits")
    config = ImageStatisticsConfig()
    config.border = 8
    result = ImageStatisticsTask(config=config).run(data)
    assert result.level == pytest.approx(float(np.median(back)), rel=0.01)
    assert result.noise == pytest.approx(float(np.median(rms)), rel=0.1)


def test_task_mask_bits_and_border() -> None:
    image = np.zeros((20, 20))
    image[0, :] = 1000.0
    mask = np.zeros((20, 20), dtype=np.int32)
    mask[5, 5] = 4
    image[5, 5] = -1000.0
    config = ImageStatisticsConfig()
    config.bad_mask_bits = 4
    config.border = 1
    config.estimator = "mad"  # type: ignore[assignment]
    result = ImageStatisticsTask(config=config).run(image, mask)
    assert result.level == 0.0 and result.n_used == 18 * 18 - 1
    config.border = 10
    with pytest.raises(ValueError, match="border=10 leaves no pixel"):
        ImageStatisticsTask(config=config).run(image)
