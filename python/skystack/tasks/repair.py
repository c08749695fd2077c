# SPDX-License-Identifier: GPL-3.0-or-later
"""Cosmic-ray detection and repair as selectable subtasks.

``own`` (`CosmicRayTask`): the PSF-sharpness test of `skystack.algorithms.detection.find_cosmic_rays`
(a pixel is a cosmic ray when it stands out from its neighbours more sharply than the PSF allows),
grown, flagged ``CR`` and interpolated over. ``astroscrappy`` (`AstroscrappyTask`): van Dokkum's
L.A.Cosmic as implemented by the optional ``astroscrappy`` package (``pip install astroscrappy``),
then the same repair. Both set ``CR`` and ``INTRP`` in the mask.
"""

from __future__ import annotations

import numpy as np

from skystack.algorithms.detection import find_cosmic_rays, repair_cosmic_rays
from skystack.config import Config, field
from skystack.image import Exposure
from skystack.task import Task, TaskError, timed

__all__ = ["REPAIR_CHOICES", "AstroscrappyConfig", "AstroscrappyTask", "CosmicRayConfig", "CosmicRayTask"]


class CosmicRayConfig(Config):
    """Config of `CosmicRayTask`."""

    n_sigma: float = field(6.0, doc="Significance of a cosmic-ray pixel above the local level.", gt=0)
    cond3_fac: float = field(2.5, doc="How much sharper than the PSF a cosmic ray must be.", gt=0)
    n_grow: int = field(3, doc="Cosmic-ray pixels are grown by this many pixels.", ge=0)
    max_distance: int = field(10, doc="Farthest good pixel used by the repair (pixels).", ge=1)


class CosmicRayTask(Task):
    """Find cosmic rays with the PSF-sharpness test and interpolate over them."""

    ConfigClass = CosmicRayConfig
    default_name = "repair"
    config: CosmicRayConfig

    @timed
    def run(self, exposure: Exposure, psf_fwhm: float) -> int:
        """Flag (``CR``) and repair cosmic rays of a background-subtracted exposure; their pixel count."""
        c = self.config
        mask = exposure.mask
        found = find_cosmic_rays(
            exposure.image.array,
            exposure.variance.array,
            mask,
            psf_fwhm=psf_fwhm,
            n_sigma=c.n_sigma,
            cond3_fac=c.cond3_fac,
            n_grow=c.n_grow,
            xy0=(exposure.bbox.min_x, exposure.bbox.min_y),
        )
        return self._repair(exposure, found.mask)

    def _repair(self, exposure: Exposure, cr: np.ndarray) -> int:
        mask = exposure.mask
        for plane in ("CR", "INTRP"):
            mask.add_plane(plane)
        n = int(np.count_nonzero(cr))
        if n:
            repair_cosmic_rays(exposure.image.array, cr, mask, max_distance=self.config.max_distance)
        self.metadata["n_cr_pixels"] = n
        return n


class AstroscrappyConfig(CosmicRayConfig):
    """Config of `AstroscrappyTask` (L.A.Cosmic parameters)."""

    sigclip: float = field(4.5, doc="Laplacian-to-noise limit.", gt=0)
    objlim: float = field(5.0, doc="Contrast limit between the Laplacian and the fine structure image.", gt=0)
    niter: int = field(4, doc="L.A.Cosmic iterations.", ge=1)


class AstroscrappyTask(CosmicRayTask):
    """Find cosmic rays with ``astroscrappy`` (L.A.Cosmic) and interpolate over them."""

    ConfigClass = AstroscrappyConfig
    config: AstroscrappyConfig

    @timed
    def run(self, exposure: Exposure, psf_fwhm: float) -> int:
        try:
            import astroscrappy
        except ImportError as err:
            raise TaskError(
                "the 'astroscrappy' cosmic-ray finder needs the astroscrappy package: pip install "
                "astroscrappy, or select repair.name='own'"
            ) from err
        c = self.config
        mask = exposure.mask
        bad = mask.any_plane(*[p for p in ("BAD", "SAT", "NO_DATA") if p in mask.plane_dict])
        var = exposure.variance.array
        image = exposure.image.array
        # The image is in electrons (gain 1) and background-subtracted: its noise is given by the
        # variance plane (``invar``); ``readnoise`` is only astroscrappy's floor.
        noise = float(np.sqrt(np.nanmedian(var)))
        crmask, _ = astroscrappy.detect_cosmics(
            image.astype(np.float32),
            inmask=bad,
            invar=var.astype(np.float32),
            sigclip=c.sigclip,
            objlim=c.objlim,
            niter=c.niter,
            gain=1.0,
            readnoise=noise,
            fsmode="convolve",
            psffwhm=psf_fwhm,
            psfsize=int(2 * round(2 * psf_fwhm) + 1),
        )
        cr = np.asarray(crmask, dtype=bool)
        if c.n_grow:
            from scipy.ndimage import binary_dilation

            cr = binary_dilation(cr, iterations=c.n_grow) & ~bad
        return self._repair(exposure, cr)


REPAIR_CHOICES: dict[str, type | str] = {"own": CosmicRayTask, "astroscrappy": AstroscrappyTask}
