-- One row per (site, sensor, minute): mergeable partial aggregates of that minute's readings.
-- A TimescaleDB hypertable when the extension is installed and preloaded, otherwise a table
-- range-partitioned by day whose partitions the history writer creates ahead and drops after retention.
DO $migration$
DECLARE
    columns text := $cols$
        site         text             NOT NULL,
        sensor_id    text             NOT NULL,
        sensor_type  text             NOT NULL,
        minute       timestamptz      NOT NULL,
        readings     integer          NOT NULL,
        anomalies    integer          NOT NULL,
        value_sum    double precision NOT NULL,
        value_min    double precision NOT NULL,
        value_max    double precision NOT NULL,
        first_ts     double precision NOT NULL,
        first_value  double precision NOT NULL,
        last_ts      double precision NOT NULL,
        last_value   double precision NOT NULL,
        inner_kws    double precision NOT NULL DEFAULT 0,
        edge_kws     double precision NOT NULL DEFAULT 0,
        fp_sum       double precision NOT NULL DEFAULT 0,
        fp_max       double precision NOT NULL DEFAULT 0,
        score_max    double precision NOT NULL DEFAULT 0,
        PRIMARY KEY (site, sensor_id, minute)
    $cols$;
    timescale boolean := EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
        AND coalesce(current_setting('shared_preload_libraries', true), '') LIKE '%timescaledb%';
BEGIN
    IF timescale THEN
        CREATE EXTENSION IF NOT EXISTS timescaledb;
        EXECUTE format('CREATE TABLE IF NOT EXISTS gw_history_minute (%s)', columns);
        PERFORM create_hypertable('gw_history_minute', 'minute',
                                  chunk_time_interval => interval '1 day', if_not_exists => true);
    ELSE
        EXECUTE format('CREATE TABLE IF NOT EXISTS gw_history_minute (%s) PARTITION BY RANGE (minute)', columns);
    END IF;
END
$migration$;

CREATE INDEX IF NOT EXISTS gw_history_minute_type ON gw_history_minute (site, sensor_type, minute);
CREATE INDEX IF NOT EXISTS gw_history_minute_site ON gw_history_minute (site, minute);

COMMENT ON TABLE gw_history_minute IS 'Per-sensor one-minute rollups written by `gridwatch history`';
COMMENT ON COLUMN gw_history_minute.inner_kws IS
    'kW*s between consecutive readings inside this row (power sensors): sum of v_i * min(t_i - t_(i-1), max gap)';
COMMENT ON COLUMN gw_history_minute.edge_kws IS
    'kW*s of the first reading of this row since the last reading of the previous row of the sensor';
