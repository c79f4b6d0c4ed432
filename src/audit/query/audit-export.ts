import { Readable } from 'node:stream';
import { EVENT_FIELDS, type EventRow, ndjsonLine } from '../event-row';
import { csvLines } from './csv';

/** id and latencyMs: written as numbers in CSV, every other column as quoted text. */
const NUMERIC_COLUMNS: readonly boolean[] = EVENT_FIELDS.map((f) => f === 'id' || f === 'latencyMs');

export type ExportFormat = 'csv' | 'ndjson';

export const EXPORT_CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
};

/**
 * A byte stream of the batches `source` yields, encoded as CSV (with a header line) or NDJSON.
 * Pull-driven: a batch is read from Postgres only when the response has drained what came before
 * (plus one batch read ahead, so the database and the encoder overlap). Memory stays at a few
 * batches whatever the export's size; a client that disconnects stops the reading.
 */
export function exportStream(source: AsyncIterable<EventRow[]>, format: ExportFormat): Readable {
  async function* chunks(): AsyncGenerator<string> {
    // Field names are fixed identifiers: the header is written bare, as spreadsheets expect it.
    if (format === 'csv') yield `${EVENT_FIELDS.join(',')}\n`;
    for await (const batch of readAhead(source)) yield format === 'csv' ? csvLines(batch, NUMERIC_COLUMNS) : ndjsonBatch(batch);
  }
  // Each chunk is one whole batch, well over the high-water mark: at most one waits in the buffer.
  return Readable.from(chunks(), { objectMode: false, highWaterMark: 64 * 1024 });
}

function ndjsonBatch(batch: EventRow[]): string {
  const lines = new Array<string>(batch.length);
  for (let i = 0; i < batch.length; i++) lines[i] = ndjsonLine(batch[i]);
  return lines.join('');
}

/** Starts fetching the next item while the current one is consumed; no more than one ahead. */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = it.next();
      // Awaited on the next turn; if the consumer stops first, its failure must not go unhandled.
      next.catch(() => undefined);
      // Let the next query reach the database before the (synchronous) encoding of this batch
      // takes the thread: otherwise it is only sent afterwards and nothing overlaps.
      await new Promise((resolve) => setImmediate(resolve));
      yield current.value;
    }
  } finally {
    await it.return?.();
  }
}
