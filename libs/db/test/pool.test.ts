import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';

import {
  commitTaskResult,
  createBatchWithTasks,
  createDb,
  DbPoolTimeoutError,
  isPoolTimeout,
  readPoolSettings,
  startTaskRun,
  upsertModel,
  type CommitTaskResultInput,
  type Db,
} from '../src/index.ts';
import { deviceCost, freshDatabase, newBatchId, recordingLogger, trainingBatchTasks, trainingTaskIds } from './helpers.ts';

const POOL_MAX = 2;
const ACQUIRE_TIMEOUT_MS = 1_000;
const WRITES = 20;
// Generous bound for every blocked write to give up; the acquire timeout is 1 s.
const GIVE_UP_BOUND_MS = 20_000;

let url: string;

before(async () => {
  url = await freshDatabase('pool');
  const setup = await createDb({ url });
  await setup.migrate();
  await setup.close();
});

/** Creates a queued batch of `count` training tasks, starts one run each and returns their results to commit. */
async function batchWithStartedRuns(db: Db, count: number): Promise<CommitTaskResultInput[]> {
  await upsertModel(db.prisma, { id: 'tiny', name: 'tiny', path: '/m', architecture: 'qwen3', parameters: 1, trained: false, description: '' });
  const batchId = newBatchId();
  const tasks = await trainingBatchTasks(await trainingTaskIds(count));
  await createBatchWithTasks(db.prisma, { id: batchId, modelId: 'tiny', options: {}, dataset: null, tasks });
  const results: CommitTaskResultInput[] = [];
  for (const { taskId, task } of tasks) {
    const started = await startTaskRun(db.prisma, { batchId, taskId, jobId: `${batchId}_${taskId}`, workerId: 'w' });
    assert.ok(started.started);
    const grid = task.test[0].output ?? [[0]];
    results.push({
      batchId, taskId, runNumber: started.runNumber,
      attempts: [{ testIndex: 0, attempt: 1, grid, correct: true }, { testIndex: 0, attempt: 2, grid: [[0]], correct: false }],
      candidates: [],
      correct: [true], solvedFraction: 1, details: null,
      timings: { ttftSeconds: 1, decodeSeconds: 1, scoreSeconds: 1, wallSeconds: 3 },
      deviceSeconds: 3, cost: deviceCost(3),
    });
  }
  return results;
}

/** Takes an ACCESS EXCLUSIVE lock on `table` from a separate connection until release() is called. */
async function lockTable(table: string): Promise<{ release(): Promise<void> }> {
  const blocker = new pg.Client({ connectionString: url });
  await blocker.connect();
  await blocker.query('BEGIN');
  await blocker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  return {
    async release() {
      await blocker.query('ROLLBACK');
      await blocker.end();
    },
  };
}

