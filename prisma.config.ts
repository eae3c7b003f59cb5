// Configuration of the Prisma CLI (Prisma 7 reads connection URLs from here, not from
// schema.prisma). `prisma generate` needs no database; `prisma migrate deploy` and
// `prisma migrate status` read DATABASE_URL where the native schema engine is installed.
// Services apply migrations without the CLI, through applyMigrations in libs/db.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  // Left undefined when DATABASE_URL is unset so that `prisma generate` still runs.
  datasource: { url: process.env.DATABASE_URL },
});
