"""Unit tests of the storage optimizer."""
