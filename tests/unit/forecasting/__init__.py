"""Unit tests of gridwatch.forecasting."""
