import type { FastifyRequest } from 'fastify';
import type { AuditOrigin } from '../audit/audit-event';

/** Where a request came from, as the audit trail records it. */
export function auditOrigin(req: FastifyRequest): AuditOrigin {
  const ua = req.headers['user-agent'];
  return { requestId: req.id, clientIp: req.ip, userAgent: typeof ua === 'string' ? ua : undefined };
}
