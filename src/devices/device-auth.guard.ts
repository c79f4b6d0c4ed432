import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { DeviceAuthenticator } from './device-authenticator';

/** Device routes served by Nest controllers: DeviceAuthenticator leaves the device as `request.user` (CurrentDevice). */
@Injectable()
export class DeviceAuthGuard implements CanActivate {
  constructor(private readonly authenticator: DeviceAuthenticator) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.authenticator.authenticate(context.switchToHttp().getRequest<FastifyRequest>());
    return true;
  }
}
