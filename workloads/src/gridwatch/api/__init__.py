"""REST and WebSocket API over the live state in Redis."""
