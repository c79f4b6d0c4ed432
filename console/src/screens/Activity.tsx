import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { Button, Form } from 'react-aria-components';
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api, qs, type StatsReport } from '../api';
import { navigate, paramsObject, useLocation } from '../router';
import { Empty, Field, Loading, ProblemAlert, SelectField, useApi } from '../ui';

const OUTCOMES = ['issued', 'failed', 'denied'] as const;
/** Outcomes in their usual colours; other splits take the palette in turn. */
const OUTCOME_COLOURS: Record<string, string> = { issued: '#1f6f43', failed: '#b3261e', denied: '#8a5a00' };
const PALETTE = ['#1f6f43', '#b3261e', '#8a5a00', '#1d4f91', '#6b3fa0', '#00707a', '#7a4a00', '#444'];
const isoNoMs = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Issued / failed / denied per hour or day from /v1/audit/stats; a bar opens the explorer filtered to it. */
export function ActivityScreen() {
  const { params } = useLocation();
  const key = params.toString();
  const q = paramsObject(params);
  const defaults = useMemo(() => ({ from: isoNoMs(new Date(Date.now() - 24 * 3_600_000)), to: '' }), []);
  const view = { from: q.from ?? defaults.from, to: q.to ?? '', bucket: q.bucket ?? 'hour', split: q.split ?? 'outcome' };
  const [form, setForm] = useState(view);
  useEffect(() => setForm({ from: q.from ?? defaults.from, to: q.to ?? '', bucket: q.bucket ?? 'hour', split: q.split ?? 'outcome' }), [key]); // eslint-disable-line react-hooks/exhaustive-deps
  const { data, error, loading } = useApi(
    () =>
      api<StatsReport>(
        `/v1/audit/stats${qs({ from: view.from, to: view.to, bucket: view.bucket, groupBy: view.split === 'terminal' ? 'terminal' : 'overall' })}`,
      ),
    [key],
  );

  const seriesOf = (r: StatsReport['buckets'][number]) =>
    view.split === 'terminal' ? (r.terminalNumber ?? 'none') : view.split === 'gatewayResult' ? (r.gatewayResult ?? 'none') : r.outcome;
  const { rows, series } = useMemo(() => {
    const byStart = new Map<string, Record<string, number | string>>();
    const names = new Set<string>();
    for (const r of data?.buckets ?? []) {
      if (!(OUTCOMES as readonly string[]).includes(r.outcome)) continue;
      const s = seriesOf(r);
      names.add(s);
      const row = byStart.get(r.start) ?? { start: r.start };
      row[s] = ((row[s] as number | undefined) ?? 0) + r.count;
      byStart.set(r.start, row);
    }
    return { rows: [...byStart.values()].sort((a, b) => String(a.start).localeCompare(String(b.start))), series: [...names].sort() };
  }, [data, view.split]); // eslint-disable-line react-hooks/exhaustive-deps

  const open = (start: string, s: string) => {
    const end = new Date(new Date(start).getTime() + (view.bucket === 'day' ? 86_400_000 : 3_600_000));
    const filter =
      view.split === 'terminal'
        ? { terminalNumber: s === 'none' ? '' : s }
        : view.split === 'gatewayResult'
          ? { gatewayResult: s === 'none' ? '' : s }
          : { outcome: s };
    navigate(`/audit${qs({ from: start, to: isoNoMs(end), ...filter })}`);
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/activity${qs(form)}`);
  };
  const label = (s: string) => (view.split === 'terminal' ? `terminal ${s}` : view.split === 'gatewayResult' ? `result ${s}` : s);

  return (
    <>
      <h1>Activity</h1>
      <Form className="filters" onSubmit={submit} aria-label="Activity range">
        <Field label="From (UTC, ISO-8601)" name="from" value={form.from} onChange={(v) => setForm((f) => ({ ...f, from: v }))} />
        <Field label="To (UTC, ISO-8601)" name="to" value={form.to} onChange={(v) => setForm((f) => ({ ...f, to: v }))} placeholder="now" />
        <SelectField
          label="Per"
          name="bucket"
          value={form.bucket}
          onChange={(v) => setForm((f) => ({ ...f, bucket: v }))}
          options={[
            ['hour', 'hour'],
            ['day', 'day'],
          ]}
        />
        <SelectField
          label="Split by"
          name="split"
          value={form.split}
          onChange={(v) => setForm((f) => ({ ...f, split: v }))}
          options={[
            ['outcome', 'outcome'],
            ['terminal', 'terminal'],
            ['gatewayResult', 'gateway result'],
          ]}
        />
        <div className="actions">
          <Button type="submit" className="button primary">
            Show
          </Button>
        </div>
      </Form>
      <ProblemAlert problem={error} />
      {loading && <Loading what="activity" />}
      {data && rows.length === 0 && (
        <Empty>
          <p>No session issued, failed or denied in this range.</p>
          <p>Widen the range (per day covers up to a year).</p>
        </Empty>
      )}
      {rows.length > 0 && (
        <>
          <p className="hint">Select a bar to open the audit explorer filtered to it.</p>
          <figure className="chart" aria-label="Sessions issued, failed and denied per bucket">
            <ResponsiveContainer width="100%" height={320}>
              <BarChart data={rows} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="start" tickFormatter={(v: string) => (view.bucket === 'day' ? v.slice(0, 10) : v.slice(11, 16))} />
                <YAxis allowDecimals={false} />
                <Tooltip />
                <Legend />
                {series.map((s, i) => (
                  <Bar
                    key={s}
                    dataKey={s}
                    name={label(s)}
                    stackId="a"
                    fill={view.split === 'outcome' ? (OUTCOME_COLOURS[s] ?? PALETTE[i % PALETTE.length]) : PALETTE[i % PALETTE.length]}
                    cursor="pointer"
                    onClick={(d: { payload?: { start?: string } }) => d.payload?.start && open(d.payload.start, s)}
                  />
                ))}
              </BarChart>
            </ResponsiveContainer>
          </figure>
          <details>
            <summary>Show the numbers as a table</summary>
            <table className="table">
              <caption className="sr-only">Counts per bucket</caption>
              <thead>
                <tr>
                  <th scope="col">Start (UTC)</th>
                  {series.map((s) => (
                    <th key={s} scope="col">
                      {label(s)}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={String(r.start)}>
                    <td>{String(r.start)}</td>
                    {series.map((s) => (
                      <td key={s}>
                        {r[s] ? (
                          <Button
                            className="link-button"
                            onPress={() => open(String(r.start), s)}
                            aria-label={`${r[s]} ${label(s)} from ${String(r.start)}: open in the explorer`}
                          >
                            {String(r[s])}
                          </Button>
                        ) : (
                          0
                        )}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </>
  );
}
