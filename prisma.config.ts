// Used by the Prisma CLI only (generate; migrate deploy where its engine exists).
// The service applies prisma/migrations itself: see src/database/migrations.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test' },
});
