import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { SFT_LOG_TAIL_MAX_CHARS, createDb, createSftRun, getSftRun, markSftRunRunning, recordSftProgress, recordSftRayJob, type Db } from '../src/index.ts';
import { freshDatabase } from './helpers.ts';

let db: Db;

before(async () => {
  db = await createDb({ url: await freshDatabase('sft_runs') });
  await db.migrate();
});

after(async () => {
  await db.close();
});

async function runningRun(): Promise<string> {
  const id = randomUUID();
  await createSftRun(db.prisma, { id, baseModelId: 'tiny-untrained', datasetId: 'sft-test', backend: 'ray', hyperparameters: { learningRate: 1e-3 }, outputDir: '' });
  assert.ok(await markSftRunRunning(db.prisma, id, '/runs'));
  return id;
}

const cost = { deviceSeconds: 4, gpuType: 'cpu', usdPerHour: 0.05, priceDate: '2026-12-04', costUsd: 0.0001 };

describe('SFT run repository', () => {
  it('progress without loss points keeps the curve', async () => {
    const id = await runningRun();
    await recordSftProgress(db.prisma, { id, step: 2, totalSteps: 4, lossPoints: [{ step: 1, loss: 2, learningRate: 1e-3 }, { step: 2, loss: 1.5, learningRate: 1e-3 }], ...cost });

    const stored = await recordSftProgress(db.prisma, { id, step: 2, totalSteps: 4, lossPoints: [], ...cost, deviceSeconds: 9 });

    assert.equal(stored, true);
    const run = await getSftRun(db.prisma, id);
    assert.deepEqual(run?.lossCurve.map((point) => point.step), [1, 2]);
    assert.equal(run?.deviceSeconds, 9);
  });

  it('Ray job and log tail are stored', async () => {
    const id = await runningRun();

    await recordSftRayJob(db.prisma, id, 'nvarc-sft-x-attempt-1');
    assert.equal((await getSftRun(db.prisma, id))?.rayJobId, 'nvarc-sft-x-attempt-1');
    assert.equal((await getSftRun(db.prisma, id))?.logTail, null);

    await recordSftRayJob(db.prisma, id, 'nvarc-sft-x-attempt-1', 'first line\nsecond line\n');
    assert.equal((await getSftRun(db.prisma, id))?.logTail, 'first line\nsecond line\n');
  });

  it('log tail is cut at a line start', async () => {
    const id = await runningRun();
    const lines = Array.from({ length: 2000 }, (_, index) => `line ${index} ${'x'.repeat(20)}`);

    await recordSftRayJob(db.prisma, id, 'nvarc-sft-y-attempt-1', lines.join('\n') + '\n');

    const tail = (await getSftRun(db.prisma, id))?.logTail ?? '';
    assert.ok(tail.length <= SFT_LOG_TAIL_MAX_CHARS, `tail of ${tail.length} characters`);
    assert.match(tail, /^line \d+ x+\n/);
    assert.ok(tail.endsWith(`${lines.at(-1)}\n`));
  });
});
