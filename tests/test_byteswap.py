# SPDX-License-Identifier: GPL-3.0-or-later
"""In-place byte swapping agrees with numpy for every element size."""

from __future__ import annotations

import numpy as np
import pytest

from skystack.utils.byteswap import byteswap_inplace


@pytest.mark.parametrize("dtype", ["u1", "i2", "u2", "i4", "f4", "i8", "f8", "c8"])
def test_matches_numpy(dtype: str) -> None:
    rng = np.random.default_rng(5)
    values = (rng.normal(size=1001) * 1000).astype(dtype)
    expected = values.byteswap()
    byteswap_inplace(values)
    np.testing.assert_array_equal(values.view(np.uint8), expected.view(np.uint8))


def test_big_endian_file_bytes_become_native_values() -> None:
    values = np.array([1.5, -2.25, np.inf], dtype=np.float32)
    buf = np.frombuffer(values.astype(">f4").tobytes(), dtype=np.float32).copy()
    byteswap_inplace(buf)
    np.testing.assert_array_equal(buf, values)


def test_refuses_non_contiguous() -> None:
    with pytest.raises(ValueError, match="C-contiguous, writeable"):
        byteswap_inplace(np.zeros((4, 4), dtype="f4")[:, ::2])
