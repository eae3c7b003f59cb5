import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  commitTaskResult,
  createBatchWithTasks,
  createDb,
  getBatchProgress,
  getBatchResults,
  readMigrations,
  DEFAULT_MIGRATIONS_DIR,
  startTaskRun,
  sumCosts,
  upsertModel,
} from '../src/index.ts';
import { deviceCost, newBatchId, trainingBatchTasks, trainingTaskIds } from './helpers.ts';

let dataRoot: string;

before(async () => {
  dataRoot = await mkdtemp(path.join(tmpdir(), 'nvarc-pglite-'));
});

after(async () => {
  await rm(dataRoot, { recursive: true, force: true });
});

describe('embedded mode (PGlite)', () => {
  it('applies the migrations and stores a batch result that survives a restart', async () => {
    const dataDir = path.join(dataRoot, 'db');
    const batchId = newBatchId();
    const [taskId] = await trainingTaskIds(1);
    const tasks = await trainingBatchTasks([taskId]);
    const truth = tasks[0].task.test[0].output!;

    const db = await createDb({ pglite: dataDir });
    try {
      const report = await db.migrate();
      assert.deepEqual(report.applied, (await readMigrations(DEFAULT_MIGRATIONS_DIR)).map((m) => m.name));
      await db.ping();
      assert.deepEqual(db.poolStats(), { total: 1, idle: 1, waiting: 0 });

      await upsertModel(db.prisma, { id: 'tiny', name: 'tiny', path: '/m', architecture: 'qwen3', parameters: 1, trained: false, description: '' });
      await createBatchWithTasks(db.prisma, { id: batchId, modelId: 'tiny', options: { preset: 'test' }, dataset: null, tasks });
      const started = await startTaskRun(db.prisma, { batchId, taskId, jobId: `${batchId}_${taskId}`, workerId: 'embedded' });
      assert.ok(started.started);
      assert.deepEqual(started.task.test[0].input, tasks[0].task.test[0].input);

      const outcome = await commitTaskResult(db.prisma, {
        batchId, taskId, runNumber: started.runNumber,
        attempts: [{ testIndex: 0, attempt: 1, grid: truth, correct: true }, { testIndex: 0, attempt: 2, grid: [[0]], correct: false }],
        candidates: [{ testIndex: 0, candidateKey: truth.map((r) => r.join('')).join('/'), valid: true, grid: truth, invalidReason: null, count: 2, greedy: false, meanLogProb: -1, rankScore: 1, rank: 1, correct: true }],
        correct: [true], solvedFraction: 1, details: { pairsUsed: [3] },
        timings: { ttftSeconds: 1, decodeSeconds: 2, scoreSeconds: 1, wallSeconds: 4 },
        deviceSeconds: 4, cost: { ...deviceCost(4), gpuType: 'cpu', usdPerHour: 0.05, usd: (4 * 0.05) / 3600 },
      });
      assert.deepEqual(outcome, { applied: true });
    } finally {
      await db.close();
    }

    const reopened = await createDb({ pglite: dataDir });
    try {
      assert.deepEqual((await reopened.migrate()).applied, []);
      assert.equal((await getBatchProgress(reopened.prisma, batchId)).completed, 1);
      const [result] = await getBatchResults(reopened.prisma, batchId);
      assert.deepEqual(result.attempts[0].grid, truth);
      assert.equal((await sumCosts(reopened.prisma, batchId)).deviceSeconds, 4);
    } finally {
      await reopened.close();
    }
  });
});