async function waitFor(condition: () => boolean, boundMs: number, what: string): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${boundMs} ms`);
    await sleep(20);
  }
}

/** Retries `write` with backoff while the pool is exhausted, as job retries do. */
async function retryOnPoolTimeout<T>(write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      if (!isPoolTimeout(error) || attempt === 5) throw error;
      await sleep(100 * 2 ** attempt);
    }
  }
}

describe('pool exhaustion', () => {
  it('blocked result writes fail with DbPoolTimeoutError and a retry stores each once', async () => {
    const logger = recordingLogger();
    const db = await createDb({ url, settings: { poolMax: POOL_MAX, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS } }, { logger });
    try {
      const started = logger.lines.find((line) => line.message === 'database pool configured');
      assert.equal(started?.facts.poolMax, POOL_MAX);
      assert.equal(started?.facts.acquireTimeoutMs, ACQUIRE_TIMEOUT_MS);
      const results = await batchWithStartedRuns(db, WRITES);
      const modelInputs = ['a', 'b', 'c'].map((id) => ({ id: `pool-${id}`, name: id, path: `/${id}`, architecture: 'qwen3', parameters: 1, trained: false, description: '' }));
      const lock = await lockTable('batch_tasks');

      const outcomes: ({ ok: true } | { ok: false; error: unknown })[] = [];
      const record = (write: Promise<unknown>) =>
        write.then(
          () => outcomes.push({ ok: true }),
          (error: unknown) => outcomes.push({ ok: false, error }),
        );
      // Result writes run in interactive transactions; model upserts are single statements.
      const writes = [...results.map((result) => record(commitTaskResult(db.prisma, result))), ...modelInputs.map((m) => record(upsertModel(db.prisma, m)))];
      const blockedCount = writes.length - POOL_MAX;
      let maxWaiting = 0;
      await waitFor(() => {
        maxWaiting = Math.max(maxWaiting, db.poolStats().waiting);
        return outcomes.length >= blockedCount;
      }, GIVE_UP_BOUND_MS, `${blockedCount} writes giving up`);
      assert.ok(maxWaiting >= blockedCount - 1, `poolStats().waiting reached ${maxWaiting}`);
      assert.equal(db.poolStats().total, POOL_MAX);
      await lock.release();
      await Promise.all(writes);

      const failures = outcomes.filter((o) => !o.ok).map((o) => (o as { error: unknown }).error);
      assert.equal(failures.length, blockedCount);
      for (const error of failures) {
        assert.ok(error instanceof DbPoolTimeoutError, `got ${String(error)}`);
        assert.equal(error.code, 'db_pool_timeout');
        assert.equal(error.poolMax, POOL_MAX);
        assert.ok(error.waiting >= 1);
        assert.match(error.message, new RegExp(`all ${POOL_MAX} pool connections are busy and \\d+ requests are waiting`));
        assert.match(error.message, /NVARC_DB_POOL_MAX/);
      }

      await Promise.all([
        ...results.map((result) => retryOnPoolTimeout(() => commitTaskResult(db.prisma, result))),
        ...modelInputs.map((m) => retryOnPoolTimeout(() => upsertModel(db.prisma, m))),
      ]);

      const batchId = results[0].batchId;
      assert.equal(await db.prisma.batchTask.count({ where: { batchId, state: 'completed' } }), WRITES);
      assert.equal(await db.prisma.attempt.count({ where: { batchId } }), WRITES * 2);
      assert.equal(await db.prisma.costRecord.count({ where: { batchId } }), WRITES);
      assert.equal(await db.prisma.taskRun.count({ where: { batchId, state: 'completed' } }), WRITES);
      assert.equal(await db.prisma.model.count({ where: { id: { in: modelInputs.map((m) => m.id) } } }), modelInputs.length);
    } finally {
      await db.close();
    }
  });

  it('ping rejects with the pool counts while every connection is busy', async () => {
    const db = await createDb({ url, settings: { poolMax: 1, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS, pingTimeoutMs: 200 } });
    const lock = await lockTable('models');
    try {
      await db.ping();
      // Prisma queries are lazy: then() sends this one, which takes the only connection.
      const held = db.prisma.model.count().then((count) => count);
      await waitFor(() => db.poolStats().total === 1 && db.poolStats().idle === 0, GIVE_UP_BOUND_MS, 'the count taking the connection');

      await assert.rejects(db.ping(), /did not answer SELECT 1 within 200 ms \(pool: 1 of 1 connections open, 0 idle, \d+ requests waiting\)/);

      await lock.release();
      await held;
      await db.ping();
    } finally {
      await db.close();
    }
  });
});

describe('pool settings', () => {
  it('come from NVARC_DB_* variables with finite defaults', () => {
    assert.deepEqual(readPoolSettings({}), {
      poolMax: 10, acquireTimeoutMs: 10_000, idleTimeoutMs: 30_000, transactionTimeoutMs: 30_000, pingTimeoutMs: 2_000,
    });
    const settings = readPoolSettings({ NVARC_DB_POOL_MAX: '4', NVARC_DB_ACQUIRE_TIMEOUT_MS: '2500' });
    assert.equal(settings.poolMax, 4);
    assert.equal(settings.acquireTimeoutMs, 2_500);
  });

  it('reject values that are not positive whole numbers, naming the variable', () => {
    for (const value of ['0', '-1', 'ten', '1.5', 'Infinity']) {
      assert.throws(() => readPoolSettings({ NVARC_DB_ACQUIRE_TIMEOUT_MS: value }), new RegExp(`invalid NVARC_DB_ACQUIRE_TIMEOUT_MS=\\"${value}\\"`));
    }
  });
});
