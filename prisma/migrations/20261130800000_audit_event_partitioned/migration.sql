-- audit_event range-partitioned by occurred_at (issue 14 §1). A year of trail at fleet rates is
-- billions of rows: per-period partitions keep each index a period deep, and let retention drop
-- a whole expired period in a statement instead of deleting its rows one by one.
--
-- The existing table is copied into the new one in this transaction with every id kept (the
-- sequence is reused), so seals, which hash ids and values, still verify. Rows land in a
-- partition per month from the oldest event's month to this one; later ones are created ahead of
-- time by the service (audit_event_prepare_partitions), and a DEFAULT partition catches any event
-- whose period has no partition yet, so nothing is lost if that job has not run.

ALTER SEQUENCE "audit_event_id_seq" OWNED BY NONE;
ALTER TABLE "audit_event" RENAME TO "audit_event_unpartitioned";

-- The key must include the partition key; ids stay unique because only the sequence makes them.
CREATE TABLE "audit_event" (
    "id" BIGINT NOT NULL DEFAULT nextval('audit_event_id_seq'),
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "action" VARCHAR(64) NOT NULL,
    "outcome" VARCHAR(16) NOT NULL,
    "reason" VARCHAR(200),
    "actor_type" VARCHAR(16) NOT NULL,
    "actor_id" VARCHAR(128),
    "terminal_number" VARCHAR(10),
    "scope" JSONB,
    "request_id" VARCHAR(64) NOT NULL,
    "client_ip" VARCHAR(64),
    "user_agent" VARCHAR(512),
    "gateway_result" VARCHAR(16),
    "gateway_tran_id" VARCHAR(64),
    "latency_ms" INTEGER,
    "session_fingerprint" CHAR(64),
    "details" JSONB
) PARTITION BY RANGE ("occurred_at");

-- The row-level UPDATE refusal is cloned onto every partition, present and future, by Postgres.
CREATE TRIGGER "audit_event_no_update_p" BEFORE UPDATE ON "audit_event"
    FOR EACH ROW EXECUTE FUNCTION "audit_event_reject_change"();
CREATE TRIGGER "audit_event_no_truncate_p" BEFORE TRUNCATE ON "audit_event"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_event_reject_change"();
CREATE TRIGGER "audit_event_delete_only_purged_p" AFTER DELETE ON "audit_event"
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION "audit_event_check_purge"();

-- Statement-level triggers fire for the table a statement names, so a TRUNCATE or DELETE aimed at
-- a partition itself would pass the parent's: every partition gets its own. Partitions are owned
-- by the migrating role and granted to nobody, so the service reaches them only through the parent.
CREATE FUNCTION "audit_event_protect_partition"(part REGCLASS) RETURNS VOID
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER "audit_event_no_truncate" BEFORE TRUNCATE ON %s
        FOR EACH STATEMENT EXECUTE FUNCTION public."audit_event_reject_change"()', part);
    EXECUTE format('CREATE TRIGGER "audit_event_delete_only_purged" AFTER DELETE ON %s
        REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION public."audit_event_check_purge"()', part);
    EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', part);
END;
$$;

-- [from, to) of each range partition of audit_event (the DEFAULT partition has none).
CREATE FUNCTION "audit_event_partition_ranges"()
RETURNS TABLE (part REGCLASS, range_from TIMESTAMPTZ, range_to TIMESTAMPTZ)
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    SELECT c.oid::regclass, m[1]::timestamptz, m[2]::timestamptz
      FROM pg_inherits i
      JOIN pg_class c ON c.oid = i.inhrelid
      CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), $r$FROM \('([^']+)'\) TO \('([^']+)'\)$r$) AS m
     WHERE i.inhparent = 'public.audit_event'::regclass AND m IS NOT NULL
$$;

