"""Alert engine: rules over live state and processor alerts, lifecycle in PostgreSQL, notifications."""
