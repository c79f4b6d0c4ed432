-- Seals an auditor can verify without the broker's secret (issue 11 §3). New seals (version 2) are
-- signed with an asymmetric key (Ed25519 or P-256) named by its RFC 7638 thumbprint; every public
-- key ever used stays published here, so old seals verify after a rotation. Seals written before
-- (version 1) keep their HMAC signature and are marked 'HS256': the broker still verifies them with
-- its HMAC key, and the first signed seal after them signs their chain's last hash (docs/audit.md).

-- A thumbprint is 43 characters; the HMAC key ids were 16.
ALTER TABLE "audit_seal" ALTER COLUMN "key_id" TYPE VARCHAR(64);
-- Existing rows are the HMAC seals; every later insert names its algorithm.
ALTER TABLE "audit_seal" ADD COLUMN "alg" VARCHAR(16) NOT NULL DEFAULT 'HS256';
ALTER TABLE "audit_seal" ALTER COLUMN "alg" DROP DEFAULT;
ALTER TABLE "audit_seal" ADD CONSTRAINT "audit_seal_alg_version" CHECK (
    ("version" = 1 AND "alg" = 'HS256') OR ("version" >= 2 AND "alg" IN ('EdDSA', 'ES256')));

-- Public keys only. valid_from: when the broker started signing with it; valid_to: when the next
-- key replaced it (NULL: the current key).
CREATE TABLE "audit_signing_key" (
    "kid" VARCHAR(64) NOT NULL,
    "alg" VARCHAR(16) NOT NULL,
    "public_jwk" JSONB NOT NULL,
    "valid_from" TIMESTAMPTZ(3) NOT NULL,
    "valid_to" TIMESTAMPTZ(3),
    CONSTRAINT "audit_signing_key_pkey" PRIMARY KEY ("kid"),
    CONSTRAINT "audit_signing_key_alg" CHECK ("alg" IN ('EdDSA', 'ES256')),
    CONSTRAINT "audit_signing_key_period" CHECK ("valid_to" IS NULL OR "valid_to" >= "valid_from")
);

-- A published key is never withdrawn nor changed: the only update ends its validity, once.
CREATE FUNCTION "audit_signing_key_check_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD."valid_to" IS NULL AND NEW."valid_to" IS NOT NULL
            AND NEW."kid" = OLD."kid" AND NEW."alg" = OLD."alg" AND NEW."public_jwk" = OLD."public_jwk"
            AND NEW."valid_from" = OLD."valid_from" THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_signing_key is append-only (% refused; only ending a current key''s validity is allowed)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "audit_signing_key_no_change" BEFORE UPDATE OR DELETE ON "audit_signing_key"
    FOR EACH ROW EXECUTE FUNCTION "audit_signing_key_check_change"();
CREATE TRIGGER "audit_signing_key_no_truncate" BEFORE TRUNCATE ON "audit_signing_key"
    FOR EACH STATEMENT EXECUTE FUNCTION "audit_seal_reject_change"();
