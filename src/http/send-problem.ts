import type { LoggerService } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { BrokerError } from '../common/errors';
import { PROBLEM_CONTENT_TYPE, toProblem } from './problem-details';

export function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply, logger: LoggerService): void {
  const { body, retryAfterSeconds } = toProblem(error, request.id);
  if (body.status >= 500 && !(error instanceof BrokerError)) {
    // Unexpected: keep the stack for operators. Our own messages never carry secrets.
    logger.error({ err: error, requestId: request.id }, 'unhandled error');
  }
  if (reply.sent) return;
  if (retryAfterSeconds !== undefined) void reply.header('retry-after', String(retryAfterSeconds));
  void reply.status(body.status).header('content-type', PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}
