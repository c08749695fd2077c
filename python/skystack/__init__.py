# SPDX-License-Identifier: GPL-3.0-or-later
"""skystack: survey data management and image-processing pipelines.

Importing the top-level package is cheap on purpose (no numpy, astropy or pydantic is loaded);
import the layer you need, e.g. ``from skystack.config import Config``.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
