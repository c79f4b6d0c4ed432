import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { Button, Dialog, Heading, Input, Label, Modal, ModalOverlay, TextArea, TextField } from 'react-aria-components';
import { ApiError, type Problem } from './api';

export function problemOf(err: unknown): Problem {
  if (err instanceof ApiError) return err.problem;
  return { status: 0, title: 'Something went wrong', detail: err instanceof Error ? err.message : String(err) };
}

/** An API error as its problem+json title and detail (and the fields it names). */
export function ProblemAlert({ problem }: { problem: Problem | null }) {
  if (!problem) return null;
  return (
    <div role="alert" className="problem">
      <strong className="problem-title">{problem.title}</strong>
      {problem.detail && <p className="problem-detail">{problem.detail}</p>}
      {problem.errors && problem.errors.length > 0 && (
        <ul>
          {problem.errors.map((e) => (
            <li key={`${e.path}:${e.message}`}>
              <code>{e.path}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty">{children}</div>;
}

export function Field(props: {
  label: string;
  name: string;
  value: string;
  onChange(v: string): void;
  placeholder?: string;
  description?: string;
  type?: string;
  multiline?: boolean;
  isRequired?: boolean;
  autoComplete?: string;
}) {
  return (
    <TextField className="field" name={props.name} value={props.value} onChange={props.onChange} isRequired={props.isRequired} type={props.type}>
      <Label>{props.label}</Label>
      {props.multiline ? (
        <TextArea placeholder={props.placeholder} rows={6} spellCheck={false} />
      ) : (
        <Input placeholder={props.placeholder} autoComplete={props.autoComplete ?? 'off'} spellCheck={false} />
      )}
      {props.description && <span className="hint">{props.description}</span>}
    </TextField>
  );
}

export function SelectField(props: { label: string; name: string; value: string; onChange(v: string): void; options: Array<[string, string]> }) {
  const id = `sel-${props.name}`;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <select id={id} name={props.name} value={props.value} onChange={(e) => props.onChange(e.target.value)}>
        {props.options.map(([v, l]) => (
          <option key={v} value={v}>
            {l}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A read of the API with loading/error state; `reload` runs it again. */
export function useApi<T>(load: (() => Promise<T>) | null, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(false);
  const seq = useRef(0);
  const run = useCallback(async () => {
    if (!load) return;
    const mine = ++seq.current;
    setLoading(true);
    setError(null);
    try {
      const result = await load();
      if (mine === seq.current) setData(result);
    } catch (err) {
      if (mine === seq.current) setError(problemOf(err));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    void run();
  }, [run]);
  return { data, error, loading, reload: run, setData };
}

/** A confirmation for actions that cannot be undone (revoke). */
export function Confirm(props: { open: boolean; title: string; children: ReactNode; confirmLabel: string; onConfirm(): void; onCancel(): void }) {
  return (
    <ModalOverlay className="overlay" isOpen={props.open} onOpenChange={(o) => !o && props.onCancel()} isDismissable>
      <Modal className="modal">
        <Dialog role="alertdialog" className="dialog">
          <Heading slot="title">{props.title}</Heading>
          <div>{props.children}</div>
          <div className="actions">
            <Button className="button danger" onPress={props.onConfirm}>
              {props.confirmLabel}
            </Button>
            <Button className="button" onPress={props.onCancel} autoFocus>
              Cancel
            </Button>
          </div>
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}

export const fmtTime = (iso: string | null | undefined) =>
  iso
    ? new Date(iso)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, 'Z')
    : '—';

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status}</span>;
}
