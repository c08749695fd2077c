# SPDX-License-Identifier: GPL-3.0-or-later
"""Installed as the package ``skystack.resources.config``: instrument overrides and pipelines.

This folder holds data (YAML) only; the file exists so that installers treat it as a regular
package and ship its files (see setup.py).
"""
