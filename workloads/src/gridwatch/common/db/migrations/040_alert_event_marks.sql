-- The newest processor alert applied per fingerprint (its reading's timestamp): a processor that crashed after
-- publishing an alert and before committing re-scores the batch and publishes the same alert again as a new Kafka
-- record; the engine drops it by this mark instead of re-firing the open alert (count + 1).
CREATE TABLE IF NOT EXISTS gw_alert_event_marks (
    site        text             NOT NULL,
    fingerprint text             NOT NULL,
    event_ts    double precision NOT NULL,
    PRIMARY KEY (site, fingerprint)
);
