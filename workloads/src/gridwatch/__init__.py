"""Gridwatch data plane: simulator, processor, API and analytics workloads."""
