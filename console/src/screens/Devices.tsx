import { createColumnHelper, getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Button, Form, Link } from 'react-aria-components';
import { api, post, patch, qs, type Device, type DevicePage, type EventPage, type Problem } from '../api';
import { useAuth } from '../auth';
import { navigate, useLocation } from '../router';
import { Confirm, Empty, Field, Loading, ProblemAlert, SelectField, StatusBadge, fmtTime, problemOf, useApi } from '../ui';
import { DataTable } from './DataTable';
import { EventTable } from './EventTable';

const col = createColumnHelper<Device>();
const PAGE = 25;
const FILTER_KEYS = ['status', 'terminalNumber', 'name'] as const;
type Filters = Record<(typeof FILTER_KEYS)[number], string>;

function filtersFrom(params: URLSearchParams): Filters {
  const f = {} as Filters;
  for (const k of FILTER_KEYS) f[k] = params.get(k) ?? '';
  return f;
}

/**
 * The fleet: server-side filters (status, terminal, name) in the URL, newest first, keyset pages
 * from the API ("Load more devices" appends the page after the last one shown).
 */
export function DevicesScreen() {
  const { params } = useLocation();
  const key = params.toString();
  const [form, setForm] = useState<Filters>(() => filtersFrom(params));
  const [devices, setDevices] = useState<Device[]>([]);
  const [total, setTotal] = useState(0);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<Problem | null>(null);
  const seq = useRef(0);
  useEffect(() => setForm(filtersFrom(new URLSearchParams(key))), [key]);

  const load = async (after: string | null) => {
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    try {
      const page = await api<DevicePage>(`/v1/admin/devices${qs({ ...filtersFrom(new URLSearchParams(key)), limit: PAGE, cursor: after })}`);
      if (mine !== seq.current) return;
      setDevices((prev) => (after ? [...prev, ...page.items] : page.items));
      setTotal(page.total);
      setCursor(page.nextCursor);
      setLoaded(true);
    } catch (err) {
      if (mine === seq.current) setError(problemOf(err));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  };
  useEffect(() => {
    setDevices([]);
    setCursor(null);
    setLoaded(false);
    void load(null);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  const columns = useMemo(
    () => [
      col.accessor('name', { header: 'Name', cell: (c) => <Link href={`/console/devices/${c.row.original.id}`}>{c.getValue()}</Link> }),
      col.accessor('status', { header: 'Status', cell: (c) => <StatusBadge status={c.getValue()} /> }),
      col.accessor('terminalNumbers', { header: 'Terminals', cell: (c) => c.getValue().join(', ') }),
      col.display({ id: 'key', header: 'Key id', cell: (c) => <code>{c.row.original.keys[0]?.id ?? '—'}</code> }),
      col.display({ id: 'alg', header: 'Algorithm', cell: (c) => c.row.original.keys[0]?.alg ?? '—' }),
      col.accessor('createdAt', { header: 'Enrolled at', cell: (c) => fmtTime(c.getValue()) }),
      col.accessor('lastSeenAt', { header: 'Last seen', cell: (c) => fmtTime(c.getValue()) }),
    ],
    [],
  );
  const table = useReactTable({ data: devices, columns, getCoreRowModel: getCoreRowModel(), getRowId: (r) => r.id });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/devices${qs(form)}`);
  };
  return (
    <>
      <h1>Devices</h1>
      <Form className="filters" onSubmit={submit} aria-label="Device filters">
        <SelectField
          label="Status"
          name="status"
          value={form.status}
          onChange={(v) => setForm((f) => ({ ...f, status: v }))}
          options={[
            ['', 'Any'],
            ['active', 'active'],
            ['disabled', 'disabled'],
            ['revoked', 'revoked'],
          ]}
        />
        <Field
          label="Terminal"
          name="terminalNumber"
          value={form.terminalNumber}
          onChange={(v) => setForm((f) => ({ ...f, terminalNumber: v }))}
          placeholder="10 digits"
        />
        <Field label="Name contains" name="name" value={form.name} onChange={(v) => setForm((f) => ({ ...f, name: v }))} />
        <div className="actions">
          <Button type="submit" className="button primary">
            Apply filters
          </Button>
        </div>
      </Form>
      {loaded && devices.length === 0 && !error && (
        <Empty>
          <p>No device matches.</p>
          <p>
            Enroll one on the <Link href="/console/enrollment">Enrollment</Link> screen, or clear the filters.
          </p>
        </Empty>
      )}
      {devices.length > 0 && <DataTable table={table} caption="Devices, newest first" testId="device-table" rowAttribute="data-device-id" />}
      <ProblemAlert problem={error} />
      {loading && <Loading what="devices" />}
      {devices.length > 0 && (
        <nav className="pager" aria-label="Device pages">
          <span role="status">
            Showing {devices.length} of {total} devices{cursor ? '' : ' (all of them)'}
          </span>
          {cursor && !loading && (
            <Button className="button" onPress={() => void load(cursor)}>
              Load more devices
            </Button>
          )}
        </nav>
      )}
    </>
  );
}

/** One device: policy, keys, history (auditors) and the admin actions. */
export function DeviceScreen({ id }: { id: string }) {
  const { session } = useAuth();
  const isAdmin = !!session?.roles.has('admin');
  const isAuditor = !!session?.roles.has('auditor');
  const { data: device, error, loading, setData } = useApi(() => api<Device>(`/v1/admin/devices/${encodeURIComponent(id)}`), [id]);
  const history = useApi(isAuditor ? () => api<EventPage>(`/v1/audit/events${qs({ deviceId: id, limit: 20 })}`) : null, [id, isAuditor]);
  const [actionError, setActionError] = useState<Problem | null>(null);
  const [notice, setNotice] = useState('');
  const [confirmRevoke, setConfirmRevoke] = useState(false);
  const [policyText, setPolicyText] = useState('');
  const [terminals, setTerminals] = useState('');
  const [newKey, setNewKey] = useState('');
  useEffect(() => {
    if (!device) return;
    setPolicyText(device.policy ? JSON.stringify(device.policy, null, 2) : '');
    setTerminals(device.terminalNumbers.join(', '));
  }, [device]);

  const act = async (label: string, run: () => Promise<Device>) => {
    setActionError(null);
    setNotice('');
    try {
      setData(await run());
      setNotice(label);
    } catch (err) {
      setActionError(problemOf(err));
    }
  };
  const saveSettings = (e: FormEvent) => {
    e.preventDefault();
    let policy: unknown = null;
    if (policyText.trim()) {
      try {
        policy = JSON.parse(policyText);
      } catch {
        setActionError({
          status: 400,
          title: 'The policy is not JSON',
          detail: 'Write it as {"allowUnscoped": false, "allowed": [{"command": "doDeal"}]}, or leave it empty for the terminal default.',
        });
        return;
      }
    }
    const terminalNumbers = terminals.split(/[\s,]+/).filter(Boolean);
    void act('Policy and bindings saved.', () => patch(`/v1/admin/devices/${id}`, { policy, terminalNumbers }));
  };
  const rotate = (e: FormEvent) => {
    e.preventDefault();
    let publicKey: unknown = newKey.trim();
    if (newKey.trim().startsWith('{')) {
      try {
        publicKey = JSON.parse(newKey);
      } catch {
        setActionError({ status: 400, title: 'The key is not JSON', detail: 'Paste a JWK object or an SPKI PEM.' });
        return;
      }
    }
    void act('Key rotated.', async () => (await post<{ device: Device }>(`/v1/admin/devices/${id}/keys`, { publicKey })).device);
  };

  return (
    <>
      <p>
        <Link href="/console/devices">← Devices</Link>
      </p>
      <h1>Device {device?.name ?? id}</h1>
      <ProblemAlert problem={error} />
      {loading && <Loading what="the device" />}
      {device && (
        <>
          <dl className="fields">
            <div>
              <dt>Id</dt>
              <dd>
                <code>{device.id}</code>
              </dd>
            </div>
            <div>
              <dt>Status</dt>
              <dd>
                <StatusBadge status={device.status} />
              </dd>
            </div>
            <div>
              <dt>Terminals</dt>
              <dd>{device.terminalNumbers.join(', ')}</dd>
            </div>
            <div>
              <dt>Enrolled at</dt>
              <dd>{fmtTime(device.createdAt)}</dd>
            </div>
            <div>
              <dt>Last seen</dt>
              <dd>{fmtTime(device.lastSeenAt)}</dd>
            </div>
            <div>
              <dt>Software version</dt>
              <dd>{device.softwareVersion ?? '—'}</dd>
            </div>
          </dl>
          {isAdmin && (
            <section aria-labelledby="actions-h">
              <h2 id="actions-h">Actions</h2>
              <div className="actions">
                {device.status === 'active' && (
                  <Button
                    className="button"
                    onPress={() => void act('Device disabled: its next session is refused.', () => post(`/v1/admin/devices/${id}/disable`))}
                  >
                    Disable
                  </Button>
                )}
                {device.status === 'disabled' && (
                  <Button className="button" onPress={() => void act('Device enabled.', () => post(`/v1/admin/devices/${id}/enable`))}>
                    Enable
                  </Button>
                )}
                {device.status !== 'revoked' && (
                  <Button className="button danger" onPress={() => setConfirmRevoke(true)}>
                    Revoke…
                  </Button>
                )}
              </div>
              {notice && (
                <p role="status" className="notice">
                  {notice}
                </p>
              )}
              <ProblemAlert problem={actionError} />
              <Confirm
                open={confirmRevoke}
                title="Revoke this device?"
                confirmLabel="Revoke device"
                onCancel={() => setConfirmRevoke(false)}
                onConfirm={() => {
                  setConfirmRevoke(false);
                  void act('Device revoked.', () => post(`/v1/admin/devices/${id}/revoke`));
                }}
              >
                <p>Revoking is permanent: {device.name} can never get a session again and must be enrolled anew.</p>
              </Confirm>
            </section>
          )}
          <section aria-labelledby="policy-h">
            <h2 id="policy-h">Policy and bindings</h2>
            {isAdmin ? (
              <Form className="stack" onSubmit={saveSettings} aria-label="Policy and bindings">
                <Field label="Policy (JSON; empty: the terminal's default policy)" name="policy" value={policyText} onChange={setPolicyText} multiline />
                <Field label="Bound terminals (comma-separated)" name="terminalNumbers" value={terminals} onChange={setTerminals} />
                <div className="actions">
                  <Button type="submit" className="button primary">
                    Save policy and bindings
                  </Button>
                </div>
              </Form>
            ) : (
              <pre className="raw">{device.policy ? JSON.stringify(device.policy, null, 2) : 'Default policy of the terminal'}</pre>
            )}
          </section>
          <section aria-labelledby="keys-h">
            <h2 id="keys-h">Keys</h2>
            <table className="table">
              <caption className="sr-only">Device keys, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Key id</th>
                  <th scope="col">Algorithm</th>
                  <th scope="col">Created</th>
                  <th scope="col">Expires</th>
                </tr>
              </thead>
              <tbody>
                {device.keys.map((k) => (
                  <tr key={k.id}>
                    <td>
                      <code>{k.id}</code>
                    </td>
                    <td>{k.alg}</td>
                    <td>{fmtTime(k.createdAt)}</td>
                    <td>{k.expiresAt ? fmtTime(k.expiresAt) : 'current'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {isAdmin && device.status !== 'revoked' && (
              <Form className="stack" onSubmit={rotate} aria-label="Rotate key">
                <Field label="New public key (JWK or SPKI PEM)" name="publicKey" value={newKey} onChange={setNewKey} multiline />
                <div className="actions">
                  <Button type="submit" className="button">
                    Rotate key
                  </Button>
                </div>
              </Form>
            )}
          </section>
          <section aria-labelledby="history-h">
            <h2 id="history-h">History</h2>
            {!isAuditor && <p className="hint">The device's audit events are for auditors; your roles do not include auditor.</p>}
            <ProblemAlert problem={history.error} />
            {history.data && history.data.events.length === 0 && (
              <Empty>
                <p>No audit event for this device yet.</p>
              </Empty>
            )}
            {history.data && history.data.events.length > 0 && <EventTable events={history.data.events} caption="The device's latest audit events" />}
          </section>
        </>
      )}
    </>
  );
}
