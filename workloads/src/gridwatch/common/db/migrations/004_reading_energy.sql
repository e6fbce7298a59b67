-- Energy becomes a plain sum of the processor's per-reading energy (EnrichedBatch.energy_kwh), so merging
-- partial rows no longer depends on the order they arrive in. Existing rows keep their integrated energy.
ALTER TABLE gw_history_minute ADD COLUMN IF NOT EXISTS energy_kwh double precision NOT NULL DEFAULT 0;
UPDATE gw_history_minute SET energy_kwh = (inner_kws + edge_kws) / 3600.0 WHERE inner_kws <> 0 OR edge_kws <> 0;
ALTER TABLE gw_history_minute DROP COLUMN IF EXISTS inner_kws, DROP COLUMN IF EXISTS edge_kws;

COMMENT ON COLUMN gw_history_minute.energy_kwh IS
    'kWh of the minute (power sensors): sum over its readings of v_i * min(t_i - t_(i-1), 300 s) / 3600, '
    'integrated by the processor in time order';
