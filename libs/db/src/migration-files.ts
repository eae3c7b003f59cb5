// Reading the committed migration folders and checking their checksums.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** prisma/migrations of this repository. */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

/** One committed migration. */
export interface MigrationFile {
  /** Folder name, `<UTC timestamp YYYYMMDDHHMMSS>_<name>`; migrations apply in this order. */
  name: string;
  /** Path of its migration.sql. */
  path: string;
  sql: string;
  /** sha256 hex of migration.sql as stored, the value Prisma records. */
  checksum: string;
}

/** sha256 hex digest of a migration script, the checksum Prisma Migrate records. */
export function migrationChecksum(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/**
 * True when `recorded` is the checksum of `sql` with LF or CRLF line endings.
 * Prisma Migrate accepts all three forms, so a checkout with converted line
 * endings is not reported as modified.
 */
export function checksumMatches(sql: string, recorded: string): boolean {
  const unix = sql.replace(/\r\n/g, '\n');
  const forms = [sql, unix, unix.replace(/\n/g, '\r\n')];
  return forms.some((form) => migrationChecksum(form) === recorded);
}

/**
 * Reads every `<dir>/<folder>/migration.sql`, sorted by folder name.
 * A missing `dir` means no migrations. Throws when a folder has no migration.sql,
 * as Prisma Migrate does.
 */
export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const folders = await listFolders(dir);
  const migrations: MigrationFile[] = [];
  for (const name of folders.sort()) {
    const file = path.join(dir, name, 'migration.sql');
    const sql = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
      throw new Error(`migration folder ${path.join(dir, name)} has no migration.sql: add the script or remove the folder`);
    });
    migrations.push({ name, path: file, sql, checksum: migrationChecksum(sql) });
  }
  return migrations;
}

async function listFolders(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
