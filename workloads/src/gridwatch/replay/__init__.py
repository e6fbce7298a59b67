"""Replay of recorded CSV data into a running site through the HTTP ingest endpoint."""
