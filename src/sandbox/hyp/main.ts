import { createHypSandbox, type SandboxTerminal } from './hyp-sandbox';

/**
 * Standalone Hyp sandbox: `node dist/src/sandbox/hyp/main.js`.
 *   HYP_SANDBOX_PORT (8081), HYP_SANDBOX_HOST (127.0.0.1),
 *   HYP_SANDBOX_TERMINALS  JSON: {"0882819014":{"user":"u","password":"p","sessionsEnabled":true}}
 *   HYP_SANDBOX_LATENCY_MS, HYP_SANDBOX_FORCE_RESULT (e.g. 457)
 */
function readTerminals(raw: string | undefined): Record<string, SandboxTerminal> {
  if (raw === undefined || raw.trim() === '') {
    throw new Error('HYP_SANDBOX_TERMINALS is required (JSON of terminalNumber -> {user, password})');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // V8 quotes the offending input, which here holds passwords.
    throw new Error('HYP_SANDBOX_TERMINALS is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('HYP_SANDBOX_TERMINALS must be a JSON object');
  }
  const terminals: Record<string, SandboxTerminal> = {};
  for (const [number, cfg] of Object.entries(parsed as Record<string, unknown>)) {
    const c = cfg as Partial<Record<keyof SandboxTerminal, unknown>> | null;
    const enabled = c?.sessionsEnabled;
    if (typeof c?.user !== 'string' || typeof c.password !== 'string' || (enabled !== undefined && typeof enabled !== 'boolean')) {
      // The terminal number is safe to name; the credentials are not.
      throw new Error(`HYP_SANDBOX_TERMINALS: terminal ${number} needs string user and password`);
    }
    terminals[number] = { user: c.user, password: c.password, ...(enabled !== undefined ? { sessionsEnabled: enabled } : {}) };
  }
  return terminals;
}

function readInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a non-negative integer`);
  return Number(raw);
}

async function main(): Promise<void> {
  const forceResult = process.env.HYP_SANDBOX_FORCE_RESULT || undefined;
  if (forceResult !== undefined && !/^\d{3}$/.test(forceResult)) throw new Error('HYP_SANDBOX_FORCE_RESULT must be three digits');

  const sandbox = createHypSandbox({
    terminals: readTerminals(process.env.HYP_SANDBOX_TERMINALS),
    faults: { latencyMs: readInt('HYP_SANDBOX_LATENCY_MS', 0), forceResult },
  });
  const url = await sandbox.listen(readInt('HYP_SANDBOX_PORT', 8081), process.env.HYP_SANDBOX_HOST || '127.0.0.1');
  process.stdout.write(`Hyp sandbox listening on ${url}\n`);

  const stop = () => {
    sandbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`hyp sandbox failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
