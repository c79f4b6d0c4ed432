/**
 * Payroc's RFC 7807 error bodies as docs.payroc.com/api/errors documents them (type URI, title,
 * status, detail, and an errors[] array where the docs show one). The detail texts stand for
 * Payroc internals the broker must never pass on.
 */
export type PayrocErrorName =
  'bad-request' | 'unauthorized' | 'forbidden' | 'not-found' | 'capabilities-missing' | 'conflict' | 'too-many-requests' | 'api-error';

const TYPE = 'https://docs.payroc.com/api/errors#';

export function payrocProblem(name: PayrocErrorName, errors?: ReadonlyArray<Record<string, string>>): { status: number; body: object } {
  const make = (status: number, title: string, detail: string, extra: object = {}) => ({
    status,
    body: { type: TYPE + name, title, status, detail, ...extra, ...(errors ? { errors } : {}) },
  });
  switch (name) {
    case 'bad-request':
      return make(400, 'Bad request', 'One or more validation errors occurred, see error section for more info');
    case 'unauthorized':
      return make(401, 'Unauthorized', 'The bearer token is missing, invalid or expired (sandbox node pyrc-int-07)');
    case 'forbidden':
      return make(403, 'Forbidden', 'The API key is not permitted to use this processing terminal');
    case 'not-found':
      return make(404, 'Not found', 'Processing terminal was not found in cluster eu-west-int');
    case 'capabilities-missing':
      return make(400, 'Capabilities missing', 'The terminal does not support the capability you are trying to use.', {
        errors: errors ?? [{ parameter: 'processingTerminalId', message: 'Processing terminal does not support Hosted Fields' }],
      });
    case 'conflict':
      return make(409, 'Conflict', 'The Idempotency-Key was already used with a different request');
    case 'too-many-requests':
      return make(429, 'Too many requests', 'Rate limit of 50 requests per second exceeded for merchant 88123');
    case 'api-error':
      return make(500, 'Api error', 'We are unable to process your request at this time', { errors: errors ?? [{ message: 'Service offline' }] });
  }
}
