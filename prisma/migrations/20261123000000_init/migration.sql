-- Terminals, devices and their keys and bindings, the JWT replay cache, and the audit trail.

CREATE TABLE "terminal" (
    "id" UUID NOT NULL,
    "terminal_number" VARCHAR(10) NOT NULL,
    "label" VARCHAR(200) NOT NULL,
    "provider" VARCHAR(32) NOT NULL DEFAULT 'hyp',
    "endpoint_url" VARCHAR(2048) NOT NULL,
    "credential_ref" VARCHAR(512) NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "terminal_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "terminal_terminal_number_key" ON "terminal"("terminal_number");

CREATE TABLE "device" (
    "id" UUID NOT NULL,
    "name" VARCHAR(200) NOT NULL,
    "status" VARCHAR(16) NOT NULL DEFAULT 'active',
    "policy" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "device_pkey" PRIMARY KEY ("id")
);

CREATE TABLE "device_key" (
    "id" UUID NOT NULL,
    "device_id" UUID NOT NULL,
    "alg" VARCHAR(16) NOT NULL,
    "public_jwk" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3),
    CONSTRAINT "device_key_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "device_key_device_id_idx" ON "device_key"("device_id");
ALTER TABLE "device_key" ADD CONSTRAINT "device_key_device_id_fkey"
    FOREIGN KEY ("device_id") REFERENCES "device"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE TABLE "device_terminal" (
    "device_id" UUID NOT NULL,
    "terminal_id" UUID NOT NULL,
    CONSTRAINT "device_terminal_pkey" PRIMARY KEY ("device_id","terminal_id")
);
CREATE INDEX "device_terminal_terminal_id_idx" ON "device_terminal"("terminal_id");
ALTER TABLE "device_terminal" ADD CONSTRAINT "device_terminal_device_id_fkey"
    FOREIGN KEY ("device_id") REFERENCES "device"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "device_terminal" ADD CONSTRAINT "device_terminal_terminal_id_fkey"
    FOREIGN KEY ("terminal_id") REFERENCES "terminal"("id") ON DELETE CASCADE ON UPDATE CASCADE;

CREATE TABLE "device_jti" (
    "device_id" UUID NOT NULL,
    "jti" VARCHAR(128) NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "device_jti_pkey" PRIMARY KEY ("device_id","jti")
);
CREATE INDEX "device_jti_expires_at_idx" ON "device_jti"("expires_at");

CREATE TABLE "audit_event" (
    "id" BIGSERIAL NOT NULL,
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
    "details" JSONB,
    CONSTRAINT "audit_event_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_event_occurred_at_idx" ON "audit_event"("occurred_at");
CREATE INDEX "audit_event_request_id_idx" ON "audit_event"("request_id");
CREATE INDEX "audit_event_actor_id_occurred_at_idx" ON "audit_event"("actor_id", "occurred_at");
CREATE INDEX "audit_event_terminal_number_occurred_at_idx" ON "audit_event"("terminal_number", "occurred_at");
CREATE INDEX "audit_event_session_fingerprint_idx" ON "audit_event"("session_fingerprint");

-- History is append-only in the database itself: not even a bug in the service can rewrite it.
CREATE FUNCTION "audit_event_reject_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "audit_event_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_event"
    FOR EACH ROW EXECUTE FUNCTION "audit_event_reject_change"();
CREATE TRIGGER "audit_event_no_truncate" BEFORE TRUNCATE ON "audit_event"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_event_reject_change"();
