"""Benchmark readers, the benchmarks' own metrics, and reports."""
