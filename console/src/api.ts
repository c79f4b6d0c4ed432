/**
 * The console's one way to the broker: /v1/admin and /v1/audit with the operator's bearer token.
 * Every failure becomes an ApiError carrying the problem+json title and detail (or, when the
 * broker cannot be reached, a message that says so), so no screen ever goes blank.
 */
export interface Problem {
  status: number;
  title: string;
  detail: string;
  errors?: Array<{ path: string; message: string }>;
}

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.title}: ${problem.detail}`);
  }
}

type TokenSource = () => string | null;
let tokenSource: TokenSource = () => null;
let onUnauthorized: (p: Problem) => void = () => undefined;

export function setTokenSource(source: TokenSource, unauthorized: (p: Problem) => void): void {
  tokenSource = source;
  onUnauthorized = unauthorized;
}

async function problemOf(res: Response): Promise<Problem> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Partial<Problem>;
    if (typeof body.title === 'string') {
      return { status: res.status, title: body.title, detail: typeof body.detail === 'string' ? body.detail : '', errors: body.errors };
    }
  } catch {
    /* not problem+json: described below */
  }
  return { status: res.status, title: res.statusText || `HTTP ${res.status}`, detail: `The broker answered ${res.status} without a problem description.` };
}

export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = tokenSource();
  if (token) headers.set('authorization', `Bearer ${token}`);
  if (init.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json');
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError({
      status: 0,
      title: 'The broker is not answering',
      detail: 'The request could not reach the broker (network down or the service stopped). Nothing was changed; try again in a moment.',
    });
  }
  if (!res.ok) {
    const problem = await problemOf(res);
    if (res.status === 401) onUnauthorized(problem);
    throw new ApiError(problem);
  }
  return res;
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await apiFetch(path, init);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const post = <T>(path: string, body: unknown = {}) => api<T>(path, { method: 'POST', body: JSON.stringify(body) });
export const patch = <T>(path: string, body: unknown) => api<T>(path, { method: 'PATCH', body: JSON.stringify(body) });

/** Query string of the defined, non-empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

// --- Shapes of the API's answers (src/admin/admin.responses.ts, src/audit-query) ---------------

export interface ScopePolicy {
  allowUnscoped: boolean;
  allowed: Array<{ command: string; validation?: string; transactionType?: string }>;
}
export interface DeviceKey {
  id: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  createdAt: string;
  expiresAt: string | null;
}
export interface Device {
  id: string;
  name: string;
  status: 'active' | 'disabled' | 'revoked';
  policy: ScopePolicy | null;
  terminalNumbers: string[];
  keys: DeviceKey[];
  createdAt: string;
  updatedAt: string;
  /** Last authenticated request, as the broker last flushed it; null: never seen. */
  lastSeenAt: string | null;
  softwareVersion: string | null;
}
export interface Terminal {
  id: string;
  terminalNumber: string;
  label: string;
  provider: string;
  endpointUrl: string;
  credentialRef: string;
  enabled: boolean;
  defaultPolicy: ScopePolicy;
  providerConfig?: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}
/** GET /v1/admin/devices: keyset pages (pass nextCursor back as `cursor`, same filters). */
export interface DevicePage extends Page<Device> {
  nextCursor: string | null;
}
export interface AuditEvent {
  id: string;
  occurredAt: string;
  action: string;
  outcome: string;
  reason: string | null;
  actorType: string;
  actorId: string | null;
  terminalNumber: string | null;
  scope: unknown;
  requestId: string;
  clientIp: string | null;
  userAgent: string | null;
  gatewayResult: string | null;
  gatewayTranId: string | null;
  latencyMs: number | null;
  sessionFingerprint: string | null;
  details: unknown;
}
export interface EventPage {
  events: AuditEvent[];
  nextCursor: string | null;
  limit: number;
}
export interface StatsRow {
  start: string;
  terminalNumber?: string | null;
  outcome: string;
  gatewayResult: string | null;
  count: number;
}
export interface StatsReport {
  bucket: 'hour' | 'day';
  groupBy: 'overall' | 'terminal';
  from: string;
  to: string;
  buckets: StatsRow[];
}
export interface VerifyReport {
  ok: boolean;
  from: string | null;
  to: string | null;
  sealsChecked: number;
  eventsChecked: number;
  firstSealSeq: string | null;
  lastSealSeq: string | null;
  newestSeal: { seq: string; hash: string; lastEventId: string; sealedAt: string } | null;
  unsealedEvents: number;
  problem?: { kind: string; sealSeq: string; eventId?: string; detail: string };
}
export interface SigningKey {
  kid: string;
  alg?: string;
  kty?: string;
  crv?: string;
  validFrom?: string;
  validTo?: string | null;
}
export interface EnrollmentCode {
  id: string;
  name: string | null;
  status: 'pending' | 'used' | 'expired' | 'revoked';
  terminalNumbers: string[];
  maxUses: number;
  uses: number;
  expiresAt: string;
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  code?: string;
  enrollUrl?: string;
}
