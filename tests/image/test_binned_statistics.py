# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-bin robust statistics against numpy on the same bins."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.image.binned_statistics import binned_statistics


def _reference(image, mask, ye, xe, statistic, n_sigma=3.0, n_iter=3):  # type: ignore[no-untyped-def]
    out = np.full((len(ye) - 1, len(xe) - 1), np.nan)
    for j in range(len(ye) - 1):
        for i in range(len(xe) - 1):
            v = image[ye[j] : ye[j + 1], xe[i] : xe[i + 1]]
            m = mask[ye[j] : ye[j + 1], xe[i] : xe[i + 1]] == 0 if mask is not None else True
            v = v[np.isfinite(v) & m]
            if statistic == "median":
                out[j, i] = np.median(v)
                continue
            q25, center, q75 = np.percentile(v, [25, 50, 75])
            sigma = 0.7413 * (q75 - q25)
            for _ in range(n_iter):
                keep = np.abs(v - center) <= n_sigma * sigma
                center, sigma = v[keep].mean(), v[keep].std()
            out[j, i] = center
    return out


@pytest.mark.parametrize("statistic", ["median", "mean_clipped"])
def test_matches_numpy_per_bin(statistic: str) -> None:
    rng = np.random.default_rng(7)
    image = rng.normal(100.0, 5.0, (90, 130))
    image[rng.integers(0, 90, 60), rng.integers(0, 130, 60)] = 1e4  # outliers
    image[3, 4] = np.nan
    mask = np.zeros(image.shape, dtype=np.int32)
    mask[40:50, 60:70] = 1
    ye, xe = np.array([0, 30, 61, 90]), np.array([0, 44, 87, 130])
    values, counts = binned_statistics(image, ye, xe, mask=mask, statistic=statistic)  # type: ignore[arg-type]
    np.testing.assert_allclose(values, _reference(image, mask, ye, xe, statistic), rtol=1e-12)
    assert counts[0, 0] == 30 * 44 - 1 and counts[1, 1] == 31 * 43 - 100


def test_sparse_bins_are_nan_and_errors() -> None:
    image = np.ones((20, 20))
    mask = np.zeros((20, 20), dtype=np.int32)
    mask[:10, :10] = 1
    mask[0, 0] = 0
    values, counts = binned_statistics(image, np.array([0, 10, 20]), np.array([0, 10, 20]), mask=mask)
    assert np.isnan(values[0, 0]) and counts[0, 0] == 1 and values[1, 1] == 1.0
    with pytest.raises(ValueError, match="from 0 to the image size"):
        binned_statistics(image, np.array([0, 10]), np.array([0, 20]))
    with pytest.raises(ValueError, match="strictly increasing"):
        binned_statistics(image, np.array([0, 10, 10, 20]), np.array([0, 20]))
    with pytest.raises(ValueError, match="mask shape"):
        binned_statistics(image, np.array([0, 20]), np.array([0, 20]), mask=mask[:5])