-- Creates the partitions of every period from `since` (default: now, or the oldest event waiting
-- in the DEFAULT partition) to `ahead` periods after now, skipping periods a partition already
-- overlaps. Rows of those periods already in the DEFAULT partition are moved into their new
-- partition (ids and values unchanged): the DEFAULT partition is detached, the partitions
-- created, its rows re-inserted through the parent and the old DEFAULT dropped; no DELETE, so the
-- append-only triggers are never bypassed. Idempotent, and serialised across instances by a
-- transaction-level advisory lock. SECURITY DEFINER: the service role needs no CREATE privilege.
CREATE FUNCTION "audit_event_prepare_partitions"(period TEXT, ahead INTEGER, since TIMESTAMPTZ DEFAULT NULL)
RETURNS JSONB LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    step INTERVAL;
    s TIMESTAMPTZ;
    e TIMESTAMPTZ;
    stop TIMESTAMPTZ;
    waiting TIMESTAMPTZ;
    todo TIMESTAMPTZ[] := '{}';
    created TEXT[] := '{}';
    moved BIGINT := 0;
    name TEXT;
    i INTEGER;
BEGIN
    IF period IS NULL OR period NOT IN ('day', 'week', 'month') THEN
        RAISE EXCEPTION 'period must be day, week or month' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF ahead IS NULL OR ahead < 0 OR ahead > 400 THEN
        RAISE EXCEPTION 'ahead must be between 0 and 400' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pg_advisory_xact_lock(7271904112);
    step := ('1 ' || period)::INTERVAL;
    SELECT min("occurred_at") INTO waiting FROM "audit_event_default";
    s := date_trunc(period, least(coalesce(since, CURRENT_TIMESTAMP), coalesce(waiting, CURRENT_TIMESTAMP), CURRENT_TIMESTAMP), 'UTC');
    stop := date_trunc(period, CURRENT_TIMESTAMP, 'UTC') + ahead * step;
    WHILE s <= stop LOOP
        e := s + step;
        IF NOT EXISTS (SELECT 1 FROM audit_event_partition_ranges() r WHERE r.range_from < e AND r.range_to > s) THEN
            todo := todo || s;
        END IF;
        s := e;
    END LOOP;
    IF cardinality(todo) = 0 THEN
        RETURN jsonb_build_object('created', '[]'::jsonb, 'moved', 0);
    END IF;

    IF EXISTS (SELECT 1 FROM "audit_event_default" d, unnest(todo) AS t(f)
                WHERE d."occurred_at" >= t.f AND d."occurred_at" < t.f + step) THEN
        ALTER TABLE "audit_event" DETACH PARTITION "audit_event_default";
        ALTER TABLE "audit_event_default" RENAME TO "audit_event_default_moving";
        CREATE TABLE public."audit_event_default" PARTITION OF public."audit_event" DEFAULT;
        PERFORM audit_event_protect_partition('public.audit_event_default'::regclass);
    END IF;
    FOR i IN 1 .. cardinality(todo) LOOP
        name := 'audit_event_' || to_char(todo[i] AT TIME ZONE 'UTC', 'YYYYMMDD');
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public."audit_event" FOR VALUES FROM (%L) TO (%L)',
                       name, todo[i], todo[i] + step);
        PERFORM audit_event_protect_partition(format('public.%I', name)::regclass);
        created := created || name;
    END LOOP;
    IF to_regclass('public.audit_event_default_moving') IS NOT NULL THEN
        INSERT INTO "audit_event" SELECT * FROM "audit_event_default_moving";
        GET DIAGNOSTICS moved = ROW_COUNT;
        DROP TABLE "audit_event_default_moving";
    END IF;
    RETURN jsonb_build_object('created', to_jsonb(created), 'moved', moved);
END;
$$;

CREATE TABLE "audit_event_default" PARTITION OF "audit_event" DEFAULT;
SELECT audit_event_protect_partition('public.audit_event_default'::regclass);
SELECT audit_event_prepare_partitions('month', 2, (SELECT min("occurred_at") FROM "audit_event_unpartitioned"));

-- Indexes on the parent: one per partition, built after the copy below would be faster for huge
-- tables, but the copy runs once; the parent's definitions are what later partitions inherit.
ALTER TABLE "audit_event" ADD CONSTRAINT "audit_event_pkey_p" PRIMARY KEY ("id", "occurred_at");
CREATE INDEX "audit_event_occurred_at_id_idx_p" ON "audit_event"("occurred_at", "id");
CREATE INDEX "audit_event_request_id_idx_p" ON "audit_event"("request_id");
CREATE INDEX "audit_event_actor_id_occurred_at_id_idx_p" ON "audit_event"("actor_id", "occurred_at", "id");
CREATE INDEX "audit_event_terminal_number_occurred_at_id_idx_p" ON "audit_event"("terminal_number", "occurred_at", "id");
CREATE INDEX "audit_event_gateway_result_occurred_at_id_idx_p" ON "audit_event"("gateway_result", "occurred_at", "id")
    WHERE "gateway_result" IS NOT NULL;
