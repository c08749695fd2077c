# SPDX-License-Identifier: GPL-3.0-or-later
"""PSF star selection and PSF modelling (LDM-151 §5.1.1, PSF estimation in BootstrapImChar).

- `select_psf_candidates`: high-S/N, unflagged, isolated sources on the stellar locus in size.
- `determine_psf`: a PSFEx-style pixel basis varying as a polynomial of detector position, fitted
  by variance-weighted least squares with χ² clipping and reserved stars; returns a
  `~skystack.image.psf.PixelPsf`.
- Building blocks: `extract_stamps`, `ring_background`, `shift_stamps`, `adaptive_moments` and
  `fit_psf_stars` (flux, centre and background of stars with a PSF model, and their χ²).
"""

from .determiner import PsfDeterminationError, PsfDeterminationResult, PsfDeterminerConfig, determine_psf
from .moments import AdaptiveMoments, adaptive_moments
from .stamps import extract_stamps, nearest_pixel, ring_background, shift_stamps
from .star_fit import StarFits, fit_psf_stars, model_stamps
from .star_selector import StarSelection, StarSelectorConfig, select_psf_candidates

__all__ = [
    "AdaptiveMoments",
    "PsfDeterminationError",
    "PsfDeterminationResult",
    "PsfDeterminerConfig",
    "StarFits",
    "StarSelection",
    "StarSelectorConfig",
    "adaptive_moments",
    "determine_psf",
    "extract_stamps",
    "fit_psf_stars",
    "model_stamps",
    "nearest_pixel",
    "ring_background",
    "select_psf_candidates",
    "shift_stamps",
]
