-- A public key belongs to one device only (PCI PIN 20-1): unique on the members RFC 7638 hashes
-- into the key's thumbprint (kty, crv, x and, for EC keys, y), whatever else the stored JWK holds.
-- Enrollment checked this before; the index makes it hold under concurrent enrollments too.
-- Keys enrolled twice before this migration stop it, naming the devices: an operator decides
-- which device keeps the key (revoke or rotate the other) and runs the migration again.
DO $$
DECLARE
    dup text;
BEGIN
    SELECT string_agg(devices, '; ') INTO dup FROM (
        SELECT string_agg(DISTINCT device_id::text, ', ') AS devices
        FROM device_key
        GROUP BY public_jwk->>'kty', public_jwk->>'crv', public_jwk->>'x', COALESCE(public_jwk->>'y', '')
        HAVING count(*) > 1
    ) d;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION 'device_key: public keys enrolled more than once (devices %); keep each key on one device, then migrate again', dup;
    END IF;
END;
$$;
CREATE UNIQUE INDEX "device_key_public_key_key" ON "device_key" (
    (public_jwk->>'kty'), (public_jwk->>'crv'), (public_jwk->>'x'), (COALESCE(public_jwk->>'y', ''))
);
