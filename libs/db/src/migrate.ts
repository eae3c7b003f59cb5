// Applies the committed prisma/migrations without Prisma's native schema engine, keeping
// the `_prisma_migrations` bookkeeping that `prisma migrate deploy` reads and writes.
import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import pg from 'pg';

import {
  DB_MIGRATION_CHECKSUM_MISMATCH,
  DB_MIGRATION_FAILED,
  DB_MIGRATION_LOCK_TIMEOUT,
  DB_MIGRATION_UNFINISHED,
  MigrationError,
} from './errors.ts';
import { checksumMatches, DEFAULT_MIGRATIONS_DIR, readMigrations, type MigrationFile } from './migration-files.ts';
import type { DbLogger } from './types.ts';

/** Statements that run inside one transaction. */
export interface SqlSession {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: Row[] }>;
  /** Runs a script of several statements separated by semicolons. */
  exec(sql: string): Promise<unknown>;
}

/**
 * One database session that can open transactions. A PGlite instance fits as is;
 * a pg.Pool is wrapped around one checked-out connection by applyMigrations.
 */
export interface SqlExecutor extends SqlSession {
  transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T>;
}

/** Options of applyMigrations. */
export interface ApplyMigrationsOptions {
  log?: DbLogger;
  /** Folder holding `<timestamp>_<name>/migration.sql`; default prisma/migrations of this repository. */
  migrationsDir?: string;
  /** Time to wait for another process that is applying migrations; default 60000 ms. */
  lockTimeoutMs?: number;
}

/** Outcome of applyMigrations. */
export interface MigrationReport {
  /** Migrations applied by this call, in order. */
  applied: string[];
  /** Migrations found already applied. */
  skipped: string[];
}

// The key Prisma Migrate itself locks, so this runner and `prisma migrate deploy`
// never work on one database at the same time.
const PRISMA_MIGRATE_LOCK_KEY = 72707369;
const LOCK_POLL_MS = 100;
const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

