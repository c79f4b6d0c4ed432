-- The id-range reads of sealing and verify, before and after their occurred_at bound (issue 14),
-- on the table bench/audit-pruning-seed.sql fills: EXPLAIN (ANALYZE, BUFFERS) of each, as
-- SealRepository sends it (same select list, values inlined as the unnamed statement's custom
-- plan sees them). Each query runs twice and the second run is the one to read (warm cache).
--   psql -h 127.0.0.1 -U postgres -d scratch_pruning -f bench/audit-pruning-explain.sql
\set cols 'e.id::text, to_char(e.occurred_at AT TIME ZONE ''UTC'', ''YYYY-MM-DD"T"HH24:MI:SS.MS"Z"''), e.action, e.outcome, e.reason, e.actor_type, e.actor_id, e.terminal_number, e.scope::text, e.request_id, e.client_ip, e.user_agent, e.gateway_result, e.gateway_tran_id, e.latency_ms::text, e.session_fingerprint, e.details::text'
SELECT count(*) AS partitions FROM pg_inherits WHERE inhparent = 'audit_event'::regclass;

-- Sealer: the newest seal ends 10,000 events before the newest event and began 10,000 before
-- that; the next read is the 10,000 events after it (AUDIT_SEAL_MAX_EVENTS), bounded by the
-- newest seal's earliest event minus the sealer's two-hour margin.
SELECT max(id) AS watermark, max(id) - 10000 AS after FROM audit_event \gset
SELECT to_char((min(occurred_at) - interval '2 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS since
  FROM audit_event WHERE id > :after - 10000 AND id <= :after \gset
\echo sealer read, before (id range only)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) SELECT :cols FROM audit_event e WHERE e.id > :after AND e.id <= :watermark ORDER BY e.id LIMIT 10000;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) SELECT :cols FROM audit_event e WHERE e.id > :after AND e.id <= :watermark ORDER BY e.id LIMIT 10000;
\echo sealer read, after (occurred_at >= since)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) SELECT :cols FROM audit_event e WHERE e.id > :after AND e.id <= :watermark AND e.occurred_at >= :'since' ORDER BY e.id LIMIT 10000;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) SELECT :cols FROM audit_event e WHERE e.id > :after AND e.id <= :watermark AND e.occurred_at >= :'since' ORDER BY e.id LIMIT 10000;

-- Verify: one seal of 10,000 events half-way through the history; its span is its events' own
-- min and max occurred_at, as the seal records them.
SELECT min(id) + count(*) / 2 AS first, min(id) + count(*) / 2 + 9999 AS last FROM audit_event \gset
SELECT to_char(min(occurred_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS span_from,
       to_char(max(occurred_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS span_to
  FROM audit_event WHERE id >= :first AND id <= :last \gset
\echo verify read of one seal, before (id range only)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) SELECT :cols FROM audit_event e WHERE e.id >= :first AND e.id <= :last ORDER BY e.id;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) SELECT :cols FROM audit_event e WHERE e.id >= :first AND e.id <= :last ORDER BY e.id;
\echo verify read of one seal, after (within the span of the seal)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) SELECT :cols FROM audit_event e WHERE e.id >= :first AND e.id <= :last AND e.occurred_at >= :'span_from' AND e.occurred_at <= :'span_to' ORDER BY e.id;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) SELECT :cols FROM audit_event e WHERE e.id >= :first AND e.id <= :last AND e.occurred_at >= :'span_from' AND e.occurred_at <= :'span_to' ORDER BY e.id;

-- Verify's count of the events after the newest seal (unchanged: an exact count of every id above it).
\echo verify count of unsealed events
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) SELECT count(*)::int FROM audit_event WHERE id > :after;
