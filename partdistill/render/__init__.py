"""Rendering shapes into views with a pixel-to-point (or pixel-to-face) map: cameras, z-buffers, renderers."""
