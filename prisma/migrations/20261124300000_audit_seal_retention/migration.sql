-- Auditor API indexes, sealed digests of the audit trail, and retention that removes only whole
-- sealed periods. See README "Auditor API" for the design.

-- Newest-first keyset pages order by (occurred_at, id): the id makes the order total, so a cursor
-- never skips or repeats events sharing a millisecond. These replace the (x, occurred_at) indexes.
DROP INDEX "audit_event_occurred_at_idx";
DROP INDEX "audit_event_actor_id_occurred_at_idx";
DROP INDEX "audit_event_terminal_number_occurred_at_idx";
CREATE INDEX "audit_event_occurred_at_id_idx" ON "audit_event"("occurred_at", "id");
CREATE INDEX "audit_event_actor_id_occurred_at_id_idx" ON "audit_event"("actor_id", "occurred_at", "id");
CREATE INDEX "audit_event_terminal_number_occurred_at_id_idx" ON "audit_event"("terminal_number", "occurred_at", "id");
-- Rare values (a gateway code, a refusal) would otherwise mean walking the whole time index.
CREATE INDEX "audit_event_gateway_result_occurred_at_id_idx" ON "audit_event"("gateway_result", "occurred_at", "id")
    WHERE "gateway_result" IS NOT NULL;
CREATE INDEX "audit_event_action_occurred_at_id_idx" ON "audit_event"("action", "occurred_at", "id");

-- One seal covers every event with first_event_id <= id <= last_event_id (ids in `gaps` were never
-- committed when it was sealed) and chains to the previous seal through prev_hash.
CREATE TABLE "audit_seal" (
    "seq" BIGINT NOT NULL,
    "version" SMALLINT NOT NULL,
    "first_event_id" BIGINT NOT NULL,
    "last_event_id" BIGINT NOT NULL,
    "event_count" INTEGER NOT NULL,
    "gaps" JSONB NOT NULL,
    "min_occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "max_occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "event_locators" BYTEA NOT NULL,
    "events_digest" BYTEA NOT NULL,
    "prev_hash" BYTEA NOT NULL,
    "hash" BYTEA NOT NULL,
    "key_id" VARCHAR(16) NOT NULL,
    "signature" BYTEA NOT NULL,
    "sealed_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "audit_seal_pkey" PRIMARY KEY ("seq"),
    CONSTRAINT "audit_seal_seq_positive" CHECK ("seq" >= 1),
    CONSTRAINT "audit_seal_range" CHECK ("first_event_id" <= "last_event_id" AND "event_count" >= 1)
);
-- Two instances can never seal overlapping ranges: the second insert fails.
CREATE UNIQUE INDEX "audit_seal_first_event_id_key" ON "audit_seal"("first_event_id");
CREATE UNIQUE INDEX "audit_seal_last_event_id_key" ON "audit_seal"("last_event_id");

