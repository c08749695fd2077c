# SPDX-License-Identifier: GPL-3.0-or-later
"""Star/galaxy classification by the ratio of PSF to model flux (Rubin's ``ClassificationExtendedness``).

A point source puts all its flux into the PSF, so its PSF flux equals any other total-flux
estimate; an extended source spreads flux beyond the PSF, so its PSF flux is smaller. With
``threshold`` (0.985 in Rubin)::

    extendedness = 1.0   if psf_flux + psf_err_factor × psf_flux_err
                            < threshold × (model_flux + model_err_factor × model_flux_err)
                 = 0.0   otherwise
                 = NaN   if either flux is not finite or the model flux is not positive

The two fluxes must share a normalisation for point sources. The measurement framework uses the
Gaussian flux (fixed elliptical Gaussian with the source's adaptive shape, uniform weights) divided
by ``gaussian_flux_psf``, the same estimator applied to the unit PSF image with the PSF's own
adaptive shape: the point-source correction that Rubin's aperture corrections derive empirically
from stars, here computed from the PSF model at each position. For stars the result equals
``psf_flux`` (whose model sums to 1 over its stamp) in expectation; for an extended source the
wider Gaussian collects light the PSF fit misses. For Gaussian PSF and source profiles the ratio is
``2 σ_psf² / (σ_psf² + σ_src²)``. `psf_normalised_model_flux` does the division.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_THRESHOLD", "extendedness", "psf_normalised_model_flux"]

#: Rubin's default ``fluxRatio``.
DEFAULT_THRESHOLD = 0.985


def extendedness(
    psf_flux: npt.ArrayLike,
    model_flux: npt.ArrayLike,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    psf_flux_err: npt.ArrayLike | None = None,
    model_flux_err: npt.ArrayLike | None = None,
    psf_err_factor: float = 0.0,
    model_err_factor: float = 0.0,
) -> np.ndarray:
    """Extendedness (1 extended, 0 point-like, NaN unknown) from PSF and model fluxes.

    Parameters
    ----------
    psf_flux, model_flux : array_like
        Fluxes with the same normalisation for point sources (see the module docstring).
    threshold : `float`
        Sources with ``psf / model < threshold`` are extended.
    psf_flux_err, model_flux_err : array_like, optional
        Errors, used with the factors below (Rubin's ``psfErrFactor`` / ``modelErrFactor``).
    psf_err_factor, model_err_factor : `float`
        Multiples of the errors added to the fluxes before comparing (0 by default).

    Returns
    -------
    value : `numpy.ndarray`
        float64 1.0 / 0.0 / NaN per source.

    Raises
    ------
    ValueError
        If ``threshold`` is not positive, or a non-zero error factor is given without errors.
    """
    if not threshold > 0:
        raise ValueError(f"threshold must be a positive flux ratio, got {threshold}")
    psf = np.asarray(psf_flux, dtype=np.float64)
    model = np.asarray(model_flux, dtype=np.float64)
    if psf.shape != model.shape:
        raise ValueError(f"psf_flux and model_flux differ in shape: {psf.shape} vs {model.shape}")
    psf_term = psf.copy()
    model_term = model.copy()
    for factor, err, term, name in (
        (psf_err_factor, psf_flux_err, psf_term, "psf_flux_err"),
        (model_err_factor, model_flux_err, model_term, "model_flux_err"),
    ):
        if factor != 0:
            if err is None:
                raise ValueError(f"an error factor was given but {name} was not")
            term += factor * np.asarray(err, dtype=np.float64)
    valid = np.isfinite(psf_term) & np.isfinite(model_term) & (model > 0)
    out = np.where(psf_term < threshold * model_term, 1.0, 0.0)
    out[~valid] = np.nan
    return out


def psf_normalised_model_flux(model_flux: npt.ArrayLike, model_flux_of_psf: npt.ArrayLike) -> np.ndarray:
    """Model flux divided by the model flux the same estimator gives for the unit PSF image.

    Parameters
    ----------
    model_flux : array_like
        The model (e.g. Gaussian) flux of each source.
    model_flux_of_psf : array_like
        The same estimator applied to the PSF image (unit sum) at each source's position.

    Returns
    -------
    flux : `numpy.ndarray`
        ``model_flux / model_flux_of_psf`` (NaN where the divisor is not positive).
    """
    num = np.asarray(model_flux, dtype=np.float64)
    den = np.asarray(model_flux_of_psf, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)
