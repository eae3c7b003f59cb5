// The pg connection pool behind Prisma Client in server mode.
import pg from 'pg';

import { DbPoolTimeoutError } from './errors.ts';
import type { PoolSettings } from './settings.ts';

/** Connection counts of a pool at one moment. */
export interface PoolStats {
  /** Open connections, busy and idle. */
  total: number;
  /** Open connections not serving a request. */
  idle: number;
  /** Requests queued for a connection. */
  waiting: number;
}

// pg-pool 3.x rejects a queued checkout with exactly this message when
// connectionTimeoutMillis passes; a slow TCP or TLS connect fails with another one.
const QUEUE_TIMEOUT_MESSAGE = 'timeout exceeded when trying to connect';

/**
 * A pg.Pool whose checkout timeout rejects with DbPoolTimeoutError instead of pg's
 * bare Error, so callers can tell an exhausted pool from an unreachable server.
 */
export class AcquireTimeoutPool extends pg.Pool {
  readonly poolMax: number;
  readonly acquireTimeoutMs: number;
  /** The most recent checkout timeout, used to rebuild it after Prisma Client wraps it. */
  lastTimeout: DbPoolTimeoutError | null = null;

  constructor(url: string, settings: PoolSettings) {
    super({
      connectionString: url,
      max: settings.poolMax,
      connectionTimeoutMillis: settings.acquireTimeoutMs,
      idleTimeoutMillis: settings.idleTimeoutMs,
    });
    this.poolMax = settings.poolMax;
    this.acquireTimeoutMs = settings.acquireTimeoutMs;
  }

  // pg-pool calls connect() with a callback from pool.query() and without one from
  // pool.connect(); both forms must translate the timeout.
  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<pg.PoolClient> | void {
    if (callback) {
      super.connect((err, client, done) => callback(this.translate(err), client, done));
      return;
    }
    return super.connect().catch((err: Error) => {
      throw this.translate(err);
    });
  }

  /** Connection counts right now. */
  stats(): PoolStats {
    return { total: this.totalCount, idle: this.idleCount, waiting: this.waitingCount };
  }

  private translate(err: Error | undefined): Error | undefined {
    if (!err || err.message !== QUEUE_TIMEOUT_MESSAGE) return err;
    // pg-pool has already dropped the request that timed out from its queue.
    const timeout = new DbPoolTimeoutError({
      poolMax: this.poolMax,
      waiting: this.waitingCount + 1,
      acquireTimeoutMs: this.acquireTimeoutMs,
    });
    this.lastTimeout = timeout;
    return timeout;
  }
}
