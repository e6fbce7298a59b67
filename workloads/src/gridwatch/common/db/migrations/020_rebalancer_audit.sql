-- Every command the rebalancer decided, sent or not (dry run), with what was asked, what was sent and why:
-- the audit trail of automatic control. Written by `gridwatch rebalancer`; one row per command.
CREATE TABLE IF NOT EXISTS gw_rebalancer_audit (
    command_id   text             PRIMARY KEY,
    site         text             NOT NULL,
    ts           timestamptz      NOT NULL,
    plan_id      text             NOT NULL,
    target       text             NOT NULL,
    kind         text             NOT NULL,
    requested_kw double precision NOT NULL,
    setpoint_kw  double precision NOT NULL,
    clamps       text[]           NOT NULL DEFAULT '{}',
    reason       text             NOT NULL,
    dry_run      boolean          NOT NULL,
    sent         boolean          NOT NULL
);
CREATE INDEX IF NOT EXISTS gw_rebalancer_audit_site_ts ON gw_rebalancer_audit (site, ts);

COMMENT ON TABLE gw_rebalancer_audit IS 'Commands of `gridwatch rebalancer`: requested and sent setpoints, clamps, reason';
