"""Optimization suggestions from live state, history and a time-of-use tariff."""
