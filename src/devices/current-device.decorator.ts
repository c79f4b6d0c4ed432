import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { DevicePrincipal } from './device';

/** The device DeviceAuthGuard authenticated. */
export const CurrentDevice = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): DevicePrincipal => ctx.switchToHttp().getRequest<FastifyRequest & { user: DevicePrincipal }>().user,
);
