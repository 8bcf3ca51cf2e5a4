"""partdistill: 3D part segmentation without 3D labels, by distilling 2D vision-language teachers."""

__version__ = "0.1.0"
