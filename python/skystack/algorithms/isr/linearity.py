# SPDX-License-Identifier: GPL-3.0-or-later
"""Non-linearity correction from per-amplifier polynomial coefficients.

The detector response is modelled as ``measured = true + Σ_k c_k true^k`` (k = 2, 3, …; ADU with
the bias removed), the convention of `skystack.instruments.Amplifier.linearity_c2`. The correction
inverts it: exactly for a quadratic (the numerically stable root of the quadratic), by Newton
iterations started from the quadratic root when higher terms are given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["correct_nonlinearity"]


def correct_nonlinearity(data: np.ndarray, coefficients: Sequence[float], n_newton: int = 4) -> None:
    """Replace measured values in ``data`` by the true (linear) values, in place.

    Parameters
    ----------
    data : `numpy.ndarray`
        Floating-point ADU values with the bias removed (a view of one amplifier, modified).
    coefficients : sequence of `float`
        ``[c2, c3, ...]``: the coefficients of ``true**2, true**3, ...`` in the response.
    n_newton : `int`
        Newton iterations when cubic or higher terms are present.

    Raises
    ------
    ValueError
        If ``data`` is not floating point, or the response is not monotonic at some value (the
        quadratic has no real root: the coefficients are inconsistent with the data level).
    """
    if data.dtype.kind != "f":
        raise ValueError(f"correct_nonlinearity needs floating-point data, got {data.dtype}")
    coeffs = np.asarray(coefficients, dtype=np.float64)
    if coeffs.size == 0 or not np.any(coeffs):
        return
    c2 = float(coeffs[0])
    if c2 != 0.0:
        disc = 1.0 + 4.0 * c2 * data.astype(np.float64)
        if np.any(disc < 0):
            raise ValueError(
                f"Non-linearity c2={c2:g} has no inverse above {-1 / (4 * c2):.6g} ADU but the data reach "
                f"{float(np.nanmax(data)):.6g}; check the linearity coefficients of this amplifier"
            )
        # 2m / (1 + sqrt(1 + 4 c2 m)) is the root of c2 t² + t - m = 0 without cancellation.
        true = 2.0 * data / (1.0 + np.sqrt(disc))
    else:
        true = data.astype(np.float64)
    if coeffs.size > 1 and np.any(coeffs[1:]):
        powers = np.arange(2, coeffs.size + 2)
        for _ in range(n_newton):
            f = true + sum(c * true**p for c, p in zip(coeffs, powers, strict=True)) - data
            df = 1.0 + sum(p * c * true ** (p - 1) for c, p in zip(coeffs, powers, strict=True))
            true -= f / df
    data[...] = true
