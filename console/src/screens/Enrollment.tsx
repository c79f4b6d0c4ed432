import QRCode from 'qrcode';
import { useEffect, useState, type FormEvent } from 'react';
import { Button, Form } from 'react-aria-components';
import { ApiError, api, post, type Device, type EnrollmentCode, type Page, type Problem } from '../api';
import { navigate } from '../router';
import { Field, ProblemAlert, StatusBadge, fmtTime, problemOf } from '../ui';

const terminalsOf = (s: string) => s.split(/[\s,]+/).filter(Boolean);

function parsePolicy(text: string): { policy: unknown } | { problem: Problem } {
  if (!text.trim()) return { policy: null };
  try {
    return { policy: JSON.parse(text) };
  } catch {
    return {
      problem: {
        status: 400,
        title: 'The policy is not JSON',
        detail: 'Write it as {"allowUnscoped": false, "allowed": [{"command": "doDeal"}]}, or leave it empty for the terminal default.',
      },
    };
  }
}

/** Enroll a device by its public key; and, where the API has them, one-time enrollment codes with a QR. */
export function EnrollmentScreen() {
  const [form, setForm] = useState({ name: '', terminalNumbers: '', publicKey: '', policy: '' });
  const [problem, setProblem] = useState<Problem | null>(null);
  const [enrolled, setEnrolled] = useState<Device | null>(null);
  const set = (k: keyof typeof form) => (v: string) => setForm((f) => ({ ...f, [k]: v }));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setProblem(null);
    setEnrolled(null);
    const p = parsePolicy(form.policy);
    if ('problem' in p) return setProblem(p.problem);
    let publicKey: unknown = form.publicKey.trim();
    if (typeof publicKey === 'string' && publicKey.startsWith('{')) {
      try {
        publicKey = JSON.parse(publicKey);
      } catch {
        return setProblem({ status: 400, title: 'The key is not JSON', detail: 'Paste a JWK object or an SPKI PEM (-----BEGIN PUBLIC KEY-----).' });
      }
    }
    try {
      setEnrolled(
        await post<Device>('/v1/admin/devices', { name: form.name, publicKey, terminalNumbers: terminalsOf(form.terminalNumbers), policy: p.policy }),
      );
    } catch (err) {
      setProblem(problemOf(err));
    }
  };
  return (
    <>
      <h1>Enrollment</h1>
      <section aria-labelledby="enroll-h">
        <h2 id="enroll-h">Enroll a device by its public key</h2>
        <Form className="stack" onSubmit={submit} aria-label="Enroll a device">
          <Field label="Device name" name="name" value={form.name} onChange={set('name')} isRequired />
          <Field
            label="Terminals (comma-separated)"
            name="terminalNumbers"
            value={form.terminalNumbers}
            onChange={set('terminalNumbers')}
            placeholder="0882819014"
            isRequired
          />
          <Field
            label="Public key (JWK or SPKI PEM; ES256 or EdDSA)"
            name="publicKey"
            value={form.publicKey}
            onChange={set('publicKey')}
            multiline
            isRequired
          />
          <Field label="Policy (JSON; empty: each terminal's default)" name="policy" value={form.policy} onChange={set('policy')} multiline />
          <div className="actions">
            <Button type="submit" className="button primary">
              Enroll device
            </Button>
          </div>
        </Form>
        <ProblemAlert problem={problem} />
        {enrolled && (
          <p role="status" className="notice">
            Enrolled: device <code>{enrolled.id}</code>, key <code>{enrolled.keys[0]?.id}</code> ({enrolled.keys[0]?.alg}).{' '}
            <Button className="link-button" onPress={() => navigate(`/devices/${enrolled.id}`)}>
              Open the device
            </Button>
          </p>
        )}
      </section>
      <EnrollmentCodes />
    </>
  );
}

/** One-time codes (POST/GET/DELETE /v1/admin/enrollment-codes): hidden when the broker has no such API. */
function EnrollmentCodes() {
  const [available, setAvailable] = useState<boolean | null>(null);
  const [codes, setCodes] = useState<EnrollmentCode[]>([]);
  const [form, setForm] = useState({ name: '', terminalNumbers: '', expiresInSeconds: '900', maxUses: '1' });
  const [created, setCreated] = useState<{ code: EnrollmentCode; qr: string } | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const load = async () => {
    try {
      setCodes((await api<Page<EnrollmentCode>>('/v1/admin/enrollment-codes?limit=20')).items);
      setAvailable(true);
    } catch (err) {
      if (err instanceof ApiError && (err.problem.status === 404 || err.problem.status === 405)) setAvailable(false);
      else setProblem(problemOf(err));
    }
  };
  useEffect(() => void load(), []);
  const set = (k: keyof typeof form) => (v: string) => setForm((f) => ({ ...f, [k]: v }));
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setProblem(null);
    try {
      const code = await post<EnrollmentCode>('/v1/admin/enrollment-codes', {
        terminalNumbers: terminalsOf(form.terminalNumbers),
        ...(form.name.trim() ? { name: form.name.trim() } : {}),
        expiresInSeconds: Number(form.expiresInSeconds),
        maxUses: Number(form.maxUses),
      });
      const qr = code.enrollUrl ? await QRCode.toDataURL(code.enrollUrl, { margin: 1, width: 220 }) : '';
      setCreated({ code, qr });
      await load();
    } catch (err) {
      setProblem(problemOf(err));
    }
  };
  if (available === false) return <p className="hint">This broker has no one-time enrollment codes; enroll devices by public key above.</p>;
  return (
    <section aria-labelledby="codes-h">
      <h2 id="codes-h">One-time enrollment codes</h2>
      <Form className="filters" onSubmit={create} aria-label="Create an enrollment code">
        <Field label="Name (store, batch)" name="codeName" value={form.name} onChange={set('name')} />
        <Field label="Terminals (comma-separated)" name="codeTerminals" value={form.terminalNumbers} onChange={set('terminalNumbers')} isRequired />
        <Field label="Expires in (seconds, 60-86400)" name="expiresInSeconds" value={form.expiresInSeconds} onChange={set('expiresInSeconds')} />
        <Field label="Uses" name="maxUses" value={form.maxUses} onChange={set('maxUses')} />
        <div className="actions">
          <Button type="submit" className="button primary">
            Create code
          </Button>
        </div>
      </Form>
      <ProblemAlert problem={problem} />
      {created && (
        <div className="code-card" role="status">
          <p>
            Code <strong className="code">{created.code.code}</strong>, expires {fmtTime(created.code.expiresAt)}. It is shown this once.
          </p>
          {created.qr && <img src={created.qr} alt={`QR code that opens the enrollment link for code ${created.code.code}`} width={220} height={220} />}
        </div>
      )}
      {codes.length > 0 && (
        <table className="table">
          <caption className="sr-only">Enrollment codes, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Terminals</th>
              <th scope="col">Uses</th>
              <th scope="col">Expires</th>
              <th scope="col">Created by</th>
            </tr>
          </thead>
          <tbody>
            {codes.map((c) => (
              <tr key={c.id}>
                <td>{c.name ?? '—'}</td>
                <td>
                  <StatusBadge status={c.status} />
                </td>
                <td>{c.terminalNumbers.join(', ')}</td>
                <td>
                  {c.uses}/{c.maxUses}
                </td>
                <td>{fmtTime(c.expiresAt)}</td>
                <td>{c.createdBy}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
