// The factory of Prisma Client: over a pg pool for servers, over PGlite for the embedded mode.
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';

import { DbPoolTimeoutError, isPoolTimeout } from './errors.ts';
import { PrismaClient } from './generated/prisma/client.ts';
import { applyMigrations, type ApplyMigrationsOptions, type MigrationReport } from './migrate.ts';
import { AcquireTimeoutPool, type PoolStats } from './pool.ts';
import { readPoolSettings, type PoolSettings } from './settings.ts';
import type { DbLogger } from './types.ts';

/** Location of the data: a Postgres URL, or a PGlite data folder for the embedded mode. */
export type DbConfig = { url: string; settings?: Partial<PoolSettings> } | { pglite: string; settings?: Partial<PoolSettings> };

/** Options of createDb. */
export interface CreateDbOptions {
  logger?: DbLogger;
  /** Environment to read the NVARC_DB_* settings from; default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Prisma Client whose operations throw DbPoolTimeoutError when the pool has no free connection. */
export type DbClient = ReturnType<typeof withErrorTranslation>;

/** A database handle: Prisma Client plus the pool facts services report. */
export interface Db {
  readonly prisma: DbClient;
  readonly mode: 'postgres' | 'pglite';
  readonly settings: PoolSettings;
  /** Connection counts now. PGlite has one in-process connection and no queue it reports. */
  poolStats(): PoolStats;
  /** Runs `SELECT 1` within `timeoutMs` (default settings.pingTimeoutMs) and rejects with the reason otherwise. For readiness probes. */
  ping(timeoutMs?: number): Promise<void>;
  /** Applies the committed migrations (see applyMigrations). */
  migrate(options?: Omit<ApplyMigrationsOptions, 'log'>): Promise<MigrationReport>;
  /** Disconnects Prisma and closes the pool or the PGlite instance. */
  close(): Promise<void>;
}

const SILENT: DbLogger = { info() {}, warn() {}, error() {} };

/**
 * Creates a Db for a Postgres URL or a PGlite data folder. Pool settings come from
 * `config.settings`, then the NVARC_DB_* environment variables, then the defaults
 * (see readPoolSettings), and are logged once.
 */
export async function createDb(config: DbConfig, options: CreateDbOptions = {}): Promise<Db> {
  const logger = options.logger ?? SILENT;
  const settings = { ...readPoolSettings(options.env), ...config.settings };
  if ('url' in config) return createServerDb(config.url, settings, logger);
  return createEmbeddedDb(config.pglite, settings, logger);
}

function createServerDb(url: string, settings: PoolSettings, logger: DbLogger): Db {
  const pool = new AcquireTimeoutPool(url, settings);
  // Without a listener, an idle connection dropped by the server would crash the process.
  pool.on('error', (error) => logger.warn({ err: error }, 'idle database connection failed'));
  // @prisma/adapter-pg bundles its own @types/pg; at run time both name the same pg package.
  const adapter = new PrismaPg(pool as unknown as ConstructorParameters<typeof PrismaPg>[0], {
    onConnectionError: (error) => logger.warn({ err: error }, 'database connection failed'),
  });
  const prisma = withErrorTranslation(new PrismaClient({ adapter, transactionOptions: transactionOptions(settings) }), pool);
  logger.info({ database: describeUrl(url), ...settings }, 'database pool configured');
  return {
    prisma,
    mode: 'postgres',
    settings,
    poolStats: () => pool.stats(),
    ping: (timeoutMs = settings.pingTimeoutMs) =>
      withTimeout(pool.query('SELECT 1'), timeoutMs, () => pingTimeoutMessage(timeoutMs, settings, pool.stats())),
    migrate: (migrateOptions) => applyMigrations(pool, { ...migrateOptions, log: logger }),
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function createEmbeddedDb(dataDir: string, settings: PoolSettings, logger: DbLogger): Promise<Db> {
  const pglite = await PGlite.create(dataDir);
  const prisma = withErrorTranslation(
    new PrismaClient({ adapter: new PrismaPGlite(pglite), transactionOptions: transactionOptions(settings) }),
    null,
  );
  logger.info({ dataDir }, 'embedded database opened (PGlite)');
  return {
    prisma,
    mode: 'pglite',
    settings,
    // NOTE: PGlite queues queries internally and does not expose the queue, so idle and waiting are nominal.
    poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
    ping: (timeoutMs = settings.pingTimeoutMs) =>
      withTimeout(pglite.query('SELECT 1'), timeoutMs, () => `PGlite did not answer SELECT 1 within ${timeoutMs} ms`),
    migrate: (migrateOptions) => applyMigrations(pglite, { ...migrateOptions, log: logger }),
    close: async () => {
      await prisma.$disconnect();
      await pglite.close();
    },
  };
}

// maxWait stays above the pool's acquire timeout so that an exhausted pool surfaces
// as DbPoolTimeoutError rather than Prisma's generic "unable to start a transaction".
function transactionOptions(settings: PoolSettings) {
  return { maxWait: settings.acquireTimeoutMs + 1_000, timeout: settings.transactionTimeoutMs };
}

/**
 * Prisma Client rewraps errors thrown by the driver adapter in its own error class,
 * keeping their `code`; this puts the DbPoolTimeoutError back in their place.
 */
function withErrorTranslation(prisma: PrismaClient, pool: AcquireTimeoutPool | null) {
  return prisma.$extends({
    name: 'nvarc-db-errors',
    query: {
      async $allOperations({ args, query }) {
        try {
          return await query(args);
        } catch (error) {
          throw translateError(error, pool);
        }
      },
    },
  });
}

function translateError(error: unknown, pool: AcquireTimeoutPool | null): unknown {
  if (error instanceof DbPoolTimeoutError || !pool || !isPoolTimeout(error)) return error;
  const facts = pool.lastTimeout ?? { poolMax: pool.poolMax, waiting: pool.waitingCount, acquireTimeoutMs: pool.acquireTimeoutMs };
  return new DbPoolTimeoutError(facts, { cause: error });
}

function pingTimeoutMessage(timeoutMs: number, settings: PoolSettings, stats: PoolStats): string {
  return (
    `database did not answer SELECT 1 within ${timeoutMs} ms ` +
    `(pool: ${stats.total} of ${settings.poolMax} connections open, ${stats.idle} idle, ${stats.waiting} requests waiting)`
  );
}

async function withTimeout(work: Promise<unknown>, timeoutMs: number, message: () => string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), timeoutMs);
  });
  // The losing query may still fail later; its rejection is handled here.
  work.catch(() => {});
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Host, port and database of a Postgres URL, without credentials, for logs. */
function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
  } catch {
    return 'unparsable DATABASE_URL';
  }
}
