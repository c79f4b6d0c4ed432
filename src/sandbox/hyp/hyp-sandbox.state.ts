import { randomUUID } from 'node:crypto';

/** What a getSessionId scope pinned, in the documented spelling; absent parts are unrestricted. */
export interface SandboxScope {
  readonly scopeCmd?: string;
  readonly validation?: string;
  readonly transactionType?: string;
}

export interface SandboxSession {
  readonly terminalNumber: string;
  readonly scope: SandboxScope;
  /** Epoch milliseconds on the sandbox clock. */
  readonly expiresAt: number;
}

/** Hyp's answers to a session-authenticated command: permitted, session unusable, out of scope. */
export type SessionUseResult = '000' | '456' | '444';

export class SandboxSessionStore {
  private readonly sessions = new Map<string, SandboxSession>();

  constructor(private readonly now: () => number) {}

  issue(terminalNumber: string, scope: SandboxScope, ttlSeconds: number): string {
    this.purgeExpired();
    const sessionId = randomUUID();
    this.sessions.set(sessionId, { terminalNumber, scope, expiresAt: this.now() + ttlSeconds * 1000 });
    return sessionId;
  }

  /**
   * Checks and consumes in one synchronous step: with no await in between, two concurrent uses of a
   * single-use session cannot both be permitted. A use outside the scope does not consume it.
   */
  use(sessionId: string, reusable: boolean, permits: (session: SandboxSession) => boolean): SessionUseResult {
    const session = this.sessions.get(sessionId);
    if (!session) return '456';
    if (this.now() >= session.expiresAt) {
      this.sessions.delete(sessionId);
      return '456';
    }
    if (!permits(session)) return '444';
    if (!reusable) this.sessions.delete(sessionId);
    return '000';
  }

  get size(): number {
    return this.sessions.size;
  }

  /**
   * Sessions are inserted in expiry order (one TTL per sandbox), and a Map iterates in insertion
   * order: stop at the first live one, so a purge costs what it removes, not the store's size.
   */
  private purgeExpired(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) {
      if (now < s.expiresAt) break;
      this.sessions.delete(id);
    }
  }
}
