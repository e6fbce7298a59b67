"""Gridwatch operator: reconciles EnergySite resources into per-site Helm releases."""
