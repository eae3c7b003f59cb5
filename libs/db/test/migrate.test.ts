import assert from 'node:assert/strict';
import { cp, mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import pg from 'pg';

import { diffMigrationsToSchema } from '../scripts/migration-diff.ts';
import {
  applyMigrations,
  checksumMatches,
  DB_MIGRATION_CHECKSUM_MISMATCH,
  DB_MIGRATION_FAILED,
  DB_MIGRATION_UNFINISHED,
  DEFAULT_MIGRATIONS_DIR,
  migrationChecksum,
  MigrationError,
  readMigrations,
} from '../src/index.ts';
import { freshDatabase, recordingLogger, TEST_SERVER_URL } from './helpers.ts';

let url: string;
let pool: pg.Pool;
let scratchDir: string;

before(async () => {
  scratchDir = await mkdtemp(path.join(tmpdir(), 'nvarc-migrations-'));
});

beforeEach(async () => {
  await pool?.end();
  url = await freshDatabase('migrate');
  pool = new pg.Pool({ connectionString: url, max: 3 });
});

after(async () => {
  await pool?.end();
  await rm(scratchDir, { recursive: true, force: true });
});

async function copyOfCommittedMigrations(): Promise<string> {
  const dir = await mkdtemp(path.join(scratchDir, 'copy-'));
  await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

async function recordedMigrations(): Promise<Record<string, unknown>[]> {
  const { rows } = await pool.query('SELECT * FROM _prisma_migrations ORDER BY migration_name');
  return rows;
}

describe('applyMigrations', () => {
  it('fresh database gets every table and record', async () => {
    const committed = await readMigrations(DEFAULT_MIGRATIONS_DIR);
    assert.ok(committed.length >= 1, 'prisma/migrations holds at least the init migration');

    const report = await applyMigrations(pool);

    assert.deepEqual(report.applied, committed.map((m) => m.name));
    assert.deepEqual(report.skipped, []);
    const { rows } = await pool.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`);
    const tables = rows.map((r) => r.tablename);
    for (const table of ['models', 'batches', 'batch_tasks', 'task_runs', 'attempts', 'candidates', 'cost_records', '_prisma_migrations']) {
      assert.ok(tables.includes(table), `table ${table} exists`);
    }
    const records = await recordedMigrations();
    assert.equal(records.length, committed.length);
    for (const [index, record] of records.entries()) {
      const file = await readFile(committed[index].path, 'utf8');
      assert.equal(record.migration_name, committed[index].name);
      assert.equal(record.checksum, migrationChecksum(file));
      assert.equal(record.applied_steps_count, 1);
      assert.ok(record.finished_at instanceof Date);
      assert.equal(record.rolled_back_at, null);
    }
  });

  it('applies nothing the second time', async () => {
    await applyMigrations(pool);
    const before = await recordedMigrations();

    const report = await applyMigrations(pool);

    assert.deepEqual(report.applied, []);
    assert.equal(report.skipped.length, before.length);
    assert.deepEqual(await recordedMigrations(), before);
  });

  it('rejects an applied migration whose file changed, naming it and the fix', async () => {
    const dir = await copyOfCommittedMigrations();
    await applyMigrations(pool, { migrationsDir: dir });
    const [first] = await readMigrations(dir);
    await writeFile(first.path, `${first.sql}\n-- edited after it was applied\n`);

    await assert.rejects(applyMigrations(pool, { migrationsDir: dir }), (error: unknown) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(error.code, DB_MIGRATION_CHECKSUM_MISMATCH);
      assert.equal(error.migration, first.name);
      assert.match(error.message, new RegExp(first.name));
      assert.match(error.message, /new migration/);
      return true;
    });
  });

  it('applies each migration once when two pools start at the same moment', async () => {
    const otherPool = new pg.Pool({ connectionString: url, max: 3 });
    try {
      const reports = await Promise.all([applyMigrations(pool), applyMigrations(otherPool)]);

      const committed = (await readMigrations(DEFAULT_MIGRATIONS_DIR)).map((m) => m.name);
      const appliedByBoth = reports.flatMap((r) => r.applied).sort();
      assert.deepEqual(appliedByBoth, committed);
      assert.equal((await recordedMigrations()).length, committed.length);
    } finally {
      await otherPool.end();
    }
  });

  it('rolls back a failing migration and records nothing for it', async () => {
    const dir = await copyOfCommittedMigrations();
    await applyMigrations(pool, { migrationsDir: dir });
    const broken = '29991231235959_broken';
    await mkdir(path.join(dir, broken));
    await writeFile(
      path.join(dir, broken, 'migration.sql'),
      'CREATE TABLE "half_done" ("id" TEXT);\nALTER TABLE "no_such_table" ADD COLUMN "x" TEXT;\n',
    );

    await assert.rejects(applyMigrations(pool, { migrationsDir: dir }), (error: unknown) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(error.code, DB_MIGRATION_FAILED);
      assert.equal(error.migration, broken);
      assert.match(error.message, /no_such_table/);
      return true;
    });
    const { rowCount } = await pool.query(`SELECT 1 FROM pg_tables WHERE tablename = 'half_done'`);
    assert.equal(rowCount, 0);
    const names = (await recordedMigrations()).map((r) => r.migration_name);
    assert.ok(!names.includes(broken));
  });

  it('rejects a migration recorded as started but never finished', async () => {
    await applyMigrations(pool);
    const [first] = await readMigrations(DEFAULT_MIGRATIONS_DIR);
    await pool.query('UPDATE _prisma_migrations SET finished_at = NULL WHERE migration_name = $1', [first.name]);

    await assert.rejects(applyMigrations(pool), (error: unknown) => {
      assert.ok(error instanceof MigrationError);
      assert.equal(error.code, DB_MIGRATION_UNFINISHED);
      assert.match(error.message, /prisma migrate resolve --rolled-back/);
      return true;
    });
  });

  it('logs each migration it applies', async () => {
    const log = recordingLogger();

    const report = await applyMigrations(pool, { log });

    const logged = log.lines.filter((l) => l.message === 'migration applied').map((l) => l.facts.migration);
    assert.deepEqual(logged, report.applied);
  });
});

describe('migration checksums', () => {
  it('match the same script with CRLF line endings, as Prisma Migrate accepts', () => {
    const unix = 'CREATE TABLE "a" ("id" TEXT);\nCREATE TABLE "b" ("id" TEXT);\n';
    const windows = unix.replace(/\n/g, '\r\n');

    assert.ok(checksumMatches(windows, migrationChecksum(unix)));
    assert.ok(checksumMatches(unix, migrationChecksum(windows)));
    assert.ok(!checksumMatches(`${unix}-- changed\n`, migrationChecksum(unix)));
  });
});

describe('committed migrations', () => {
  it('match prisma/schema.prisma according to the schema engine', async () => {
    const schema = await readFile(path.join(DEFAULT_MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8');
    const migrations = await readMigrations(DEFAULT_MIGRATIONS_DIR);

    const script = await diffMigrationsToSchema(schema, migrations, TEST_SERVER_URL, DEFAULT_MIGRATIONS_DIR);

    assert.equal(script, null, `schema.prisma changed without a migration; run make-migration. Missing SQL:\n${script}`);
  });
});
