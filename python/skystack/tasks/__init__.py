# SPDX-License-Identifier: GPL-3.0-or-later
"""Tasks that compose the algorithms (the pipe_tasks, ip_isr, ip_diffim, jointcal roles)."""
