# SPDX-License-Identifier: GPL-3.0-or-later
"""Package layout: python/ holds the code, config/ is installed as skystack.resources.config."""

from setuptools import find_packages, setup

packages = find_packages("python")
setup(
    packages=[*packages, "skystack.resources.config"],
    package_dir={"": "python", "skystack.resources.config": "config"},
    package_data={
        "": ["*.yaml", "*.yml", "*.json", "py.typed"],
        "skystack.resources.config": ["*.yaml", "**/*.yaml", "**/*.yml", "**/README.md"],
    },
    include_package_data=False,
)
