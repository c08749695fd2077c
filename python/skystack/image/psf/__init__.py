# SPDX-License-Identifier: GPL-3.0-or-later
"""Point-spread-function models behind one interface, `Psf`.

Kinds: `GaussianPsf`, `DoubleGaussianPsf`, `MoffatPsf` (analytic, constant over the detector) and
`PixelPsf` (pixel basis images varying as a polynomial of position, PSFEx style, with a PSFEx file
reader and a least-squares fit to star stamps). All are persistable with
`skystack.utils.persist.dump_persistable`.
"""

from .base import AnalyticPsf, Psf, PsfError, measure_moments, sinc_matrix
from .gaussian import DoubleGaussianPsf, GaussianPsf
from .moffat import MoffatPsf
from .pixel import PixelPsf, polynomial_terms

__all__ = [
    "AnalyticPsf",
    "DoubleGaussianPsf",
    "GaussianPsf",
    "MoffatPsf",
    "PixelPsf",
    "Psf",
    "PsfError",
    "measure_moments",
    "polynomial_terms",
    "sinc_matrix",
]
