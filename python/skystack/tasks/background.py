# SPDX-License-Identifier: GPL-3.0-or-later
"""`SubtractBackgroundTask`: a binned, masked, interpolated sky model subtracted from an exposure.

The image is divided into bins of ``bin_size`` pixels; each bin's sky is a robust statistic of its
pixels that are not in ``ignored_mask_planes`` (detected sources, bad pixels, saturation); empty
bins are filled from their neighbours and the grid is interpolated to full resolution
(`skystack.image.background.BackgroundModel`). The model is subtracted in place and appended to a
`~skystack.image.background.BackgroundList`, so that successive passes (a coarse one before
detection, a finer one once sources are masked) add up to the ``calexp_background`` dataset.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from skystack.config import Config, field
from skystack.image import Exposure
from skystack.image.background import BackgroundList, BackgroundModel
from skystack.task import Struct, Task, timed

__all__ = [
    "FineBackgroundConfig",
    "FineBackgroundTask",
    "SubtractBackgroundConfig",
    "SubtractBackgroundResult",
    "SubtractBackgroundTask",
]


class SubtractBackgroundConfig(Config):
    """Config of `SubtractBackgroundTask`."""

    bin_size: int = field(128, doc="Side of a background bin (pixels).", ge=8)
    statistic: Literal["mean_clipped", "median"] = field(
        "mean_clipped", doc="Robust statistic of the unmasked pixels of a bin."
    )
    interpolation: Literal["akima", "makima", "natural_spline", "linear"] = field(
        "akima", doc="Interpolation of the bin grid to full resolution."
    )
    n_sigma: float = field(3.0, doc="Clipping threshold of 'mean_clipped' (sigma).", gt=0)
    min_fraction: float = field(
        0.1,
        doc="A bin with less than this fraction of usable pixels is filled from its neighbours.",
        gt=0,
        le=1,
    )
    ignored_mask_planes: list[str] = field(
        default_factory=lambda: ["DETECTED", "BAD", "SAT", "NO_DATA", "EDGE", "CR", "SUSPECT"],
        doc="Pixels in these mask planes are not used to estimate the sky.",
    )


class SubtractBackgroundResult(Struct):
    """What `SubtractBackgroundTask.run` returns.

    Attributes
    ----------
    background : `~skystack.image.background.BackgroundList`
        All models subtracted so far (the given list, with the new model appended).
    model : `~skystack.image.background.BackgroundModel`
        The model subtracted by this call.
    """

    background: BackgroundList
    model: BackgroundModel


class SubtractBackgroundTask(Task):
    """Estimate the sky of an exposure on a grid of bins and subtract it in place."""

    ConfigClass = SubtractBackgroundConfig
    default_name = "background"
    config: SubtractBackgroundConfig

    @timed
    def run(self, exposure: Exposure, background: BackgroundList | None = None) -> SubtractBackgroundResult:
        """Fit the sky of ``exposure``, subtract it from the image, and append it to ``background``.

        Parameters
        ----------
        exposure : `~skystack.image.Exposure`
            Modified in place (image only; the variance is unchanged).
        background : `~skystack.image.background.BackgroundList`, optional
            Models already subtracted; a new list when omitted.

        Returns
        -------
        result : `SubtractBackgroundResult`
        """
        c = self.config
        mask = exposure.mask
        known = [p for p in c.ignored_mask_planes if p in mask.plane_dict]
        ignored = mask.any_plane(*known) if known else None
        image = exposure.image.array
        model = BackgroundModel.from_image(
            image,
            mask=ignored,
            bin_size=min(c.bin_size, max(8, min(image.shape))),
            statistic=c.statistic,
            bbox=exposure.mask.bbox,
            interpolation=c.interpolation,
            n_sigma=c.n_sigma,
            min_fraction=c.min_fraction,
        )
        image -= model.get_image(exposure.mask.bbox, dtype=image.dtype)
        background = BackgroundList() if background is None else background
        background.append(model)
        values = np.asarray(model.values)
        self.metadata["n_bins"] = int(values.size)
        self.metadata["median_sky"] = float(np.nanmedian(values)) if values.size else float("nan")
        return SubtractBackgroundResult(background=background, model=model)


class FineBackgroundConfig(SubtractBackgroundConfig):
    """Config of `FineBackgroundTask`: smaller bins, for the residual sky under masked sources."""

    bin_size: int = field(64, doc="Side of a background bin (pixels).", ge=8)


class FineBackgroundTask(SubtractBackgroundTask):
    """`SubtractBackgroundTask` with smaller bins, run once the sources are masked."""

    ConfigClass = FineBackgroundConfig
    config: FineBackgroundConfig
