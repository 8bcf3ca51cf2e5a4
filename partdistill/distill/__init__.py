"""The distillation stages: rendering, 2D teachers, knowledge units, and the 3D student."""
