"""Gridwatch test suite."""
