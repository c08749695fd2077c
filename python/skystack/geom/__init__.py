# SPDX-License-Identifier: GPL-3.0-or-later
"""Geometry primitives: pixel points and boxes, angles, sky positions and regions, WCS."""

from .box import Box2D, Box2I, Extent2I, Point2D, Point2I

__all__ = ["Box2D", "Box2I", "Extent2I", "Point2D", "Point2I"]
