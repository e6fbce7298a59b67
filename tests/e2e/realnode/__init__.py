"""End-to-end tests on a real node: real containers from images built here."""
