// Writes the next migration of prisma/migrations with Prisma's own schema engine
// (WebAssembly build): it replays the committed migrations into a temporary shadow
// database, diffs that against prisma/schema.prisma, and writes the SQL Prisma Migrate
// would write. The same steps as `prisma migrate dev --create-only`, without the native engine.
//
//   node --import tsx libs/db/scripts/make-migration.ts <name>
//
// DATABASE_URL names the Postgres server for the shadow database (its user needs
// CREATEDB); default postgresql://postgres@127.0.0.1:5432/postgres.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { readMigrations, type MigrationFile } from '../src/migration-files.ts';
import { diffMigrationsToSchema, LOCK_FILE, LOCK_FILE_CONTENT } from './migration-diff.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCHEMA_PATH = path.join(REPO_ROOT, 'prisma/schema.prisma');
const MIGRATIONS_DIR = path.join(REPO_ROOT, 'prisma/migrations');
const DEFAULT_SERVER_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

async function main(): Promise<void> {
  const name = migrationSlug(process.argv[2]);
  const schema = await readFile(SCHEMA_PATH, 'utf8');
  const migrations = await readMigrations(MIGRATIONS_DIR);
  const script = await diffMigrationsToSchema(schema, migrations, process.env.DATABASE_URL ?? DEFAULT_SERVER_URL, MIGRATIONS_DIR);
  if (script === null) {
    console.log('prisma/schema.prisma matches the committed migrations: no migration written');
    return;
  }
  const folder = nextFolderName(name, migrations);
  await mkdir(path.join(MIGRATIONS_DIR, folder), { recursive: true });
  await writeFile(path.join(MIGRATIONS_DIR, folder, 'migration.sql'), script);
  await writeLockFileIfMissing();
  console.log(`wrote prisma/migrations/${folder}/migration.sql`);
}

/** Turns the name into lower-case letters, digits and underscores, safe in a folder name on every platform. */
function migrationSlug(raw: string | undefined): string {
  const slug = (raw ?? '').trim().toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  if (!slug) {
    console.error('usage: node --import tsx libs/db/scripts/make-migration.ts <name>   (for example add_batch_priority)');
    process.exit(2);
  }
  return slug;
}

/** `<UTC YYYYMMDDHHMMSS>_<name>`, later than every committed migration. */
function nextFolderName(name: string, migrations: MigrationFile[]): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const folder = `${stamp}_${name}`;
  const last = migrations.at(-1)?.name;
  if (last && folder <= last) {
    throw new Error(`new migration ${folder} would sort before the last one, ${last}: check the system clock`);
  }
  return folder;
}

async function writeLockFileIfMissing(): Promise<void> {
  const file = path.join(MIGRATIONS_DIR, LOCK_FILE);
  const exists = await access(file).then(
    () => true,
    () => false,
  );
  if (!exists) await writeFile(file, LOCK_FILE_CONTENT);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
