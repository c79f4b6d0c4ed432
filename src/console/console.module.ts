import { DynamicModule, Inject, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { AppConfig } from '../config/app-config';
import type { Config } from '../config/config.schema';
import { registerConsoleStatic } from './console-static';
import { DevTokenController } from './dev-token.controller';

/**
 * The operator console: its static files at /console/ (with their own strict headers) and, in the
 * embedded mode only, the development sign-in. The app talks to /v1/admin and /v1/audit like any
 * client, under the same roles and the same audit of reads; nothing here bypasses them.
 */
@Module({})
export class ConsoleModule implements OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(AppConfig) private readonly config: AppConfig,
  ) {}

  static forRoot(config: Config): DynamicModule {
    return {
      module: ConsoleModule,
      controllers: config.CONSOLE_DEV_SIGN_IN ? [DevTokenController] : [],
    };
  }

  onModuleInit(): void {
    if (!this.config.values.CONSOLE_ENABLED) return;
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify) registerConsoleStatic(fastify, this.config.values);
  }
}
