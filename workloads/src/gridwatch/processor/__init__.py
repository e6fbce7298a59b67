"""Stream processor: batch-scores readings, keeps latest state in Redis, emits enriched data and alerts."""
