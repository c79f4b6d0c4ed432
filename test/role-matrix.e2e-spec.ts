import { ROLES_EXTENSION } from '../src/operators/require-roles.decorator';
import { BrokerHarness, SECOND_TERMINAL, TERMINAL, type TestDevice } from './support/broker-harness';
import { specOperations } from './support/openapi-routes';

type Caller = 'none' | 'device' | 'auditor' | 'admin';
/** Admin last: its calls may change what the route's parameters name (revoke, disable). */
const CALLERS: Caller[] = ['none', 'device', 'auditor', 'admin'];

/**
 * Every route of the OpenAPI document (so routes others add are covered too) × every kind of
 * caller. Operator routes: 401 without an operator token (a device token is no operator token),
 * 403 without one of the route's roles, otherwise anything but 401/403/5xx (the empty or dummy
 * input may well be a 400/404/409). The device route: 401 for anyone but a device.
 */
describe('role matrix', () => {
  let h: BrokerHarness;
  let device: TestDevice;
  let target: TestDevice;
  let ops: ReturnType<typeof specOperations>;

  beforeAll(async () => {
    h = await BrokerHarness.start();
    device = await h.enrollDevice({ allowUnscoped: true, allowed: [] }, [TERMINAL]);
    target = await h.enrollDevice(undefined, [SECOND_TERMINAL]);
    const spec = await h.send('GET', '/openapi.json');
    ops = specOperations(spec.body as never);
  });

  afterAll(async () => {
    await h?.close();
  });

  function tokenOf(caller: Caller): string | undefined {
    if (caller === 'none') return undefined;
    if (caller === 'device') return device.jwt();
    return h.operatorToken([caller], { subject: `${caller}@example.com` });
  }

  function concrete(path: string): string {
    return path.replace(/\{([^}]+)\}/g, (_, name: string) => (name === 'terminalNumber' ? SECOND_TERMINAL : name === 'deviceId' ? target.deviceId : 'x'));
  }

  it('gives every caller the right answer on every route', async () => {
    expect(ops.length).toBeGreaterThan(10);
    const wrong: string[] = [];
    for (const { method, path, operation } of ops) {
      const roles = operation[ROLES_EXTENSION] as string[] | undefined;
      const security = JSON.stringify(operation.security ?? []);
      const kind = roles ? 'operator' : security.includes('device-jwt') ? 'device' : security === '[]' ? 'public' : 'unknown';
      if (kind === 'unknown') {
        wrong.push(`${method} ${path}: authenticated but neither an operator route (no ${ROLES_EXTENSION}) nor the device route`);
        continue;
      }
      for (const caller of CALLERS) {
        const token = tokenOf(caller);
        const body = method === 'post' || method === 'patch' || method === 'put' ? {} : undefined;
        const res = await h.send(method.toUpperCase() as 'GET', concrete(path), body, token ? { authorization: `Bearer ${token}` } : {});
        const allowed = kind === 'public' || (kind === 'device' && caller === 'device') || (kind === 'operator' && roles!.includes(caller));
        const authenticated = kind === 'public' || (kind === 'device' ? caller === 'device' : caller === 'admin' || caller === 'auditor');
        const ok = allowed
          ? res.status < 500 && res.status !== 401 && res.status !== 403
          : res.status === (authenticated ? 403 : 401) && String(res.headers['content-type']).startsWith('application/problem+json');
        if (!ok) wrong.push(`${caller} ${method.toUpperCase()} ${path}: ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('records refused operator authentications and forbidden calls with the operator as actor', async () => {
    const none = await h.send('GET', '/v1/admin/devices');
    const viaDevice = await h.send('GET', '/v1/admin/devices', undefined, { authorization: `Bearer ${device.jwt()}` });
    const auditor = await h.send('POST', '/v1/admin/devices', {}, { authorization: `Bearer ${h.operatorToken(['auditor'], { subject: 'carol' })}` });
    expect([none.status, viaDevice.status, auditor.status]).toEqual([401, 401, 403]);
    const rows = async (r: { headers: Record<string, unknown> }) => h.auditEvents(String(r.headers['x-request-id']));
    expect((await rows(none)).map((e) => [e.action, e.outcome, e.reason])).toEqual([['auth.refused', 'denied', 'no-token']]);
    const [deviceRefusal] = await rows(viaDevice);
    expect([deviceRefusal.action, deviceRefusal.reason, deviceRefusal.actor_id]).toEqual(['auth.refused', 'bad-signature', device.deviceId]);
    const [forbidden] = await rows(auditor);
    expect([forbidden.action, forbidden.reason, forbidden.actor_id]).toEqual(['auth.forbidden', 'missing-role', 'carol']);
    const actorTypes = await h.db.query<{ actor_type: string }>(`SELECT DISTINCT actor_type FROM audit_event WHERE request_id = ANY($1)`, [
      [none, viaDevice, auditor].map((r) => String(r.headers['x-request-id'])),
    ]);
    expect(actorTypes.map((r) => r.actor_type)).toEqual(['operator']);
  });
});
