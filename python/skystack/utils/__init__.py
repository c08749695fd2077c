# SPDX-License-Identifier: GPL-3.0-or-later
"""Small utilities shared by every layer (the lowest layer: imports nothing from skystack)."""
