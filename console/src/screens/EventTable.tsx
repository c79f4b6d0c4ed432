import { createColumnHelper, getCoreRowModel, useReactTable } from '@tanstack/react-table';
import { useMemo, useState } from 'react';
import { Button, Dialog, Heading, Modal, ModalOverlay } from 'react-aria-components';
import type { AuditEvent } from '../api';
import { StatusBadge, fmtTime } from '../ui';
import { DataTable } from './DataTable';

const col = createColumnHelper<AuditEvent>();

/** Audit events as a table; each row opens a drawer with every field and the raw JSON. */
export function EventTable({ events, caption }: { events: AuditEvent[]; caption: string }) {
  const [open, setOpen] = useState<AuditEvent | null>(null);
  const columns = useMemo(
    () => [
      col.accessor('occurredAt', {
        header: 'Time (UTC)',
        cell: (c) => (
          <Button
            className="link-button"
            onPress={() => setOpen(c.row.original)}
            aria-label={`Event ${c.row.original.id} at ${fmtTime(c.getValue())}: show details`}
          >
            {fmtTime(c.getValue())}
          </Button>
        ),
      }),
      col.accessor('action', { header: 'Action' }),
      col.accessor('outcome', { header: 'Outcome', cell: (c) => <StatusBadge status={c.getValue()} /> }),
      col.accessor('terminalNumber', { header: 'Terminal', cell: (c) => c.getValue() ?? '—' }),
      col.accessor('actorId', { header: 'Actor', cell: (c) => (c.getValue() ? `${c.row.original.actorType} ${c.getValue()}` : c.row.original.actorType) }),
      col.accessor('gatewayResult', { header: 'Gateway result', cell: (c) => c.getValue() ?? '—' }),
      col.accessor('reason', { header: 'Reason', cell: (c) => c.getValue() ?? '—' }),
      col.accessor('requestId', { header: 'Request id', cell: (c) => <code>{c.getValue()}</code> }),
    ],
    [],
  );
  const table = useReactTable({ data: events, columns, getCoreRowModel: getCoreRowModel(), getRowId: (r) => r.id });
  return (
    <>
      <DataTable table={table} caption={caption} testId="event-table" rowAttribute="data-event-id" />
      <ModalOverlay className="overlay" isOpen={open !== null} onOpenChange={(o) => !o && setOpen(null)} isDismissable>
        <Modal className="drawer">
          <Dialog className="dialog">
            {open && (
              <>
                <div className="drawer-head">
                  <Heading slot="title">Event {open.id}</Heading>
                  <Button className="button" onPress={() => setOpen(null)}>
                    Close
                  </Button>
                </div>
                <dl className="fields">
                  {Object.entries(open)
                    .filter(([, v]) => v === null || typeof v !== 'object')
                    .map(([k, v]) => (
                      <div key={k}>
                        <dt>{k}</dt>
                        <dd>{v === null ? '—' : String(v)}</dd>
                      </div>
                    ))}
                </dl>
                <h3>Raw JSON</h3>
                <pre className="raw" tabIndex={0} aria-label="Raw JSON of the event">
                  {JSON.stringify(open, null, 2)}
                </pre>
              </>
            )}
          </Dialog>
        </Modal>
      </ModalOverlay>
    </>
  );
}
