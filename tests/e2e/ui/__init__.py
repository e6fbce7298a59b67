"""Browser tests of the web UI against the live local stack."""
