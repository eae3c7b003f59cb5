// Shared set-up of the libs/db tests: one database per test file on the local Postgres,
// real ARC tasks from NVARC_DATASETS_DIR, and a logger that keeps what it is given.
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

import { ensureDatabase, type ArcTaskJson, type BatchTaskInput, type DbLogger } from '../src/index.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** Postgres server the tests use; its user must be allowed to create databases. */
export const TEST_SERVER_URL = process.env.NVARC_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const DATASETS_DIR = process.env.NVARC_DATASETS_DIR ?? path.resolve(REPO_ROOT, '../shared/datasets');

/**
 * Returns the URL of database `nvarc_test_db_<suffix>` with an empty public schema.
 * Test files run in parallel, so each one passes its own suffix.
 */
export async function freshDatabase(suffix: string): Promise<string> {
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/nvarc_test_db_${suffix}`;
  await ensureDatabase(url.toString());
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  } finally {
    await client.end();
  }
  return url.toString();
}

/** Reads an ARC-AGI-1 training task by id. */
export async function loadTrainingTask(taskId: string): Promise<ArcTaskJson> {
  const file = path.join(DATASETS_DIR, 'arc-agi-1', 'training', `${taskId}.json`);
  return JSON.parse(await readFile(file, 'utf8')) as ArcTaskJson;
}

/** Batch task inputs for the given training task ids, positions in order. */
export async function trainingBatchTasks(taskIds: string[]): Promise<BatchTaskInput[]> {
  return Promise.all(
    taskIds.map(async (taskId, position) => {
      const task = await loadTrainingTask(taskId);
      return { taskId, position, task, testCount: task.test.length, hasGroundTruth: task.test.every((t) => t.output) };
    }),
  );
}

/** First `count` task ids of the ARC-AGI-1 training set, in file name order. */
export async function trainingTaskIds(count: number): Promise<string[]> {
  const files = (await readdir(path.join(DATASETS_DIR, 'arc-agi-1', 'training'))).filter((f) => f.endsWith('.json')).sort();
  return files.slice(0, count).map((f) => f.replace(/\.json$/, ''));
}

/** Returns a new batch id (a random UUID). */
export function newBatchId(): string {
  return randomUUID();
}

/** Returns a logger that records every call, for asserting on start-up logs. */
export function recordingLogger(): DbLogger & { lines: { level: string; facts: Record<string, unknown>; message: string }[] } {
  const lines: { level: string; facts: Record<string, unknown>; message: string }[] = [];
  const record = (level: string) => (facts: Record<string, unknown>, message: string) => lines.push({ level, facts, message });
  return { lines, info: record('info'), warn: record('warn'), error: record('error') };
}

/** Builds a device cost row for `deviceSeconds` at 0.80 USD per hour (the default L4 rate). */
export function deviceCost(deviceSeconds: number) {
  const usdPerHour = 0.8;
  return {
    kind: 'device' as const,
    gpuType: 'l4',
    deviceSeconds,
    usdPerHour,
    priceDate: '2025-01-01',
    usd: (deviceSeconds * usdPerHour) / 3600,
  };
}
