"""Operations tools for SREs: `gridwatch check|config|dlq` and the `kubectl gridwatch` plugin."""
