# SPDX-License-Identifier: GPL-3.0-or-later
"""Detection, deblending and cosmic rays (the meas_algorithms / meas_deblender roles, LDM-151 §5.1.1).

- `smooth_gaussian`: PSF-sigma smoothing that skips bad pixels, with the smoothed image's variance;
- `detect_sources`: thresholded footprints and peaks of the smoothed image (`DetectionResult`);
- `deblend_footprint`, `deblend`: SDSS-style symmetric-template deblending into `HeavyFootprint`
  children whose pixels sum to the parent (`DeblendedParent` families);
- `find_cosmic_rays`, `repair_cosmic_rays`: single-exposure cosmic-ray detection (pixels sharper
  than the PSF allows) and interpolation over them.

One algorithm per module, plain numpy arrays in and out; the pixel loops are numba
(`skystack.algorithms.detection.segmentation` holds the shared span/label/peak kernels).
"""

from .cosmic_rays import CosmicRayResult, find_cosmic_rays, psf_neighbour_ratios, repair_cosmic_rays
from .deblend import DeblendedParent, deblend, deblend_footprint, select_peaks
from .detect import THRESHOLD_TYPES, DetectionResult, bad_pixel_mask, detect_sources
from .smoothing import SmoothedImage, gaussian_kernel_1d, smooth_gaussian

__all__ = [
    "THRESHOLD_TYPES",
    "CosmicRayResult",
    "DeblendedParent",
    "DetectionResult",
    "SmoothedImage",
    "bad_pixel_mask",
    "deblend",
    "deblend_footprint",
    "detect_sources",
    "find_cosmic_rays",
    "gaussian_kernel_1d",
    "psf_neighbour_ratios",
    "repair_cosmic_rays",
    "select_peaks",
    "smooth_gaussian",
]
