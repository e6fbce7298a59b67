-- Kafka positions stored in the same transaction as the rows they produced: a replayed record is
-- recognised by its offset and skipped, so consumers that write PostgreSQL are effectively exactly-once.
CREATE TABLE IF NOT EXISTS gw_kafka_offsets (
    consumer    text        NOT NULL,  -- 'history', 'alerts'
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,  -- first offset not yet applied
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, partition)
);
