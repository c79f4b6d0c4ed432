-- Idempotency-Key records for POST /v1/sessions when no Redis is configured. The stored
-- response holds a live sessionId, so it is kept encrypted (AES-256-GCM) and expires with it.
CREATE TABLE "idempotency_record" (
    "device_id" UUID NOT NULL,
    "idempotency_key" VARCHAR(255) NOT NULL,
    "request_hash" CHAR(64) NOT NULL,
    "response" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "idempotency_record_pkey" PRIMARY KEY ("device_id", "idempotency_key")
);
CREATE INDEX "idempotency_record_expires_at_idx" ON "idempotency_record"("expires_at");
