-- Events spread evenly, in id order, over the partitions of audit_event, for
-- bench/audit-pruning-explain.sql. On a scratch database with every migration applied:
--   createdb -h 127.0.0.1 -U postgres scratch_pruning
--   for f in prisma/migrations/*/migration.sql; do psql -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d scratch_pruning -f $f; done
--   psql -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d scratch_pruning -f bench/audit-pruning-seed.sql
-- Defaults: 24 monthly partitions, 3,000,000 events; -v period=day -v periods=365 -v events=1000000 for daily ones.
\if :{?period}
\else
\set period month
\endif
\if :{?periods}
\else
\set periods 24
\endif
\if :{?events}
\else
\set events 3000000
\endif
SELECT date_trunc(:'period', now()) - (:periods - 1) * ('1 ' || :'period')::interval AS seed_start \gset
SELECT audit_event_prepare_partitions(:'period', 2, :'seed_start');
INSERT INTO audit_event (occurred_at, action, outcome, actor_type, actor_id, terminal_number, scope, request_id,
    client_ip, user_agent, gateway_result, latency_ms, details)
SELECT :'seed_start'::timestamptz + (i / :events::numeric) * (now() - :'seed_start'::timestamptz),
       'session.issued', 'issued', 'device', 'seed-device-' || (i % 1000), lpad((i % 200)::text, 10, '0'),
       '{"command":"doDeal","validation":"AutoComm"}'::jsonb, 'seed-' || md5(i::text)::varchar(20),
       '10.0.0.' || (i % 250), 'seed/1.0', '000', i % 500, jsonb_build_object('n', i)
  FROM generate_series(0, :events - 1) AS i;
VACUUM ANALYZE audit_event;