// Prisma's own definition of the table (schema engine, Postgres connector).
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                      VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"                VARCHAR(64) NOT NULL,
    "finished_at"             TIMESTAMPTZ,
    "migration_name"          VARCHAR(255) NOT NULL,
    "logs"                    TEXT,
    "rolled_back_at"          TIMESTAMPTZ,
    "started_at"              TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"     INTEGER NOT NULL DEFAULT 0
)`;

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Applies every migration of prisma/migrations not yet recorded in `_prisma_migrations`,
 * in folder-name order, each in its own transaction together with its record
 * (checksum = sha256 hex of migration.sql, applied_steps_count 1).
 * Holds Prisma Migrate's advisory lock throughout, so concurrent callers apply each
 * migration once. Throws MigrationError when an applied migration's file changed,
 * when an unfinished migration is recorded, or when a script fails. A failed script's
 * migration is rolled back, and the migrations before it stay applied.
 */
export async function applyMigrations(
  target: pg.Pool | SqlExecutor,
  options: ApplyMigrationsOptions = {},
): Promise<MigrationReport> {
  const migrations = await readMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  if (target instanceof pg.Pool) {
    const client = await target.connect();
    // After a failure the connection is closed rather than reused: closing it also
    // frees the advisory lock if the unlock did not run.
    let failure: Error | undefined;
    try {
      return await applyWithLock(clientExecutor(client), migrations, options);
    } catch (error) {
      failure = error as Error;
      throw error;
    } finally {
      client.release(failure);
    }
  }
  return applyWithLock(target, migrations, options);
}

async function applyWithLock(
  session: SqlExecutor,
  migrations: MigrationFile[],
  options: ApplyMigrationsOptions,
): Promise<MigrationReport> {
  await acquireLock(session, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS);
  try {
    await session.exec(CREATE_MIGRATIONS_TABLE);
    const recorded = await readAppliedRows(session);
    const skipped = checkHistory(migrations, recorded, options.log);
    const applied: string[] = [];
    for (const migration of migrations) {
      if (skipped.includes(migration.name)) continue;
      await applyOne(session, migration);
      options.log?.info({ migration: migration.name }, 'migration applied');
      applied.push(migration.name);
    }
    return { applied, skipped };
  } finally {
    await session.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
  }
}

// Polling pg_try_advisory_lock bounds the wait, which pg_advisory_lock cannot do
// without a session-wide lock_timeout that would also limit the migrations.
async function acquireLock(session: SqlSession, lockTimeoutMs: number): Promise<void> {
  const deadline = Date.now() + lockTimeoutMs;
  for (;;) {
    const { rows } = await session.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      PRISMA_MIGRATE_LOCK_KEY,
    ]);
    if (rows[0]?.locked) return;
    if (Date.now() >= deadline) {
      throw new MigrationError(
        DB_MIGRATION_LOCK_TIMEOUT,
        null,
        `timed out after ${lockTimeoutMs} ms waiting for the migration lock (pg advisory lock ${PRISMA_MIGRATE_LOCK_KEY}): ` +
          'another process is applying migrations. Retry when it has finished, or look in pg_locks for the session holding it.',
      );
    }
    await sleep(LOCK_POLL_MS);
  }
}

async function readAppliedRows(session: SqlSession): Promise<AppliedRow[]> {
  const { rows } = await session.query<AppliedRow>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at, migration_name',
  );
  return rows.filter((row) => row.rolled_back_at === null);
}

/** Returns the names of migrations already applied, after checking the recorded history. */
function checkHistory(migrations: MigrationFile[], recorded: AppliedRow[], log?: DbLogger): string[] {
  const files = new Map(migrations.map((m) => [m.name, m]));
  const skipped: string[] = [];
  for (const row of recorded) {
    if (row.finished_at === null) throw unfinishedError(row.migration_name);
    const file = files.get(row.migration_name);
    if (!file) {
      log?.warn({ migration: row.migration_name }, 'applied migration not found in the migrations folder');
      continue;
    }
    if (!checksumMatches(file.sql, row.checksum)) throw checksumError(file, row.checksum);
    skipped.push(file.name);
  }
  return skipped;
}

async function applyOne(session: SqlExecutor, migration: MigrationFile): Promise<void> {
  try {
    await session.transaction(async (tx) => {
      const startedAt = new Date();
      await tx.exec(migration.sql);
      await tx.query(
        `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
         VALUES ($1, $2, now(), $3, NULL, NULL, $4, 1)`,
        [randomUUID(), migration.checksum, migration.name, startedAt],
      );
    });
  } catch (error) {
    throw new MigrationError(
      DB_MIGRATION_FAILED,
      migration.name,
      `migration ${migration.name} failed and was rolled back: ${(error as Error).message}. ` +
        'Fix the cause (often data the migration does not expect) and start again.',
      { cause: error },
    );
  }
}

function unfinishedError(name: string): MigrationError {
  return new MigrationError(
    DB_MIGRATION_UNFINISHED,
    name,
    `migration ${name} is recorded in _prisma_migrations as started but not finished, so the database may be half migrated. ` +
      `Repair the schema by hand, then run \`prisma migrate resolve --rolled-back ${name}\` ` +
      `(or delete its row from _prisma_migrations) and start again.`,
  );
}

function checksumError(file: MigrationFile, recordedChecksum: string): MigrationError {
  return new MigrationError(
    DB_MIGRATION_CHECKSUM_MISMATCH,
    file.name,
    `migration ${file.name} was modified after it was applied: the database recorded checksum ${recordedChecksum}, ` +
      `the file ${file.path} has ${file.checksum}. Restore the file as it was applied (git history), ` +
      'and put the change in a new migration made with `node --import tsx libs/db/scripts/make-migration.ts <name>`.',
  );
}

/** Wraps one pg connection as an SqlExecutor whose transactions use BEGIN/COMMIT on it. */
export function clientExecutor(client: pg.ClientBase): SqlExecutor {
  const session: SqlSession = {
    query: async <Row>(sql: string, params?: unknown[]) => ({ rows: (await client.query(sql, params)).rows as Row[] }),
    exec: (sql: string) => client.query(sql),
  };
  return {
    ...session,
    async transaction<T>(fn: (tx: SqlSession) => Promise<T>): Promise<T> {
      await client.query('BEGIN');
      try {
        const result = await fn(session);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    },
  };
}
