// @nvarc/db: the only package that imports Prisma Client. Services get a Db from
// createDb and pass db.prisma to the repository functions below.
export { createDb, type CreateDbOptions, type Db, type DbClient, type DbConfig } from './client.ts';
export { ensureDatabase, quoteIdentifier } from './ensure-database.ts';
export {
  DB_MIGRATION_CHECKSUM_MISMATCH,
  DB_MIGRATION_FAILED,
  DB_MIGRATION_LOCK_TIMEOUT,
  DB_MIGRATION_UNFINISHED,
  DB_POOL_TIMEOUT,
  DbPoolTimeoutError,
  isPoolTimeout,
  MigrationError,
  type PoolTimeoutFacts,
} from './errors.ts';
export {
  applyMigrations,
  clientExecutor,
  type ApplyMigrationsOptions,
  type MigrationReport,
  type SqlExecutor,
  type SqlSession,
} from './migrate.ts';
export { checksumMatches, DEFAULT_MIGRATIONS_DIR, migrationChecksum, readMigrations, type MigrationFile } from './migration-files.ts';
export { AcquireTimeoutPool, type PoolStats } from './pool.ts';
export { DEFAULT_POOL_SETTINGS, poolSettingEnvName, readPoolSettings, type PoolSettings } from './settings.ts';
export type { BatchState, CostInput, DbLogger, Grid, RunState, TaskState } from './types.ts';
export * from './repositories/models.ts';
export * from './repositories/batches.ts';
export * from './repositories/batch-results.ts';
export * from './repositories/task-runs.ts';
export * from './repositories/costs.ts';
export * from './repositories/sft-datasets.ts';
export * from './repositories/sft-runs.ts';
export { bindRepositories, type Repositories } from './bound.ts';
