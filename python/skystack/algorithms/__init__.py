# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure numerical components on primitives (no butler, no pipeline code)."""
