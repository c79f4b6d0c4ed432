import type { FastifyInstance } from 'fastify';

export interface RouteRef {
  method: string;
  /** In OpenAPI form: /v1/admin/devices/{deviceId} */
  path: string;
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/**
 * Every route the Fastify instance actually serves, from its own route tree (printRoutes), so a
 * route added by anyone later is seen too. HEAD twins of GET routes and OPTIONS are left out.
 */
export function fastifyRoutes(fastify: FastifyInstance): RouteRef[] {
  const stack: string[] = [];
  const routes: RouteRef[] = [];
  for (const line of fastify.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    stack.length = depth;
    stack.push(m[2]);
    for (const method of (m[3] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      routes.push({ method: method.toLowerCase(), path: stack.join('').replace(/:([A-Za-z0-9_]+)/g, '{$1}') });
    }
  }
  return routes;
}

/** Every operation an OpenAPI document lists. */
export function specOperations(doc: { paths: Record<string, Record<string, unknown>> }): Array<RouteRef & { operation: Record<string, unknown> }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    HTTP_METHODS.filter((m) => item[m] !== undefined).map((method) => ({ method, path, operation: item[method] as Record<string, unknown> })),
  );
}
