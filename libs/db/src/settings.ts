// Connection pool and transaction settings read from the environment once, at start.

/** Limits of the Postgres connection pool and of interactive transactions. */
export interface PoolSettings {
  /** Most connections the pool opens (env NVARC_DB_POOL_MAX, default 10). */
  poolMax: number;
  /** Time a request waits for a free connection before DbPoolTimeoutError (env NVARC_DB_ACQUIRE_TIMEOUT_MS, default 10000). */
  acquireTimeoutMs: number;
  /** Time an unused connection stays open (env NVARC_DB_IDLE_TIMEOUT_MS, default 30000). */
  idleTimeoutMs: number;
  /** Time an interactive transaction may run before Prisma rolls it back (env NVARC_DB_TRANSACTION_TIMEOUT_MS, default 30000). */
  transactionTimeoutMs: number;
  /** Time `ping()` waits for `SELECT 1`, connection included (env NVARC_DB_PING_TIMEOUT_MS, default 2000). */
  pingTimeoutMs: number;
}

/** Defaults of PoolSettings, used where the environment does not set a value. */
export const DEFAULT_POOL_SETTINGS: Readonly<PoolSettings> = Object.freeze({
  poolMax: 10,
  acquireTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  transactionTimeoutMs: 30_000,
  pingTimeoutMs: 2_000,
});

const ENV_NAMES: Record<keyof PoolSettings, string> = {
  poolMax: 'NVARC_DB_POOL_MAX',
  acquireTimeoutMs: 'NVARC_DB_ACQUIRE_TIMEOUT_MS',
  idleTimeoutMs: 'NVARC_DB_IDLE_TIMEOUT_MS',
  transactionTimeoutMs: 'NVARC_DB_TRANSACTION_TIMEOUT_MS',
  pingTimeoutMs: 'NVARC_DB_PING_TIMEOUT_MS',
};

/** Name of the environment variable that sets each pool setting. */
export function poolSettingEnvName(key: keyof PoolSettings): string {
  return ENV_NAMES[key];
}

/**
 * Reads PoolSettings from `env`, falling back to DEFAULT_POOL_SETTINGS.
 * Every value must be a positive integer: pg treats an acquire timeout of 0 as
 * "wait forever", so 0 is rejected rather than passed on.
 * Throws an Error naming the variable and the value when one is invalid.
 */
export function readPoolSettings(env: NodeJS.ProcessEnv = process.env): PoolSettings {
  const settings = { ...DEFAULT_POOL_SETTINGS };
  for (const key of Object.keys(ENV_NAMES) as (keyof PoolSettings)[]) {
    const raw = env[ENV_NAMES[key]];
    if (raw === undefined || raw.trim() === '') continue;
    settings[key] = parsePositiveInteger(ENV_NAMES[key], raw);
  }
  return settings;
}

function parsePositiveInteger(name: string, raw: string): number {
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`invalid ${name}=${JSON.stringify(raw)}: expected a positive whole number, for example ${name}=${defaultFor(name)}`);
  }
  return value;
}

function defaultFor(name: string): number {
  const key = (Object.keys(ENV_NAMES) as (keyof PoolSettings)[]).find((k) => ENV_NAMES[k] === name);
  return key ? DEFAULT_POOL_SETTINGS[key] : 1;
}
