# SPDX-License-Identifier: GPL-3.0-or-later
"""Instrument Signature Removal algorithms (the ip_isr role), one algorithm per module.

Pure functions on numpy arrays and a structural description of the detector (`DetectorLike`);
`skystack.tasks.isr.IsrTask` composes them.
"""

from .assembly import assemble_amplifiers, check_raw_segments
from .calibrate import check_calibration, divide_flat, subtract_bias, subtract_dark
from .combine import combine_clipped, find_defects, make_master_bias, make_master_dark, make_master_flat
from .crosstalk import subtract_crosstalk
from .geometry import AmplifierLike, DetectorLike, IsrInputError, readout_view
from .interpolate import interpolate_rows
from .linearity import correct_nonlinearity
from .masking import defect_mask, grow_mask, level_mask, nan_mask
from .overscan import (
    clipped_row_means,
    overscan_constant,
    overscan_per_row,
    overscan_poly_rows,
    overscan_spline_rows,
)
from .snaps import combine_snaps
from .variance import compute_variance

__all__ = [
    "AmplifierLike",
    "DetectorLike",
    "IsrInputError",
    "assemble_amplifiers",
    "check_calibration",
    "check_raw_segments",
    "clipped_row_means",
    "combine_clipped",
    "combine_snaps",
    "compute_variance",
    "correct_nonlinearity",
    "defect_mask",
    "divide_flat",
    "find_defects",
    "grow_mask",
    "interpolate_rows",
    "level_mask",
    "make_master_bias",
    "make_master_dark",
    "make_master_flat",
    "nan_mask",
    "overscan_constant",
    "overscan_per_row",
    "overscan_poly_rows",
    "overscan_spline_rows",
    "readout_view",
    "subtract_bias",
    "subtract_crosstalk",
    "subtract_dark",
]
