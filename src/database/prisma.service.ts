import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { PrismaClient } from '../generated/prisma/client';
import { DatabaseConnection } from './database-connection';

/** The one Prisma client of the process, over whichever driver adapter the connection offers. */
@Injectable()
export class PrismaService extends PrismaClient implements OnApplicationShutdown {
  constructor(connection: DatabaseConnection) {
    super({ adapter: connection.prismaAdapter() });
  }

  /** After the HTTP server has closed, so requests still in flight at SIGTERM can finish. */
  async onApplicationShutdown(): Promise<void> {
    await this.$disconnect();
  }
}
