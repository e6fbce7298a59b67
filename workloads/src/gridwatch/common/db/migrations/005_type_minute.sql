-- Per-(site, sensor type, minute) totals, kept by the history writer in the same transaction as the per-sensor
-- rows, so type- and site-level series and summaries read a few rows per minute instead of one per sensor.
-- Every column merges by a sum or min/max, like the per-sensor rows. `sensors` counts the per-sensor rows of
-- the minute (sensors of the type that reported in it). Small (types x minutes), so neither partitioned nor a
-- hypertable; retention deletes its old rows.
CREATE TABLE IF NOT EXISTS gw_history_type_minute (
    site        text             NOT NULL,
    sensor_type text             NOT NULL,
    minute      timestamptz      NOT NULL,
    sensors     integer          NOT NULL,
    readings    bigint           NOT NULL,
    anomalies   bigint           NOT NULL,
    value_sum   double precision NOT NULL,
    value_min   double precision NOT NULL,
    value_max   double precision NOT NULL,
    energy_kwh  double precision NOT NULL,
    PRIMARY KEY (site, sensor_type, minute)
);
CREATE INDEX IF NOT EXISTS gw_history_type_minute_site ON gw_history_type_minute (site, minute);

INSERT INTO gw_history_type_minute AS t
    (site, sensor_type, minute, sensors, readings, anomalies, value_sum, value_min, value_max, energy_kwh)
SELECT site, sensor_type, minute, count(*), sum(readings), sum(anomalies), sum(value_sum), min(value_min),
       max(value_max), sum(energy_kwh)
FROM gw_history_minute
GROUP BY site, sensor_type, minute
ON CONFLICT (site, sensor_type, minute) DO NOTHING;

COMMENT ON TABLE gw_history_type_minute IS 'Per-type one-minute totals of gw_history_minute, kept by `gridwatch history`';
