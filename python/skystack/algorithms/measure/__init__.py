# SPDX-License-Identifier: GPL-3.0-or-later
"""Source measurement (LDM-151 single-frame measurement; Rubin ``meas_base``).

Algorithms on plain arrays (image, variance, integer mask, ``xy0``; positions in parent pixels
with pixel centres at integers), each vectorised over all sources with a numba kernel:

- `aperture_flux`, `aperture_fluxes`: exact circular-aperture sums (sep ``sum_circle`` exact);
- `sdss_centroid`, `naive_centroid`: centroids;
- `adaptive_moments`: adaptive second moments (HSM / SdssShape);
- `psf_flux`, `gaussian_flux`, `fit_model_flux`: linear model-fit fluxes;
- `local_background`: sigma-clipped annulus median;
- `pixel_flags`: mask planes in footprints and at centres;
- `extendedness`: PSF/model flux-ratio classification.

The plugin framework (`SingleFrameMeasurement`, `MeasurementPlugin`, `register_plugin`) runs them
on a `skystack.table.SourceCatalog`, with neighbours replaced by noise for deblended children;
`skystack.algorithms.measure.plugins` holds the plugins (registered on import of this package).
"""

from . import plugins as _plugins  # noqa: F401  (registers the plugins)
from .aperture import (
    APERTURE_INVALID,
    APERTURE_MASKED,
    APERTURE_TRUNCATED,
    ApertureResult,
    aperture_flux,
    aperture_fluxes,
    pixel_circle_overlap,
)
from .centroid import (
    CENTROID_EDGE,
    CENTROID_FAILED,
    CENTROID_FALLBACK,
    CENTROID_MOVED,
    CENTROID_NO_PEAK,
    CENTROID_NOT_CONVERGED,
    CentroidResult,
    naive_centroid,
    sdss_centroid,
)
from .extendedness import DEFAULT_THRESHOLD, extendedness, psf_normalised_model_flux
from .footprint_spans import FootprintSpans
from .framework import (
    DEFAULT_PLUGINS,
    MeasurementData,
    MeasurementError,
    MeasurementPlugin,
    SingleFrameMeasurement,
    SingleFrameMeasurementConfig,
    get_plugin_class,
    register_plugin,
    registered_plugins,
)
from .local_background import (
    LOCAL_BACKGROUND_EDGE,
    LOCAL_BACKGROUND_NO_GOOD_PIXELS,
    LocalBackgroundResult,
    local_background,
)
from .moments import (
    MOMENTS_EDGE,
    MOMENTS_MAXITER,
    MOMENTS_SHIFT,
    MOMENTS_UNCONVERGED,
    MomentsResult,
    adaptive_moments,
)
from .noise_replacer import NoiseReplacer, assign_layers
from .pixel_flags import CENTER_FLAGS, FOOTPRINT_FLAGS, center_mask_or, footprint_mask_or, pixel_flags
from .plugins import aperture_tag, psf_shape_at
from .psf_flux import (
    FIT_EDGE,
    FIT_MASKED,
    FIT_NO_GOOD_PIXELS,
    FluxFitResult,
    fit_model_flux,
    gaussian_flux,
    psf_flux,
    psf_gaussian_flux,
    psf_images,
)

__all__ = [
    "APERTURE_INVALID",
    "APERTURE_MASKED",
    "APERTURE_TRUNCATED",
    "CENTER_FLAGS",
    "CENTROID_EDGE",
    "CENTROID_FAILED",
    "CENTROID_FALLBACK",
    "CENTROID_MOVED",
    "CENTROID_NOT_CONVERGED",
    "CENTROID_NO_PEAK",
    "DEFAULT_PLUGINS",
    "DEFAULT_THRESHOLD",
    "FIT_EDGE",
    "FIT_MASKED",
    "FIT_NO_GOOD_PIXELS",
    "FOOTPRINT_FLAGS",
    "LOCAL_BACKGROUND_EDGE",
    "LOCAL_BACKGROUND_NO_GOOD_PIXELS",
    "MOMENTS_EDGE",
    "MOMENTS_MAXITER",
    "MOMENTS_SHIFT",
    "MOMENTS_UNCONVERGED",
    "ApertureResult",
    "CentroidResult",
    "FluxFitResult",
    "FootprintSpans",
    "LocalBackgroundResult",
    "MeasurementData",
    "MeasurementError",
    "MeasurementPlugin",
    "MomentsResult",
    "NoiseReplacer",
    "SingleFrameMeasurement",
    "SingleFrameMeasurementConfig",
    "adaptive_moments",
    "aperture_flux",
    "aperture_fluxes",
    "aperture_tag",
    "assign_layers",
    "center_mask_or",
    "extendedness",
    "fit_model_flux",
    "footprint_mask_or",
    "gaussian_flux",
    "get_plugin_class",
    "local_background",
    "naive_centroid",
    "pixel_circle_overlap",
    "pixel_flags",
    "psf_flux",
    "psf_gaussian_flux",
    "psf_images",
    "psf_normalised_model_flux",
    "psf_shape_at",
    "register_plugin",
    "registered_plugins",
    "sdss_centroid",
]
