import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AuditTrail } from '../audit/audit-trail';
import { AuthenticationError } from '../common/errors';
import { AppConfig } from '../config/app-config';
import { auditOrigin } from '../http/audit-origin';
import { loadOrCreateBootstrapToken, tokensMatch } from './bootstrap-token';

/** Only the holder of the local bootstrap token (./data/bootstrap-token) may self-enroll devices. */
@Injectable()
export class BootstrapGuard implements CanActivate {
  private readonly token: string;

  constructor(
    config: AppConfig,
    private readonly audit: AuditTrail,
  ) {
    this.token = loadOrCreateBootstrapToken(config.values.BOOTSTRAP_TOKEN_FILE);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const header = req.headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (presented && tokensMatch(this.token, presented)) return true;
    await this.audit.record({
      action: 'auth.refused',
      outcome: 'denied',
      reason: presented ? 'bad-bootstrap-token' : 'no-token',
      actorType: 'bootstrap',
      ...auditOrigin(req),
      details: { route: req.routeOptions.url, method: req.method },
    });
    throw new AuthenticationError('bad-bootstrap-token');
  }
}
