"""Distillation: the 3D students, their losses and training loop, their data sources, and TTA's hand-over."""
