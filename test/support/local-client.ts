import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';

/** Requests from a chosen loopback address (Linux routes all of 127/8 to lo), as another client would. */
export function client(localAddress: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  return {
    close: async () => agent.destroy(),
    send(base: string, method: 'GET' | 'POST' | 'DELETE', path: string, headers: Record<string, string> = {}, body?: unknown) {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      return new Promise<{ status: number; headers: IncomingHttpHeaders; text: string }>((resolve, reject) => {
        const req = httpRequest(
          `${base}${path}`,
          {
            method,
            agent,
            localAddress,
            headers: { 'user-agent': 'flood/1.0', ...(payload === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    },
  };
}
