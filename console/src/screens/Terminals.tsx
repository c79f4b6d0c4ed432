import { useState, type FormEvent } from 'react';
import { Button, Form } from 'react-aria-components';
import { api, patch, post, type Page, type Problem, type Terminal } from '../api';
import { useAuth } from '../auth';
import { Empty, Field, Loading, ProblemAlert, StatusBadge, problemOf, useApi } from '../ui';

interface TerminalForm {
  terminalNumber: string;
  label: string;
  provider: string;
  endpointUrl: string;
  credentialRef: string;
  defaultPolicy: string;
}
const blank: TerminalForm = {
  terminalNumber: '',
  label: '',
  provider: 'hyp',
  endpointUrl: '',
  credentialRef: '',
  defaultPolicy: '{"allowUnscoped": false, "allowed": []}',
};

/** Terminals: provider, endpoint, credential reference (a path, never a secret), default policy. */
export function TerminalsScreen() {
  const { session } = useAuth();
  const isAdmin = !!session?.roles.has('admin');
  const { data, error, loading, reload } = useApi(() => api<Page<Terminal>>('/v1/admin/terminals?limit=100'), []);
  const [editing, setEditing] = useState<Terminal | 'new' | null>(null);
  const [form, setForm] = useState<TerminalForm>(blank);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [notice, setNotice] = useState('');

  const open = (t: Terminal | 'new') => {
    setEditing(t);
    setProblem(null);
    setForm(
      t === 'new'
        ? blank
        : {
            terminalNumber: t.terminalNumber,
            label: t.label,
            provider: t.provider,
            endpointUrl: t.endpointUrl,
            credentialRef: t.credentialRef,
            defaultPolicy: JSON.stringify(t.defaultPolicy),
          },
    );
  };
  const save = async (e: FormEvent) => {
    e.preventDefault();
    setProblem(null);
    let defaultPolicy: unknown;
    try {
      defaultPolicy = JSON.parse(form.defaultPolicy || '{"allowUnscoped": false, "allowed": []}');
    } catch {
      setProblem({ status: 400, title: 'The default policy is not JSON', detail: 'Write it as {"allowUnscoped": false, "allowed": [{"command": "doDeal"}]}.' });
      return;
    }
    try {
      if (editing === 'new') {
        await post('/v1/admin/terminals', { ...form, defaultPolicy });
        setNotice(`Terminal ${form.terminalNumber} created.`);
      } else if (editing) {
        const { terminalNumber: _n, ...rest } = form;
        await patch(`/v1/admin/terminals/${editing.terminalNumber}`, { ...rest, defaultPolicy });
        setNotice(`Terminal ${editing.terminalNumber} saved.`);
      }
      setEditing(null);
      await reload();
    } catch (err) {
      setProblem(problemOf(err));
    }
  };
  const toggle = async (t: Terminal) => {
    setProblem(null);
    try {
      await post(`/v1/admin/terminals/${t.terminalNumber}/${t.enabled ? 'disable' : 'enable'}`);
      setNotice(`Terminal ${t.terminalNumber} ${t.enabled ? 'disabled' : 'enabled'}.`);
      await reload();
    } catch (err) {
      setProblem(problemOf(err));
    }
  };
  const set = (k: keyof TerminalForm) => (v: string) => setForm((f) => ({ ...f, [k]: v }));

  return (
    <>
      <h1>Terminals</h1>
      {isAdmin && editing === null && (
        <div className="actions">
          <Button className="button primary" onPress={() => open('new')}>
            New terminal
          </Button>
        </div>
      )}
      {notice && (
        <p role="status" className="notice">
          {notice}
        </p>
      )}
      <ProblemAlert problem={editing === null ? problem : null} />
      {editing !== null && (
        <section aria-labelledby="edit-h">
          <h2 id="edit-h">{editing === 'new' ? 'New terminal' : `Edit terminal ${editing.terminalNumber}`}</h2>
          <Form className="filters" onSubmit={save} aria-label="Terminal">
            {editing === 'new' && (
              <Field
                label="Terminal number"
                name="terminalNumber"
                value={form.terminalNumber}
                onChange={set('terminalNumber')}
                placeholder="10 digits"
                isRequired
              />
            )}
            <Field label="Label" name="label" value={form.label} onChange={set('label')} isRequired />
            <Field label="Provider" name="provider" value={form.provider} onChange={set('provider')} />
            <Field
              label="Endpoint URL"
              name="endpointUrl"
              value={form.endpointUrl}
              onChange={set('endpointUrl')}
              placeholder="https://pay.hyp.co.il/p/"
              isRequired
            />
            <Field
              label="Credential reference"
              name="credentialRef"
              value={form.credentialRef}
              onChange={set('credentialRef')}
              placeholder="hyp/0882819014"
              description="A path in the secret store, never the credentials themselves."
              isRequired
            />
            <Field label="Default policy (JSON)" name="defaultPolicy" value={form.defaultPolicy} onChange={set('defaultPolicy')} multiline />
            <div className="actions">
              <Button type="submit" className="button primary">
                Save terminal
              </Button>
              <Button className="button" onPress={() => setEditing(null)}>
                Cancel
              </Button>
            </div>
          </Form>
          <ProblemAlert problem={problem} />
        </section>
      )}
      <ProblemAlert problem={error} />
      {loading && !data && <Loading what="terminals" />}
      {data && data.items.length === 0 && (
        <Empty>
          <p>No terminal yet. {isAdmin ? 'Add one with “New terminal”.' : 'An admin adds them.'}</p>
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div className="table-wrap">
          <table className="table">
            <caption className="sr-only">Terminals</caption>
            <thead>
              <tr>
                <th scope="col">Terminal</th>
                <th scope="col">Label</th>
                <th scope="col">Provider</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Credential reference</th>
                <th scope="col">Status</th>
                <th scope="col">Default policy</th>
                <th scope="col">Provider configuration</th>
                {isAdmin && <th scope="col">Actions</th>}
              </tr>
            </thead>
            <tbody>
              {data.items.map((t) => (
                <tr key={t.id}>
                  <td>{t.terminalNumber}</td>
                  <td>{t.label}</td>
                  <td>{t.provider}</td>
                  <td className="wrap">{t.endpointUrl}</td>
                  <td>
                    <code>{t.credentialRef}</code>
                  </td>
                  <td>
                    <StatusBadge status={t.enabled ? 'enabled' : 'disabled'} />
                  </td>
                  <td>
                    <code className="wrap">{JSON.stringify(t.defaultPolicy)}</code>
                  </td>
                  <td>
                    <code className="wrap">{t.providerConfig ? JSON.stringify(t.providerConfig) : '—'}</code>
                  </td>
                  {isAdmin && (
                    <td>
                      <div className="row-actions">
                        <Button className="button small" onPress={() => open(t)} aria-label={`Edit terminal ${t.terminalNumber}`}>
                          Edit
                        </Button>
                        <Button
                          className="button small"
                          onPress={() => void toggle(t)}
                          aria-label={`${t.enabled ? 'Disable' : 'Enable'} terminal ${t.terminalNumber}`}
                        >
                          {t.enabled ? 'Disable' : 'Enable'}
                        </Button>
                      </div>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