-- What retention removed: the last purged seal's hash keeps the chain verifiable from the first
-- remaining seal. txid ties the record to the one transaction allowed to delete those rows.
CREATE TABLE "audit_retention" (
    "id" BIGSERIAL NOT NULL,
    "purged_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "cutoff" TIMESTAMPTZ(3) NOT NULL,
    "through_seal_seq" BIGINT NOT NULL,
    "through_seal_hash" BYTEA NOT NULL,
    "through_event_id" BIGINT NOT NULL,
    "seals_purged" INTEGER NOT NULL,
    "events_sealed" BIGINT NOT NULL,
    "txid" xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT "audit_retention_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "audit_retention_through_seal_seq_key" ON "audit_retention"("through_seal_seq");

-- Deletion is allowed only for rows covered by a retention record written by the same transaction.
-- Statement-level with a transition table: one check per purge, not one lookup per deleted row.
DROP TRIGGER "audit_event_no_update_delete" ON "audit_event";
CREATE TRIGGER "audit_event_no_update" BEFORE UPDATE ON "audit_event"
    FOR EACH ROW EXECUTE FUNCTION "audit_event_reject_change"();

CREATE FUNCTION "audit_event_check_purge"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    allowed BIGINT;
BEGIN
    SELECT max("through_event_id") INTO allowed FROM "audit_retention"
        WHERE "txid" = pg_current_xact_id_if_assigned();
    IF EXISTS (SELECT 1 FROM gone WHERE allowed IS NULL OR gone."id" > allowed) THEN
        RAISE EXCEPTION 'audit_event is append-only (DELETE refused outside a retention purge)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER "audit_event_delete_only_purged" AFTER DELETE ON "audit_event"
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION "audit_event_check_purge"();

CREATE FUNCTION "audit_seal_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "audit_seal_no_update" BEFORE UPDATE ON "audit_seal"
    FOR EACH ROW EXECUTE FUNCTION "audit_seal_reject_change"();
CREATE TRIGGER "audit_seal_no_truncate" BEFORE TRUNCATE ON "audit_seal"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_seal_reject_change"();
CREATE TRIGGER "audit_retention_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_retention"
    FOR EACH ROW EXECUTE FUNCTION "audit_seal_reject_change"();
CREATE TRIGGER "audit_retention_no_truncate" BEFORE TRUNCATE ON "audit_retention"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_seal_reject_change"();

CREATE FUNCTION "audit_seal_check_purge"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    allowed BIGINT;
BEGIN
    SELECT max("through_seal_seq") INTO allowed FROM "audit_retention"
        WHERE "txid" = pg_current_xact_id_if_assigned();
    IF EXISTS (SELECT 1 FROM gone WHERE allowed IS NULL OR gone."seq" > allowed) THEN
        RAISE EXCEPTION 'audit_seal is append-only (DELETE refused outside a retention purge)'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER "audit_seal_delete_only_purged" AFTER DELETE ON "audit_seal"
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION "audit_seal_check_purge"();

-- A retention record is the licence to delete, so it is checked whatever wrote it: it must name a
-- real seal (not the newest, whose hash the next seal needs), every seal up to it must be older
-- than the cutoff, and the cutoff at least a day old.
CREATE FUNCTION "audit_retention_check"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    through "audit_seal"%ROWTYPE;
    newest BIGINT;
BEGIN
    NEW."txid" := pg_current_xact_id();
    NEW."purged_at" := CURRENT_TIMESTAMP;
    IF NEW."cutoff" > CURRENT_TIMESTAMP - INTERVAL '1 day' THEN
        RAISE EXCEPTION 'retention cutoff % is less than a day old', NEW."cutoff" USING ERRCODE = 'check_violation';
    END IF;
    SELECT * INTO through FROM "audit_seal" WHERE "seq" = NEW."through_seal_seq";
    SELECT max("seq") INTO newest FROM "audit_seal";
    IF through."seq" IS NULL OR through."hash" <> NEW."through_seal_hash"
            OR through."last_event_id" <> NEW."through_event_id" OR through."seq" >= newest THEN
        RAISE EXCEPTION 'retention must name an existing seal other than the newest' USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM "audit_seal" WHERE "seq" <= NEW."through_seal_seq" AND "max_occurred_at" >= NEW."cutoff") THEN
        RAISE EXCEPTION 'retention may only remove seals wholly older than the cutoff' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER "audit_retention_check" BEFORE INSERT ON "audit_retention"
    FOR EACH ROW EXECUTE FUNCTION "audit_retention_check"();

-- The one way to expire audit history: removes the longest run of oldest seals (at most
-- max_seals) whose events are all older than retention_days, with their events, and records it
-- both in audit_retention and as an audit.retention.purged event, in one transaction. SECURITY
-- DEFINER so that a deployment can grant the service role EXECUTE on this and no DELETE at all.
CREATE FUNCTION "audit_purge_expired"(retention_days INTEGER, max_seals INTEGER, request_id VARCHAR)
RETURNS JSONB LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    cutoff TIMESTAMPTZ(3);
    through RECORD;
    oldest BIGINT;
    retained "audit_retention"%ROWTYPE;
    deleted BIGINT;
    result JSONB;
BEGIN
    IF retention_days IS NULL OR retention_days < 1 THEN
        RAISE EXCEPTION 'retention_days must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_seals IS NULL OR max_seals < 1 THEN
        RAISE EXCEPTION 'max_seals must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    cutoff := date_trunc('milliseconds', CURRENT_TIMESTAMP - make_interval(days => retention_days));
    SELECT min("seq") INTO oldest FROM "audit_seal";
    SELECT s."seq", s."hash", s."last_event_id", s."running_max", s."total"
        INTO through
        FROM (SELECT "seq", "hash", "last_event_id",
                     max("max_occurred_at") OVER (ORDER BY "seq") AS "running_max",
                     sum("event_count") OVER (ORDER BY "seq") AS "total"
                FROM "audit_seal"
               WHERE "seq" < oldest + max_seals AND "seq" < (SELECT max("seq") FROM "audit_seal")) s
        WHERE s."running_max" < cutoff
        ORDER BY s."seq" DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    INSERT INTO "audit_retention" ("cutoff", "through_seal_seq", "through_seal_hash", "through_event_id",
                                   "seals_purged", "events_sealed")
        VALUES (cutoff, through."seq", through."hash", through."last_event_id",
                (through."seq" - oldest + 1)::INTEGER, through."total")
        RETURNING * INTO retained;
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
        'eventsDeleted', deleted::TEXT);
    INSERT INTO "audit_event" ("occurred_at", "action", "outcome", "actor_type", "actor_id", "request_id", "details")
        VALUES (CURRENT_TIMESTAMP, 'audit.retention.purged', 'success', 'system', 'retention',
                left(coalesce(request_id, 'retention'), 64), result);
    RETURN result;
END;
$$;
