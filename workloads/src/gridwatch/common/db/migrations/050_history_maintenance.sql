-- Partition maintenance as the owner: the history writer connects as a role that may only write rollups
-- (gridwatch.common.db.roles), yet it creates tomorrow's partitions and applies retention. These two functions run
-- with the owner's rights (SECURITY DEFINER, a fixed search_path, below) and only do exactly that; only the roles
-- `gridwatch migrate` grants them to may call them. Partitions they create belong to the owner like the parent:
-- rows reach them only through gw_history_minute, whose privileges are the ones PostgreSQL checks.
CREATE OR REPLACE FUNCTION gw_history_ensure_days(days date[]) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    day     date;
    part    text;
    created text[] := '{}';
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'gw_history_minute' AND relkind = 'p') THEN
        RETURN created;  -- a TimescaleDB hypertable makes its own chunks
    END IF;
    PERFORM pg_advisory_xact_lock(1735878768);  -- 0x67776870, history/partitions.py's PARTITION_LOCK
    FOREACH day IN ARRAY days LOOP
        part := 'gw_history_minute_p' || to_char(day, 'YYYYMMDD');
        IF to_regclass(quote_ident(part)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF gw_history_minute FOR VALUES FROM (%L) TO (%L)',
                           part, day::text || ' 00:00:00+00', (day + 1)::text || ' 00:00:00+00');
            created := created || part;
        END IF;
    END LOOP;
    RETURN created;
END
$fn$;

CREATE OR REPLACE FUNCTION gw_history_drop_before(cutoff timestamptz) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    part    record;
    dropped text[] := '{}';
BEGIN
    DELETE FROM gw_history_type_minute WHERE minute < date_trunc('day', cutoff AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    IF EXISTS (SELECT 1 FROM pg_class WHERE relname = 'gw_history_minute' AND relkind = 'p') THEN
        PERFORM pg_advisory_xact_lock(1735878768);
        FOR part IN
            SELECT c.relname::text AS name FROM pg_inherits i
            JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
            WHERE p.relname = 'gw_history_minute' AND c.relname::text ~ '^gw_history_minute_p[0-9]{8}$'
            ORDER BY 1
        LOOP
            IF ((to_date(right(part.name, 8), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC') <= cutoff THEN
                EXECUTE format('DROP TABLE IF EXISTS %I', part.name);
                dropped := dropped || part.name;
            END IF;
        END LOOP;
    ELSIF to_regclass('gw_history_minute') IS NOT NULL THEN  -- a TimescaleDB hypertable
        EXECUTE 'SELECT coalesce(array_agg(c::text), ''{}'') FROM drop_chunks(''gw_history_minute'', older_than => $1) c'
            INTO dropped USING cutoff;
    END IF;
    RETURN dropped;
END
$fn$;

-- A definer's search path is fixed: the schema the migrations run in, then pg_temp last, so no caller's object can
-- stand in for the tables above.
DO $migration$
BEGIN
    EXECUTE format('ALTER FUNCTION gw_history_ensure_days(date[]) SET search_path = %I, pg_temp', current_schema());
    EXECUTE format('ALTER FUNCTION gw_history_drop_before(timestamptz) SET search_path = %I, pg_temp',
                   current_schema());
END
$migration$;

REVOKE ALL ON FUNCTION gw_history_ensure_days(date[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION gw_history_drop_before(timestamptz) FROM PUBLIC;
