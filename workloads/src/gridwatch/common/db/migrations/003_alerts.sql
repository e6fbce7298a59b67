-- Alert lifecycle (active -> acknowledged -> cleared), its event history and the notification outbox.
CREATE TABLE IF NOT EXISTS gw_alerts (
    id              bigserial PRIMARY KEY,
    site            text        NOT NULL,
    fingerprint     text        NOT NULL,
    rule            text        NOT NULL,
    sensor_id       text,
    machine         text,
    severity        text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state           text        NOT NULL CHECK (state IN ('active', 'acknowledged', 'cleared')),
    message         text        NOT NULL,
    value           double precision,
    count           integer     NOT NULL DEFAULT 1,
    first_seen      timestamptz NOT NULL,
    last_seen       timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by text,
    cleared_at      timestamptz,
    cleared_by      text,
    resolved_since  timestamptz,          -- condition false since then; auto-clear after the hold time
    labels          jsonb       NOT NULL DEFAULT '{}'
);
-- At most one open alert per fingerprint: this is what deduplicates.
CREATE UNIQUE INDEX IF NOT EXISTS gw_alerts_open ON gw_alerts (site, fingerprint) WHERE state <> 'cleared';
CREATE INDEX IF NOT EXISTS gw_alerts_recent ON gw_alerts (site, last_seen DESC, id DESC);
CREATE INDEX IF NOT EXISTS gw_alerts_cleared ON gw_alerts (site, fingerprint, cleared_at DESC) WHERE state = 'cleared';

CREATE TABLE IF NOT EXISTS gw_alert_events (
    id        bigserial PRIMARY KEY,
    alert_id  bigint      NOT NULL REFERENCES gw_alerts (id) ON DELETE CASCADE,
    site      text        NOT NULL,
    event     text        NOT NULL,   -- fired, reopened, refired, escalated, acknowledged, cleared
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text        NOT NULL,   -- 'engine' or who acted through the API
    severity  text        NOT NULL,
    state     text        NOT NULL,
    message   text        NOT NULL,
    value     double precision,
    count     integer     NOT NULL,
    routed    boolean     NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS gw_alert_events_alert ON gw_alert_events (alert_id, id);
CREATE INDEX IF NOT EXISTS gw_alert_events_unrouted ON gw_alert_events (site, id) WHERE NOT routed;

-- Durable notification outbox: one row per (event, route), delivered at least once with retries.
CREATE TABLE IF NOT EXISTS gw_alert_outbox (
    id              bigserial PRIMARY KEY,
    site            text        NOT NULL,
    event_id        bigint REFERENCES gw_alert_events (id) ON DELETE CASCADE,
    route           text        NOT NULL,
    idempotency_key text        NOT NULL UNIQUE,
    payload         jsonb       NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    delivered_at    timestamptz,
    failed_at       timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS gw_alert_outbox_due ON gw_alert_outbox (site, next_attempt_at, id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
