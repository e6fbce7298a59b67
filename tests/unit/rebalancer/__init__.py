"""Unit tests of the grid rebalancer."""
