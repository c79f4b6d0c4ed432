import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { PrismaClient } from '../generated/prisma/client';
import { DatabaseConnection } from './database-connection';

/** The one Prisma client of the process, over whichever driver adapter the connection offers. */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleDestroy {
  constructor(connection: DatabaseConnection) {
    super({ adapter: connection.prismaAdapter() });
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}
