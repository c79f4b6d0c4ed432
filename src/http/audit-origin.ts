import type { FastifyRequest } from 'fastify';

/**
 * Request facts every audit event of one HTTP request shares. Declared here, beside the function
 * that reads them from the request, so that http/ imports nothing from audit/ above it.
 */
export interface AuditOrigin {
  readonly requestId: string;
  readonly clientIp?: string;
  readonly userAgent?: string;
}

/** Where a request came from, as the audit trail records it. */
export function auditOrigin(req: FastifyRequest): AuditOrigin {
  const ua = req.headers['user-agent'];
  return { requestId: req.id, clientIp: req.ip, userAgent: typeof ua === 'string' ? ua : undefined };
}
