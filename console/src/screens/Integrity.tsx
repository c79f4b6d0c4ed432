import { useEffect, useState, type FormEvent } from 'react';
import { Button, Form } from 'react-aria-components';
import { ApiError, api, qs, type SigningKey, type VerifyReport } from '../api';
import { navigate, paramsObject, useLocation } from '../router';
import { Field, Loading, ProblemAlert, fmtTime, useApi } from '../ui';

/** The verifier's finding in words an auditor can act on (the API's detail follows it). */
export function explainProblem(p: NonNullable<VerifyReport['problem']>): string {
  const event = p.eventId ? `event ${p.eventId}` : 'an event';
  switch (p.kind) {
    case 'altered-event':
      return `The trail was altered: ${event}, sealed in seal #${p.sealSeq}, no longer matches what was sealed. Someone changed it after it was written.`;
    case 'missing-event':
      return `The trail lost an event: ${event}, sealed in seal #${p.sealSeq}, is no longer there. Someone deleted it after it was written.`;
    case 'unexpected-event':
      return `The trail has an event the seals never saw: ${event} appears inside seal #${p.sealSeq}'s range. It was inserted afterwards.`;
    case 'missing-seal':
      return `A seal is missing from the chain at #${p.sealSeq}: the events it covered can no longer be vouched for.`;
    case 'broken-link':
      return `The seal chain is broken at seal #${p.sealSeq}: it does not follow from the seal before it (a seal was removed or replaced).`;
    case 'altered-seal':
      return `Seal #${p.sealSeq} was altered: its fields do not match its own hash.`;
    case 'bad-signature':
      return `Seal #${p.sealSeq} carries a signature that does not verify: it was not made by the broker's signing key.`;
    case 'unknown-key':
      return `Seal #${p.sealSeq} is signed with a key this broker never published.`;
    case 'unsigned-seal':
      return `Seal #${p.sealSeq} is not signed where a signature is required.`;
    case 'unsupported-version':
      return `Seal #${p.sealSeq} has a format this verifier does not accept.`;
    default:
      return `The seal chain fails at seal #${p.sealSeq}.`;
  }
}

/** Verify over a range, the seal chain's state, the signing keys; failures in words. */
export function IntegrityScreen() {
  const { params } = useLocation();
  const key = params.toString();
  const q = paramsObject(params);
  const [form, setForm] = useState({ from: q.from ?? '', to: q.to ?? '' });
  useEffect(() => setForm({ from: q.from ?? '', to: q.to ?? '' }), [key]); // eslint-disable-line react-hooks/exhaustive-deps
  const verify = useApi(() => api<VerifyReport>(`/v1/audit/verify${qs({ from: q.from, to: q.to })}`), [key]);
  const keys = useApi(async () => {
    try {
      return (await api<{ keys: SigningKey[] }>('/v1/audit/signing-keys')).keys;
    } catch (err) {
      if (err instanceof ApiError && err.problem.status === 404) return null;
      throw err;
    }
  }, []);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (qs(form) === qs(q)) void verify.reload();
    else navigate(`/integrity${qs(form)}`);
  };
  const r = verify.data;
  return (
    <>
      <h1>Integrity</h1>
      <Form className="filters" onSubmit={submit} aria-label="Verify range">
        <Field label="From (UTC, ISO-8601; empty: the start)" name="from" value={form.from} onChange={(v) => setForm((f) => ({ ...f, from: v }))} />
        <Field label="To (UTC, ISO-8601; empty: now)" name="to" value={form.to} onChange={(v) => setForm((f) => ({ ...f, to: v }))} />
        <div className="actions">
          <Button type="submit" className="button primary">
            Run verify
          </Button>
        </div>
      </Form>
      <ProblemAlert problem={verify.error} />
      {verify.loading && <Loading what="the verification" />}
      {r && !verify.loading && (
        <section aria-labelledby="result-h">
          <h2 id="result-h">Result</h2>
          {r.ok ? (
            <div className="verdict ok" role="status">
              <strong>Verified: the trail is intact.</strong>
              <p>
                {r.eventsChecked} event{r.eventsChecked === 1 ? '' : 's'} in {r.sealsChecked} seal{r.sealsChecked === 1 ? '' : 's'} checked
                {r.firstSealSeq ? ` (seals #${r.firstSealSeq} to #${r.lastSealSeq})` : ''}.
              </p>
            </div>
          ) : (
            <div className="verdict bad" role="alert">
              <strong>Verification failed.</strong>
              {r.problem && (
                <>
                  <p>{explainProblem(r.problem)}</p>
                  <p className="hint">Verifier: {r.problem.detail}</p>
                </>
              )}
            </div>
          )}
          <dl className="fields">
            <div>
              <dt>Newest seal</dt>
              <dd>{r.newestSeal ? `#${r.newestSeal.seq}, sealed ${fmtTime(r.newestSeal.sealedAt)}, up to event ${r.newestSeal.lastEventId}` : 'none yet'}</dd>
            </div>
            <div>
              <dt>Newest seal hash</dt>
              <dd>
                <code className="wrap">{r.newestSeal?.hash ?? '—'}</code>
              </dd>
            </div>
            <div>
              <dt>Unsealed events</dt>
              <dd>{r.unsealedEvents} (sealed within the next interval)</dd>
            </div>
          </dl>
        </section>
      )}
      <section aria-labelledby="keys-h">
        <h2 id="keys-h">Signing keys</h2>
        <ProblemAlert problem={keys.error} />
        {keys.data === null && <p className="hint">This broker does not publish seal signing keys.</p>}
        {keys.data && keys.data.length === 0 && <p className="hint">No seal has been signed yet.</p>}
        {keys.data && keys.data.length > 0 && (
          <table className="table">
            <caption className="sr-only">Seal signing keys</caption>
            <thead>
              <tr>
                <th scope="col">Key id</th>
                <th scope="col">Algorithm</th>
                <th scope="col">Valid from</th>
                <th scope="col">Valid to</th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((k) => (
                <tr key={k.kid}>
                  <td>
                    <code className="wrap">{k.kid}</code>
                  </td>
                  <td>{k.alg ?? k.crv ?? k.kty}</td>
                  <td>{fmtTime(k.validFrom)}</td>
                  <td>{k.validTo ? fmtTime(k.validTo) : 'current'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
