-- Device registry of the ingest: what gateways declared about their sensors, and what each ingest replica saw of
-- each gateway (the API sums replicas for GET /api/v1/devices).
CREATE TABLE IF NOT EXISTS gw_ingest_sensors (
    site        text        NOT NULL,
    sensor_id   text        NOT NULL,
    gateway     text        NOT NULL,
    type        text        NOT NULL,
    unit        text        NOT NULL,
    machine     text        NOT NULL DEFAULT '',
    declared_at timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site, sensor_id)
);
CREATE INDEX IF NOT EXISTS gw_ingest_sensors_gateway ON gw_ingest_sensors (site, gateway);

CREATE TABLE IF NOT EXISTS gw_ingest_gateways (
    site               text             NOT NULL,
    gateway            text             NOT NULL,
    replica            text             NOT NULL,
    transport          text             NOT NULL,
    first_seen         timestamptz      NOT NULL,
    last_seen          timestamptz      NOT NULL,
    readings           bigint           NOT NULL DEFAULT 0,
    rejected           bigint           NOT NULL DEFAULT 0,
    rejected_by_reason jsonb            NOT NULL DEFAULT '{}',
    last_rejection     text,
    sensors            integer          NOT NULL DEFAULT 0,
    rate               double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (site, gateway, replica)
);
