import { useEffect, useRef, useState, type FormEvent } from 'react';
import { Button, Form } from 'react-aria-components';
import { api, apiFetch, post, qs, type AuditEvent, type EventPage, type Problem } from '../api';
import { navigate, paramsObject, useLocation } from '../router';
import { Empty, Field, Loading, ProblemAlert, SelectField, problemOf } from '../ui';
import { EventTable } from './EventTable';

export const FILTER_KEYS = ['from', 'to', 'deviceId', 'terminalNumber', 'action', 'outcome', 'gatewayResult', 'requestId'] as const;
type Filters = Record<(typeof FILTER_KEYS)[number], string>;

function filtersFrom(params: URLSearchParams): Filters {
  const f = {} as Filters;
  for (const k of FILTER_KEYS) f[k] = params.get(k) ?? '';
  return f;
}

const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The audit explorer: filters in the URL (a view can be shared), newest first, keyset pages
 * ("Load older events", or scrolling to the end), a drawer per event, export of the current
 * filter, and a sessionId lookup that sends the id in a POST body only.
 */
export function AuditScreen() {
  const { params } = useLocation();
  const key = params.toString();
  const applied = filtersFrom(params);
  const [form, setForm] = useState<Filters>(applied);
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<Problem | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [exportError, setExportError] = useState<Problem | null>(null);
  const [exporting, setExporting] = useState<string | null>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  const seq = useRef(0);

  useEffect(() => setForm(filtersFrom(new URLSearchParams(key))), [key]);

  const load = async (after: string | null) => {
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    try {
      const page = await api<EventPage>(`/v1/audit/events${qs({ ...paramsObject(new URLSearchParams(key)), limit: 50, cursor: after })}`);
      if (mine !== seq.current) return;
      setEvents((prev) => (after ? [...prev, ...page.events] : page.events));
      setCursor(page.nextCursor);
      setLoaded(true);
    } catch (err) {
      if (mine === seq.current) setError(problemOf(err));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  };

  useEffect(() => {
    setEvents([]);
    setCursor(null);
    setLoaded(false);
    void load(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  // Infinite scroll: the next page when the end of the table comes into view.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !cursor) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && !loading) void load(cursor);
    });
    io.observe(el);
    return () => io.disconnect();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cursor, loading]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/audit${qs(form)}`);
  };
  const set = (k: keyof Filters) => (v: string) => setForm((f) => ({ ...f, [k]: v }));

  const exportAs = async (format: 'csv' | 'ndjson') => {
    setExportError(null);
    setExporting(format);
    try {
      const res = await apiFetch(`/v1/audit/events/export${qs({ ...paramsObject(new URLSearchParams(key)), format })}`);
      const blob = await res.blob();
      const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `audit-events.${format}`;
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setExportError(problemOf(err));
    } finally {
      setExporting(null);
    }
  };

  return (
    <>
      <h1>Audit</h1>
      <section aria-labelledby="filters-h">
        <h2 id="filters-h">Filters</h2>
        <Form className="filters" onSubmit={apply} aria-label="Audit filters">
          <Field label="From (UTC, ISO-8601)" name="from" value={form.from} onChange={set('from')} placeholder="2026-11-23T00:00:00Z" />
          <Field label="To (UTC, ISO-8601)" name="to" value={form.to} onChange={set('to')} placeholder="2026-11-24T00:00:00Z" />
          <Field label="Device id" name="deviceId" value={form.deviceId} onChange={set('deviceId')} />
          <Field label="Terminal" name="terminalNumber" value={form.terminalNumber} onChange={set('terminalNumber')} placeholder="10 digits" />
          <Field label="Action" name="action" value={form.action} onChange={set('action')} placeholder="session.issued" />
          <SelectField
            label="Outcome"
            name="outcome"
            value={form.outcome}
            onChange={set('outcome')}
            options={[
              ['', 'Any'],
              ['issued', 'issued'],
              ['failed', 'failed'],
              ['denied', 'denied'],
              ['success', 'success'],
              ['pending', 'pending'],
            ]}
          />
          <Field label="Gateway result" name="gatewayResult" value={form.gatewayResult} onChange={set('gatewayResult')} placeholder="457" />
          <Field label="Request id" name="requestId" value={form.requestId} onChange={set('requestId')} />
          <div className="actions">
            <Button type="submit" className="button primary">
              Apply filters
            </Button>
            <Button className="button" onPress={() => setForm((f) => ({ ...f, from: hoursAgo(24), to: '' }))}>
              Last 24 hours
            </Button>
            <Button className="button" onPress={() => navigate('/audit')}>
              Clear
            </Button>
          </div>
        </Form>
      </section>
      <section aria-labelledby="events-h">
        <div className="section-head">
          <h2 id="events-h">Events, newest first</h2>
          <div className="actions">
            <Button className="button" onPress={() => void exportAs('csv')} isDisabled={exporting !== null}>
              {exporting === 'csv' ? 'Exporting…' : 'Export CSV'}
            </Button>
            <Button className="button" onPress={() => void exportAs('ndjson')} isDisabled={exporting !== null}>
              {exporting === 'ndjson' ? 'Exporting…' : 'Export NDJSON'}
            </Button>
          </div>
        </div>
        <ProblemAlert problem={exportError} />
        <ProblemAlert problem={error} />
        {loaded && events.length === 0 && !error && (
          <Empty>
            <p>No event matches these filters.</p>
            <p>Widen the time range, clear a filter, or check the terminal number and device id.</p>
          </Empty>
        )}
        {events.length > 0 && <EventTable events={events} caption="Audit events matching the filters, newest first" />}
        {loading && <Loading what="events" />}
        <div ref={sentinel} />
        {cursor && !loading && (
          <Button className="button" onPress={() => void load(cursor)}>
            Load older events
          </Button>
        )}
        {loaded && !cursor && events.length > 0 && <p className="hint">End of the trail for these filters ({events.length} events).</p>}
      </section>
      <SessionLookup />
    </>
  );
}

/** Lookup by sessionId: pasted, checked for shape here, sent in a POST body (never in a URL). */
function SessionLookup() {
  const [sessionId, setSessionId] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [result, setResult] = useState<{ events: AuditEvent[]; issuance: AuditEvent | null } | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setResult(null);
    const id = sessionId.trim();
    if (!/^[\x21-\x7e]{1,512}$/.test(id)) {
      setProblem({
        status: 400,
        title: 'Not a sessionId',
        detail: 'A sessionId is 1 to 512 visible characters without spaces, as the gateway returned it. Paste it again.',
      });
      return;
    }
    setProblem(null);
    setBusy(true);
    try {
      setResult(await post('/v1/audit/sessions/lookup', { sessionId: id }));
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="lookup-h">
      <h2 id="lookup-h">Find a session</h2>
      <Form className="filters" onSubmit={submit} aria-label="Find a session by sessionId">
        <Field
          label="sessionId"
          name="sessionId"
          value={sessionId}
          onChange={setSessionId}
          type="password"
          description="Sent in the request body only; never kept in the address bar or history."
        />
        <div className="actions">
          <Button type="submit" className="button primary" isDisabled={busy}>
            Find session
          </Button>
        </div>
      </Form>
      <ProblemAlert problem={problem} />
      {result && (
        <>
          <p role="status">
            {result.issuance
              ? `Issued at ${result.issuance.occurredAt} on terminal ${result.issuance.terminalNumber ?? '—'}.`
              : 'Found, but no issuance event.'}
          </p>
          <EventTable events={result.events} caption="Events of the request that issued the session" />
        </>
      )}
    </section>
  );
}