CREATE INDEX "audit_event_action_occurred_at_id_idx_p" ON "audit_event"("action", "occurred_at", "id");
CREATE INDEX "audit_event_session_fingerprint_idx_p" ON "audit_event"("session_fingerprint");

INSERT INTO "audit_event" SELECT "id", "occurred_at", "action", "outcome", "reason", "actor_type", "actor_id",
    "terminal_number", "scope", "request_id", "client_ip", "user_agent", "gateway_result", "gateway_tran_id",
    "latency_ms", "session_fingerprint", "details"
  FROM "audit_event_unpartitioned" ORDER BY "id";
-- DROP fires no trigger; the old table's own (and its indexes) go with it.
DROP TABLE "audit_event_unpartitioned";
ALTER SEQUENCE "audit_event_id_seq" OWNED BY "audit_event"."id";

ALTER TABLE "audit_event" RENAME CONSTRAINT "audit_event_pkey_p" TO "audit_event_pkey";
ALTER INDEX "audit_event_occurred_at_id_idx_p" RENAME TO "audit_event_occurred_at_id_idx";
ALTER INDEX "audit_event_request_id_idx_p" RENAME TO "audit_event_request_id_idx";
ALTER INDEX "audit_event_actor_id_occurred_at_id_idx_p" RENAME TO "audit_event_actor_id_occurred_at_id_idx";
ALTER INDEX "audit_event_terminal_number_occurred_at_id_idx_p" RENAME TO "audit_event_terminal_number_occurred_at_id_idx";
ALTER INDEX "audit_event_gateway_result_occurred_at_id_idx_p" RENAME TO "audit_event_gateway_result_occurred_at_id_idx";
ALTER INDEX "audit_event_action_occurred_at_id_idx_p" RENAME TO "audit_event_action_occurred_at_id_idx";
ALTER INDEX "audit_event_session_fingerprint_idx_p" RENAME TO "audit_event_session_fingerprint_idx";
ALTER TRIGGER "audit_event_no_update_p" ON "audit_event" RENAME TO "audit_event_no_update";
ALTER TRIGGER "audit_event_no_truncate_p" ON "audit_event" RENAME TO "audit_event_no_truncate";
ALTER TRIGGER "audit_event_delete_only_purged_p" ON "audit_event" RENAME TO "audit_event_delete_only_purged";

