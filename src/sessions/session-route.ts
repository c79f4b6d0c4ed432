import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { getSchemaPath } from '@nestjs/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ValidationError } from '../common/errors';
import { validationErrorOf } from '../common/zod-issues';
import { AppConfig } from '../config/app-config';
import type { DevicePrincipal } from '../devices/device';
import { DeviceAuthenticator } from '../devices/device-authenticator';
import { auditOrigin } from '../http/audit-origin';
import { documentFastifyRoute, problemResponses } from '../http/openapi';
import { requestContext } from '../http/request-context';
import { IdempotentIssuance } from '../idempotency/idempotent-issuance';
import { DeviceRateLimitGuard } from '../rate-limits/rate-limit-guards';
import { answeredByDeadline, deadlineOf, lateResult, RequestDeadline } from './request-deadline';
import { IssuedSession, SessionIssuer } from './session-issuer';
import { SessionRequestBody, sessionRequestSchema } from './session-request.schema';
import { IssuedSessionDto } from './session.openapi';

export const SESSIONS_PATH = '/v1/sessions';
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * POST /v1/sessions, which every POS calls before every transaction, as a Fastify route of its own
 * rather than a Nest controller method. Nest's per-request machinery for a controller method
 * (router proxy, execution context, guard, pipe and interceptor chains, parameter factories, the
 * response serializer) was a measured share of a session's CPU (BENCHMARKS.md, Steps); here the
 * same parts run, called directly and in the same order: the request deadline (an onRequest hook,
 * RequestDeadline), device authentication with its refusal accounting (DeviceAuthenticator, as
 * DeviceAuthGuard runs it for DELETE), the device rate limits (DeviceRateLimitGuard; with Redis
 * they were counted with the jti claim), the body checked against the same zod schema, then the
 * issuance rules (SessionIssuer, IdempotentIssuance). Errors take the one path every route's
 * errors take: thrown, Fastify hands them to the application's error handler (ProblemDetailsFilter).
 * The operation is documented from the same DTOs (documentFastifyRoute, below).
 */
@Injectable()
export class SessionRoute implements OnModuleInit {
  private readonly deadlineMs: number;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    // Injected for order only: its onRoute hook (the deadline) must be in place before this route is added.
    deadline: RequestDeadline,
    private readonly authenticator: DeviceAuthenticator,
    private readonly limits: DeviceRateLimitGuard,
    private readonly issuer: SessionIssuer,
    private readonly idempotency: IdempotentIssuance,
    config: AppConfig,
  ) {
    void deadline;
    this.deadlineMs = config.values.REQUEST_DEADLINE_MS;
  }

  /** Added when Nest adds its own routes (application init), after the application's hooks are installed. */
  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    fastify?.post(SESSIONS_PATH, this.handler);
  }

  /** The route's handler (also what the rate limits' execution context names as the handler). */
  private readonly handler = (request: FastifyRequest, reply: FastifyReply): Promise<IssuedSession> => this.create(request, reply);

  private async create(req: FastifyRequest, reply: FastifyReply): Promise<IssuedSession> {
    const device = await this.authenticator.authenticate(req);
    // Without Redis the limits are counted in process, as the guard does for Nest routes.
    await this.limits.canActivate(new ExecutionContextHost([req, reply], SessionRoute, this.handler));
    const body = this.body(req);
    const idempotencyKey = req.headers['idempotency-key'];
    const session = await this.issue(device, body, req, typeof idempotencyKey === 'string' ? idempotencyKey : undefined);
    if (answeredByDeadline(req)) {
      // The device got a 503, not this session: the trail must say so next to its session.issued.
      await this.issuer.withheld(device, session, auditOrigin(req)).catch(() => undefined);
      throw lateResult();
    }
    void reply.code(201).header('cache-control', 'no-store');
    return session;
  }

  private body(req: FastifyRequest): SessionRequestBody {
    const parsed = sessionRequestSchema.safeParse(req.body);
    if (!parsed.success) throw validationErrorOf(parsed.error);
    return parsed.data;
  }

  private issue(device: DevicePrincipal, body: SessionRequestBody, req: FastifyRequest, idempotencyKey: string | undefined): Promise<IssuedSession> {
    // For the request's log line (src/http/logging.ts).
    requestContext(req).terminalNumber = body.terminalNumber ?? (device.terminalNumbers.length === 1 ? device.terminalNumbers[0] : undefined);
    const deadlineAt = deadlineOf(req, this.deadlineMs);
    const origin = auditOrigin(req);
    const issue = () => this.issuer.issue(device, body, origin, idempotencyKey, deadlineAt);
    if (idempotencyKey === undefined) return issue();
    if (!IDEMPOTENCY_KEY.test(idempotencyKey)) throw new ValidationError('Idempotency-Key must be 1 to 255 visible ASCII characters.');
    // A replayed response is checked against the device's current bindings and policy, and audited.
    const replay = (stored: IssuedSession) => this.issuer.replay(device, body, stored, origin);
    return this.idempotency.run(device.deviceId, idempotencyKey, body, issue, deadlineAt, replay);
  }
}

documentFastifyRoute(SESSIONS_PATH, 'post', {
  // The name Nest gave it when it was a controller method: generated clients keep their method name.
  operationId: 'SessionsController_create',
  summary: 'A scoped, short-lived gateway session for the calling device (device JWT only)',
  tags: ['device'],
  security: [{ 'device-jwt': [] }],
  parameters: [
    {
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'Retry-safe key (1-255 visible ASCII): a retry gets the same session',
      schema: { type: 'string' },
    },
  ],
  requestBody: { required: true, content: { 'application/json': { schema: { $ref: getSchemaPath(SessionRequestBody) } } } },
  responses: {
    201: { description: 'The session (Cache-Control: no-store)', content: { 'application/json': { schema: { $ref: getSchemaPath(IssuedSessionDto) } } } },
    ...problemResponses(400, 401, 403, 409, 413, 415, 429, 502, 503, 504),
  },
});
