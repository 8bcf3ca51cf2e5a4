"""Scoring predictions with each benchmark's own protocol, and the reports."""
