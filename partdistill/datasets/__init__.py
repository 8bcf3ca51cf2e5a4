"""Benchmark readers (ShapeNetPart, PartNetE, labelled collections) and `pd import`."""
