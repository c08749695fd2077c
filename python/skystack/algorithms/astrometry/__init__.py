# SPDX-License-Identifier: GPL-3.0-or-later
"""Astrometric calibration of one detector: reference matching and the TAN-SIP WCS fit.

- `match_pattern` (`matcher`): match sources to reference stars when the telescope's WCS is off
  by tens of arcseconds, a fraction of a degree and a few per cent of scale;
- `fit_tan_sip_wcs` (`wcs_fit`): fit a TAN-SIP `~skystack.geom.SkyWcs` to the matched pairs;
- `gnomonic_project` / `gnomonic_inverse` (`tangent_plane`): the projection both work in.

Typical use (a Task adds source selection and configuration)::

    match = match_pattern(x, y, ref_ra, ref_dec, exposure_wcs, source_flux=flux, ref_flux=ref_flux,
                          bbox=detector_bbox)
    fit = fit_tan_sip_wcs(x[match.source_index], y[match.source_index],
                          ref_ra[match.ref_index], ref_dec[match.ref_index], bbox=detector_bbox)
    calexp_wcs = fit.wcs
"""

from .matcher import MatchError, PatternMatch, match_pattern
from .tangent_plane import gnomonic_inverse, gnomonic_project
from .wcs_fit import WcsFitResult, fit_tan_sip_wcs

__all__ = [
    "MatchError",
    "PatternMatch",
    "WcsFitResult",
    "fit_tan_sip_wcs",
    "gnomonic_inverse",
    "gnomonic_project",
    "match_pattern",
]
