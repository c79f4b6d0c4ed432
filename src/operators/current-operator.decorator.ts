import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { OperatorPrincipal } from './operator';

/** The operator OperatorAuthGuard authenticated. */
export const CurrentOperator = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): OperatorPrincipal => ctx.switchToHttp().getRequest<FastifyRequest & { user: OperatorPrincipal }>().user,
);
