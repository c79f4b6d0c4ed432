import type { INestApplication } from '@nestjs/common';
import { flushLogs } from '../http/logging';

/**
 * SIGTERM/SIGINT: stop accepting (new requests get 503 while closing), let in-flight requests
 * finish, flush the audit writer, close pools (all in app.close()), then exit 0. If that takes
 * longer than `deadlineMs`, exit 1 rather than hang.
 */
export function exitGracefullyOnSignals(app: INestApplication, deadlineMs: number, log: (msg: string) => void): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    log(`${signal}: shutting down (deadline ${deadlineMs} ms)`);
    const timer = setTimeout(() => {
      log('shutdown deadline passed; exiting with in-flight work abandoned');
      flushLogs();
      process.exit(1);
    }, deadlineMs);
    timer.unref();
    app.close().then(
      () => {
        flushLogs();
        process.exit(0);
      },
      (err: unknown) => {
        log(`shutdown failed: ${(err as Error).message}`);
        flushLogs();
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
