-- Device liveness (issue 15 §2): when each device last authenticated, from which address, and the
-- software version its JWT reported (`sv`). Written by each broker instance in one batched UPDATE
-- per flush interval (DEVICE_LIVENESS_FLUSH_MS), never per request; NULL: never seen.
ALTER TABLE device
    ADD COLUMN last_seen_at timestamptz(3),
    ADD COLUMN last_ip varchar(64),
    ADD COLUMN software_version varchar(64);

-- GET /v1/admin/devices?notSeenSince=...: last_seen_at IS NULL OR last_seen_at < $1.
CREATE INDEX device_last_seen_at_idx ON device (last_seen_at);
