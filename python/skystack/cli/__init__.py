# SPDX-License-Identifier: GPL-3.0-or-later
"""Command-line interfaces: ``butler``, ``pipetask`` and ``skystack``.

Modules here import heavy libraries (numpy, astropy, the butler) only inside commands, so that
``--help`` stays fast.
"""
