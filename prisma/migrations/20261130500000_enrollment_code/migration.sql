-- One-time enrollment codes (issue 15): an admin hands a store a short code; a device redeems it
-- with its own public key and gets the code's terminals and policy. Only the SHA-256 of the
-- normalised code is kept, so a database read never yields a usable code.
CREATE TABLE "enrollment_code" (
    "id" UUID NOT NULL,
    "code_hash" CHAR(64) NOT NULL,
    "name" VARCHAR(200),
    "terminal_numbers" VARCHAR(10)[] NOT NULL,
    -- NULL: each enrolled device takes the default policy of the terminal a session is for.
    "policy" JSONB,
    "max_uses" INTEGER NOT NULL,
    "uses" INTEGER NOT NULL DEFAULT 0,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_by" VARCHAR(128) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "revoked_by" VARCHAR(128),
    CONSTRAINT "enrollment_code_pkey" PRIMARY KEY ("id"),
    -- The redemption's conditional UPDATE keeps to this too; the database refuses a use beyond the last.
    CONSTRAINT "enrollment_code_uses_check" CHECK ("uses" >= 0 AND "uses" <= "max_uses" AND "max_uses" BETWEEN 1 AND 1000)
);
CREATE UNIQUE INDEX "enrollment_code_code_hash_key" ON "enrollment_code"("code_hash");
CREATE INDEX "enrollment_code_created_at_id_idx" ON "enrollment_code"("created_at", "id");
