# SPDX-License-Identifier: GPL-3.0-or-later
"""Camera description files (YAML) shipped with skystack."""
