-- Admin API: terminal default scope policy, devices that inherit it, permanent revocation.

-- Devices without a policy of their own (device.policy NULL) use the policy of the terminal the
-- session is asked for. The default grants nothing.
ALTER TABLE "terminal" ADD COLUMN "default_policy" JSONB NOT NULL DEFAULT '{"allowUnscoped": false, "allowed": []}';
ALTER TABLE "device" ALTER COLUMN "policy" DROP NOT NULL;

ALTER TABLE "device" ADD CONSTRAINT "device_status_check" CHECK ("status" IN ('active', 'disabled', 'revoked'));

-- Revocation is permanent, whatever writes to the table (the service also answers 409).
CREATE FUNCTION "device_revocation_is_permanent"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD."status" = 'revoked' AND NEW."status" <> 'revoked' THEN
        RAISE EXCEPTION 'device % is revoked; revocation is permanent', OLD."id" USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER "device_revocation_is_permanent" BEFORE UPDATE OF "status" ON "device"
    FOR EACH ROW EXECUTE FUNCTION "device_revocation_is_permanent"();

-- Admin lists, newest first.
CREATE INDEX "device_created_at_id_idx" ON "device"("created_at", "id");
CREATE INDEX "device_key_device_id_created_at_idx" ON "device_key"("device_id", "created_at");
