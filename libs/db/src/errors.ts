// Errors thrown by libs/db that callers handle by code.

/** Code of DbPoolTimeoutError. */
export const DB_POOL_TIMEOUT = 'db_pool_timeout';
/** Code of MigrationError when an applied migration's file changed. */
export const DB_MIGRATION_CHECKSUM_MISMATCH = 'db_migration_checksum_mismatch';
/** Code of MigrationError when the migrations table holds an unfinished migration. */
export const DB_MIGRATION_UNFINISHED = 'db_migration_unfinished';
/** Code of MigrationError when a migration script fails; its transaction was rolled back. */
export const DB_MIGRATION_FAILED = 'db_migration_failed';
/** Code of MigrationError when another process held the migration lock for too long. */
export const DB_MIGRATION_LOCK_TIMEOUT = 'db_migration_lock_timeout';

/** Pool numbers at the moment a request gave up waiting for a connection. */
export interface PoolTimeoutFacts {
  poolMax: number;
  /** Requests still waiting for a connection, the one that gave up included. */
  waiting: number;
  acquireTimeoutMs: number;
}

/**
 * A request waited acquireTimeoutMs for a free pool connection and got none.
 * Transient: the caller may retry with backoff. The message names the pool size,
 * the waiting requests and the variable that raises the pool size.
 */
export class DbPoolTimeoutError extends Error {
  readonly code = DB_POOL_TIMEOUT;
  readonly poolMax: number;
  readonly waiting: number;
  readonly acquireTimeoutMs: number;

  constructor(facts: PoolTimeoutFacts, options?: { cause?: unknown }) {
    super(
      `timed out after ${facts.acquireTimeoutMs} ms waiting for a database connection: ` +
        `all ${facts.poolMax} pool connections are busy and ${facts.waiting} requests are waiting. ` +
        `Raise NVARC_DB_POOL_MAX (now ${facts.poolMax}) if the database allows more connections, ` +
        `or NVARC_DB_ACQUIRE_TIMEOUT_MS (now ${facts.acquireTimeoutMs}) to wait longer.`,
      options,
    );
    this.name = 'DbPoolTimeoutError';
    this.poolMax = facts.poolMax;
    this.waiting = facts.waiting;
    this.acquireTimeoutMs = facts.acquireTimeoutMs;
  }
}

/** A migration could not be applied, or the applied history disagrees with prisma/migrations. */
export class MigrationError extends Error {
  readonly code: string;
  /** Folder name of the migration concerned, for example `20260101000000_init`. */
  readonly migration: string | null;

  constructor(code: string, migration: string | null, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
    this.code = code;
    this.migration = migration;
  }
}

/** True when `error` is a DbPoolTimeoutError, or Prisma Client's wrapping of one (same code). */
export function isPoolTimeout(error: unknown): boolean {
  return error instanceof DbPoolTimeoutError || (isObject(error) && error.code === DB_POOL_TIMEOUT);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
