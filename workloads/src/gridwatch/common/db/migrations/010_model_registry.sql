-- The model registry: every model the trainer fits (the forecaster's selection, the detector's Isolation Forest),
-- its training window, features, backtest metrics and artifact (plain arrays + JSON, see common/artifact.py),
-- and its state. At most one promoted model per (site, kind): the one processors and forecasters run.
CREATE TABLE IF NOT EXISTS gw_models (
    site          text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('forecaster', 'detector')),
    version       integer     NOT NULL CHECK (version >= 1),
    state         text        NOT NULL CHECK (state IN ('candidate', 'promoted', 'retired')),
    algorithm     text        NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL,
    features      jsonb       NOT NULL DEFAULT '[]',
    metrics       jsonb       NOT NULL DEFAULT '{}',
    artifact      bytea       NOT NULL,
    checksum      text        NOT NULL,  -- SHA-256 (hex) of artifact, checked before every load
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    promoted_at   timestamptz,           -- last time it was promoted (rollback returns to the latest before)
    retired_at    timestamptz,
    PRIMARY KEY (site, kind, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS gw_models_promoted ON gw_models (site, kind) WHERE state = 'promoted';

-- Why each model changed state (or was kept a candidate): the audit trail behind `gridwatch models list`.
CREATE TABLE IF NOT EXISTS gw_model_events (
    id       bigserial   PRIMARY KEY,
    site     text        NOT NULL,
    kind     text        NOT NULL,
    version  integer     NOT NULL,
    event    text        NOT NULL CHECK (event IN ('registered', 'promoted', 'retired', 'kept', 'rolled_back')),
    at       timestamptz NOT NULL DEFAULT now(),
    actor    text        NOT NULL,
    reason   text        NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS gw_model_events_model ON gw_model_events (site, kind, version, id);
