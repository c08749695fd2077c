# SPDX-License-Identifier: GPL-3.0-or-later
"""In-place byte swapping of large arrays (FITS big-endian pixels to native order).

numpy's ``ndarray.byteswap`` runs at about half the speed of a plain memory copy; these numba
kernels run close to copy speed, which keeps reading a FITS image within a few percent of
reading its raw bytes. They release the GIL.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["byteswap_inplace"]

_KERNELS: dict[int, Any] = {}


def _kernels() -> dict[int, Any]:
    if _KERNELS:
        return _KERNELS
    import numba

    @numba.njit(nogil=True, cache=True)
    def swap16(a: np.ndarray) -> None:  # pragma: no cover - compiled
        for i in range(a.size):
            x = a[i]
            a[i] = ((x >> 8) & 0xFF) | ((x << 8) & 0xFF00)

    @numba.njit(nogil=True, cache=True)
    def swap32(a: np.ndarray) -> None:  # pragma: no cover - compiled
        for i in range(a.size):
            x = a[i]
            a[i] = ((x >> 24) & 0xFF) | ((x >> 8) & 0xFF00) | ((x << 8) & 0xFF0000) | ((x << 24) & 0xFF000000)

    @numba.njit(nogil=True, cache=True)
    def swap64(a: np.ndarray) -> None:  # pragma: no cover - compiled
        for i in range(a.size):
            x = a[i]
            a[i] = (
                ((x >> 56) & 0xFF)
                | ((x >> 40) & 0xFF00)
                | ((x >> 24) & 0xFF0000)
                | ((x >> 8) & 0xFF000000)
                | ((x << 8) & 0xFF00000000)
                | ((x << 24) & 0xFF0000000000)
                | ((x << 40) & 0xFF000000000000)
                | ((x << 56) & 0xFF00000000000000)
            )

    _KERNELS.update({2: (swap16, np.uint16), 4: (swap32, np.uint32), 8: (swap64, np.uint64)})
    return _KERNELS


def byteswap_inplace(array: np.ndarray) -> None:
    """Reverse the bytes of every element of a contiguous array, in place.

    Parameters
    ----------
    array : `numpy.ndarray`
        A C-contiguous, writeable array of 1-, 2-, 4- or 8-byte elements. Only the bytes change:
        the dtype is not touched, so swap the raw file bytes of a native-dtype array to turn
        big-endian data into native values.

    Raises
    ------
    ValueError
        If the array is not contiguous and writeable.
    """
    if not (array.flags.c_contiguous and array.flags.writeable):
        raise ValueError("byteswap_inplace needs a C-contiguous, writeable array")
    size = array.dtype.itemsize
    if size == 1 or array.size == 0:
        return
    # Complex numbers swap each of their two parts; leave them (and odd sizes) to numpy.
    kernel = None if array.dtype.kind == "c" else _kernels().get(size)
    if kernel is None:
        array.byteswap(inplace=True)
        return
    swap, utype = kernel
    swap(array.reshape(-1).view(utype))