-- Retention, partition-aware. Whole partitions first: when a partition's period ended before the
-- cutoff and every event in it is covered by seals that have all expired, the purge runs through
-- the seal that covers its last event and drops the partition (a catalogue change: well under a
-- second whatever its size). Events of those seals outside the dropped partitions (a seal that
-- straddles a period boundary, rows in the DEFAULT partition) are deleted row by row, as before,
-- which the audit_retention record of this transaction permits. With no partition to drop, the
-- purge removes at most max_seals seals' events row by row exactly as before.
-- eventsDeleted: the events of the purged seals, which are exactly the events removed (every event
-- up to the seal's last id is in a seal); counted from the seals, since counting a dropped
-- partition's rows would take as long as deleting them.
CREATE OR REPLACE FUNCTION "audit_purge_expired"(retention_days INTEGER, max_seals INTEGER, request_id VARCHAR)
RETURNS JSONB LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    cutoff TIMESTAMPTZ(3);
    through RECORD;
    oldest BIGINT;
    newest BIGINT;
    retained "audit_retention"%ROWTYPE;
    deleted BIGINT;
    result JSONB;
    p RECORD;
    part_max BIGINT;
    candidate RECORD;
    cover BIGINT := NULL;
    dropping REGCLASS[] := '{}';
    dropped TEXT[] := '{}';
BEGIN
    IF retention_days IS NULL OR retention_days < 1 THEN
        RAISE EXCEPTION 'retention_days must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_seals IS NULL OR max_seals < 1 THEN
        RAISE EXCEPTION 'max_seals must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := date_trunc('milliseconds', CURRENT_TIMESTAMP - make_interval(days => retention_days));
    SELECT min("seq"), max("seq") INTO oldest, newest FROM "audit_seal";
    -- The newest expired seal (never the newest seal: the next one chains to its hash).
    SELECT s."seq", s."last_event_id" INTO candidate
        FROM (SELECT "seq", "last_event_id", max("max_occurred_at") OVER (ORDER BY "seq") AS "running_max"
                FROM "audit_seal" WHERE "seq" < newest) s
        WHERE s."running_max" < cutoff ORDER BY s."seq" DESC LIMIT 1;
    IF FOUND THEN
        FOR p IN SELECT r.part, r.range_to FROM audit_event_partition_ranges() r
                  WHERE r.range_to <= cutoff ORDER BY r.range_from LOOP
            EXECUTE format('SELECT max("id") FROM %s', p.part) INTO part_max;
            EXIT WHEN part_max > candidate."last_event_id";
            dropping := dropping || p.part;
            cover := greatest(cover, part_max);
        END LOOP;
    END IF;
    IF cover IS NOT NULL THEN
        -- The first seal that covers the last event of the partitions being dropped.
        SELECT s."seq", s."hash", s."last_event_id",
               (SELECT sum("event_count") FROM "audit_seal" WHERE "seq" <= s."seq") AS "total"
            INTO through FROM "audit_seal" s
            WHERE s."last_event_id" >= cover AND s."seq" <= candidate."seq" ORDER BY s."seq" LIMIT 1;
    ELSIF array_length(dropping, 1) > 0 THEN
        -- Only empty partitions expired: drop them, with no seal to purge.
        FOR i IN 1 .. array_length(dropping, 1) LOOP
            EXECUTE format('DROP TABLE %s', dropping[i]);
        END LOOP;
        RETURN NULL;
    ELSE
        SELECT s."seq", s."hash", s."last_event_id", s."total"
            INTO through
            FROM (SELECT "seq", "hash", "last_event_id",
                         max("max_occurred_at") OVER (ORDER BY "seq") AS "running_max",
                         sum("event_count") OVER (ORDER BY "seq") AS "total"
                    FROM "audit_seal"
                   WHERE "seq" < oldest + max_seals AND "seq" < newest) s
            WHERE s."running_max" < cutoff
            ORDER BY s."seq" DESC LIMIT 1;
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    INSERT INTO "audit_retention" ("cutoff", "through_seal_seq", "through_seal_hash", "through_event_id",
                                   "seals_purged", "events_sealed")
        VALUES (cutoff, through."seq", through."hash", through."last_event_id",
                (through."seq" - oldest + 1)::INTEGER, through."total")
        RETURNING * INTO retained;
    FOR i IN 1 .. coalesce(array_length(dropping, 1), 0) LOOP
        dropped := dropped || dropping[i]::TEXT;
        EXECUTE format('DROP TABLE %s', dropping[i]);
    END LOOP;
    DELETE FROM "audit_event" WHERE "id" <= through."last_event_id";
    GET DIAGNOSTICS deleted = ROW_COUNT;
    DELETE FROM "audit_seal" WHERE "seq" <= through."seq";
    result := jsonb_build_object(
        'retentionId', retained."id"::TEXT,
        'cutoff', to_char(cutoff AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'retentionDays', retention_days,
        'throughSealSeq', through."seq"::TEXT,
        'throughSealHash', encode(through."hash", 'hex'),
        'throughEventId', through."last_event_id"::TEXT,
        'sealsPurged', retained."seals_purged",
        'eventsSealed', through."total"::TEXT,
        'eventsDeleted', through."total"::TEXT,
        'rowsDeleted', deleted::TEXT,
        'partitionsDropped', to_jsonb(dropped));
    INSERT INTO "audit_event" ("occurred_at", "action", "outcome", "actor_type", "actor_id", "request_id", "details")
        VALUES (CURRENT_TIMESTAMP, 'audit.retention.purged', 'success', 'system', 'retention',
                left(coalesce(request_id, 'retention'), 64), result);
    RETURN result;
END;
$$;
