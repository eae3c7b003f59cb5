import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  cancelBatch,
  commitTaskResult,
  createBatchWithTasks,
  createDb,
  failTaskRun,
  findQueuedBatchesWithoutRecentEnqueue,
  finishBatch,
  getBatch,
  getBatchProgress,
  getBatchResults,
  getDefaultModel,
  getModel,
  listBatchTasksPage,
  listModels,
  markBatchEnqueued,
  markBatchRunning,
  markModelsPruned,
  promoteModel,
  startTaskRun,
  sumCosts,
  upsertModel,
  type CommitTaskResultInput,
  type Db,
  type Grid,
} from '../src/index.ts';
import { deviceCost, freshDatabase, newBatchId, trainingBatchTasks, trainingTaskIds } from './helpers.ts';

let db: Db;
const MODEL_ID = 'tiny-untrained';

before(async () => {
  const url = await freshDatabase('repositories');
  db = await createDb({ url });
  await db.migrate();
  await upsertModel(db.prisma, {
    id: MODEL_ID,
    name: 'tiny',
    path: 'models/tiny-untrained',
    architecture: 'qwen3',
    parameters: 1_000_000,
    trained: false,
    description: '',
  });
});

after(async () => {
  await db.close();
});

/** Creates a queued batch over the first `count` training tasks. */
async function newBatch(count: number): Promise<{ batchId: string; taskIds: string[] }> {
  const batchId = newBatchId();
  const taskIds = await trainingTaskIds(count);
  const tasks = await trainingBatchTasks(taskIds);
  await createBatchWithTasks(db.prisma, { id: batchId, modelId: MODEL_ID, options: { preset: 'test' }, dataset: null, tasks });
  return { batchId, taskIds };
}

/** Builds a result whose attempts are the task's true outputs, so every test input is solved. */
async function solvedResult(batchId: string, taskId: string, runNumber: number, deviceSeconds = 30): Promise<CommitTaskResultInput> {
  const results = await getBatchResults(db.prisma, batchId);
  const truths = results.find((r) => r.taskId === taskId)!.truths as Grid[];
  return {
    batchId,
    taskId,
    runNumber,
    attempts: truths.flatMap((grid, testIndex) => [
      { testIndex, attempt: 1, grid, correct: true },
      { testIndex, attempt: 2, grid: [[0]], correct: false },
    ]),
    candidates: truths.flatMap((grid, testIndex) => [
      { testIndex, candidateKey: grid.map((row) => row.join('')).join('/'), valid: true, grid, invalidReason: null, count: 3, greedy: false, meanLogProb: -0.5, rankScore: 2.5, rank: 1, correct: true },
      { testIndex, candidateKey: 'invalid:ragged_rows', valid: false, grid: null, invalidReason: 'ragged_rows', count: 1, greedy: false, meanLogProb: null, rankScore: null, rank: null, correct: null },
    ]),
    correct: truths.map(() => true),
    solvedFraction: 1,
    details: { pairsUsed: [2, 2], runNumber },
    timings: { ttftSeconds: 10, decodeSeconds: 15, scoreSeconds: 5, wallSeconds: 31 },
    deviceSeconds,
    cost: deviceCost(deviceSeconds),
  };
}

async function startRun(batchId: string, taskId: string, jobId = `${batchId}_${taskId}`): Promise<number> {
  const started = await startTaskRun(db.prisma, { batchId, taskId, jobId, workerId: 'worker-test' });
  assert.ok(started.started, 'run started');
  return started.runNumber;
}

describe('models', () => {
  it('upsertModel updates fields and keeps the creation time', async () => {
    const first = await upsertModel(db.prisma, { id: 'm-upsert', name: 'a', path: '/a', architecture: 'qwen3', parameters: 4_000_000_000, trained: false, description: '' });
    const second = await upsertModel(db.prisma, { id: 'm-upsert', name: 'b', path: '/b', architecture: 'qwen3', parameters: 4_000_000_000, trained: true, description: 'after SFT' });

    assert.equal(second.name, 'b');
    assert.equal(second.trained, true);
    assert.equal(second.parameters, 4_000_000_000);
    assert.equal(second.createdAt.getTime(), first.createdAt.getTime());
    assert.deepEqual(await getModel(db.prisma, 'm-upsert'), second);
    assert.ok((await listModels(db.prisma)).some((m) => m.id === 'm-upsert'));
  });

  it('getDefaultModel prefers a trained model over a newer untrained one', async () => {
    await upsertModel(db.prisma, { id: 'm-trained', name: 't', path: '/t', architecture: 'qwen3', parameters: 1, trained: true, description: '' });
    await upsertModel(db.prisma, { id: 'm-untrained-newer', name: 'u', path: '/u', architecture: 'qwen3', parameters: 1, trained: false, description: '' });

    assert.equal((await getDefaultModel(db.prisma))?.id, 'm-trained');
  });

  it('getDefaultModel skips SFT outputs until they are promoted', async () => {
    await upsertModel(db.prisma, {
      id: 'm-sft-checkpoint', name: 'c', path: '/c', architecture: 'qwen3', parameters: 1, trained: true, description: '',
      parentModelId: 'm-trained', sftRunId: '6b0f1d7e-2c4a-4d8e-9f31-5a7c2e9b0d14', step: 2,
    });

    assert.equal((await getDefaultModel(db.prisma))?.id, 'm-trained');
  });

  it('pruned models are never the default and cannot be promoted', async () => {
    await upsertModel(db.prisma, { id: 'm-pruned', name: 'x', path: '/x', architecture: 'qwen3', parameters: 1, trained: true, description: '' });
    assert.equal(await markModelsPruned(db.prisma, ['m-pruned', 'no-such-model']), 1);

    assert.notEqual((await getDefaultModel(db.prisma))?.id, 'm-pruned');
    assert.equal(await promoteModel(db.prisma, 'm-pruned'), false);
    assert.ok((await getModel(db.prisma, 'm-pruned'))?.prunedAt instanceof Date);
    assert.equal(await markModelsPruned(db.prisma, ['m-pruned']), 0, 'a second mark keeps the first time');
  });

  it('getDefaultModel prefers the latest promoted model over newer ones', async () => {
    await upsertModel(db.prisma, { id: 'm-promoted', name: 'p', path: '/p', architecture: 'qwen3', parameters: 1, trained: true, description: '' });
    assert.ok(await promoteModel(db.prisma, 'm-promoted'));
    await upsertModel(db.prisma, { id: 'm-newest', name: 'n', path: '/n', architecture: 'qwen3', parameters: 1, trained: false, description: '' });

    assert.equal((await getDefaultModel(db.prisma))?.id, 'm-promoted');
    assert.equal(await promoteModel(db.prisma, 'no-such-model'), false);
  });
});

describe('batches', () => {
  it('createBatchWithTasks stores the batch and tasks queued, and a retry stores nothing more', async () => {
    const batchId = newBatchId();
    const tasks = await trainingBatchTasks(await trainingTaskIds(3));
    const input = { id: batchId, modelId: MODEL_ID, options: { preset: 'test' }, dataset: 'arc-agi-1/training', tasks };

    assert.deepEqual(await createBatchWithTasks(db.prisma, input), { created: true });
    assert.deepEqual(await createBatchWithTasks(db.prisma, input), { created: false });

    const batch = await getBatch(db.prisma, batchId);
    assert.equal(batch?.state, 'queued');
    assert.equal(batch?.taskCount, 3);
    assert.deepEqual(await getBatchProgress(db.prisma, batchId), { total: 3, queued: 3, running: 0, completed: 0, failed: 0, cancelled: 0 });
  });

  it('createBatchWithTasks stores nothing when one task id repeats', async () => {
    const batchId = newBatchId();
    const tasks = await trainingBatchTasks(await trainingTaskIds(3));
    const duplicate = { ...tasks[0], position: 3 };

    await assert.rejects(
      createBatchWithTasks(db.prisma, { id: batchId, modelId: MODEL_ID, options: {}, dataset: null, tasks: [...tasks, duplicate] }),
      (error: { code?: string }) => error.code === 'P2002',
    );
    assert.equal(await getBatch(db.prisma, batchId), null);
    assert.equal(await db.prisma.batchTask.count({ where: { batchId } }), 0);
  });

  it('markBatchRunning moves only a queued batch', async () => {
    const { batchId } = await newBatch(1);

    assert.equal(await markBatchRunning(db.prisma, batchId), true);
    assert.equal(await markBatchRunning(db.prisma, batchId), false);
    assert.equal((await getBatch(db.prisma, batchId))?.state, 'running');
  });

  it('the sweeper query finds queued batches not enqueued recently', async () => {
    const { batchId: never } = await newBatch(1);
    const { batchId: recent } = await newBatch(1);
    await markBatchEnqueued(db.prisma, recent);
    const { batchId: running } = await newBatch(1);
    await markBatchRunning(db.prisma, running);

    const found = (await findQueuedBatchesWithoutRecentEnqueue(db.prisma, 60_000, 1000)).map((b) => b.id);

    assert.ok(found.includes(never));
    assert.ok(!found.includes(recent));
    assert.ok(!found.includes(running));
    const later = (await findQueuedBatchesWithoutRecentEnqueue(db.prisma, -60_000, 1000)).map((b) => b.id);
    assert.ok(later.includes(recent), 'a batch enqueued before the cutoff is found');
  });

  it('cancelBatch cancels open tasks and runs and returns the previous state', async () => {
    const { batchId, taskIds } = await newBatch(3);
    const runNumber = await startRun(batchId, taskIds[0]);
    await commitTaskResult(db.prisma, await solvedResult(batchId, taskIds[0], runNumber));
    await startRun(batchId, taskIds[1]);

    assert.equal(await cancelBatch(db.prisma, batchId), 'running');
    assert.equal(await cancelBatch(db.prisma, batchId), 'cancelled');

    assert.deepEqual(await getBatchProgress(db.prisma, batchId), { total: 3, queued: 0, running: 0, completed: 1, failed: 0, cancelled: 2 });
    const runs = await db.prisma.taskRun.findMany({ where: { batchId, taskId: taskIds[1] } });
    assert.deepEqual(runs.map((r) => r.state), ['cancelled']);
    const late = await failTaskRun(db.prisma, { batchId, taskId: taskIds[1], runNumber: runs[0].runNumber, code: 'cancelled', message: 'the batch was cancelled', final: false, deviceSeconds: 1 });
    assert.deepEqual(late, { applied: false });
    const lateRun = await db.prisma.taskRun.findFirstOrThrow({ where: { batchId, taskId: taskIds[1] } });
    assert.equal(lateRun.state, 'cancelled');
    assert.equal(lateRun.errorCode, 'cancelled');
    const refused = await startTaskRun(db.prisma, { batchId, taskId: taskIds[2], jobId: 'j', workerId: 'w' });
    assert.deepEqual(refused, { started: false, reason: 'cancelled' });
    assert.equal(await cancelBatch(db.prisma, newBatchId()), null);
  });

  it('finishBatch writes scores once and leaves a cancelled batch alone', async () => {
    const scores = { score: 0.75, taskScore: 0.8333, scoredTestInputs: 4, solvedTestInputs: 3, scoredTasks: 3, unscoredTasks: 0 };
    const { batchId } = await newBatch(1);
    assert.equal(await finishBatch(db.prisma, batchId, scores), true);
    const first = await getBatch(db.prisma, batchId);
    assert.equal(await finishBatch(db.prisma, batchId, scores), true);
    const second = await getBatch(db.prisma, batchId);

    assert.equal(second?.state, 'completed');
    assert.equal(second?.score, 0.75);
    assert.equal(second?.finishedAt?.getTime(), first?.finishedAt?.getTime());

    const { batchId: cancelled } = await newBatch(1);
    await cancelBatch(db.prisma, cancelled);
    assert.equal(await finishBatch(db.prisma, cancelled, scores), false);
    assert.equal((await getBatch(db.prisma, cancelled))?.state, 'cancelled');
  });

  it('listBatchTasksPage walks all tasks by position with results, runs and costs', async () => {
    const { batchId, taskIds } = await newBatch(5);
    const runNumber = await startRun(batchId, taskIds[1]);
    await commitTaskResult(db.prisma, await solvedResult(batchId, taskIds[1], runNumber));

    const seen: string[] = [];
    let cursor: number | null = null;
    let pages = 0;
    do {
      const page = await listBatchTasksPage(db.prisma, batchId, { cursor, limit: 2 });
      seen.push(...page.items.map((item) => item.taskId));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor !== null);

    assert.deepEqual(seen, taskIds);
    assert.equal(pages, 3);
    const [withResult] = (await listBatchTasksPage(db.prisma, batchId, { cursor: 0, limit: 1 })).items;
    assert.equal(withResult.taskId, taskIds[1]);
    assert.equal(withResult.state, 'completed');
    assert.ok(withResult.attempts.length >= 2);
    assert.equal(withResult.candidates[0].rank, 1);
    assert.equal(withResult.runs.length, 1);
    assert.equal(withResult.runs[0].costs.length, 1);
  });

  it('getBatchResults returns truths from the task JSON and the stored attempts', async () => {
    const { batchId, taskIds } = await newBatch(2);
    const runNumber = await startRun(batchId, taskIds[0]);
    const result = await solvedResult(batchId, taskIds[0], runNumber);
    await commitTaskResult(db.prisma, result);

    const [solved, untouched] = await getBatchResults(db.prisma, batchId);

    const tasks = await trainingBatchTasks(taskIds);
    assert.deepEqual(solved.truths, tasks[0].task.test.map((t) => t.output));
    assert.equal(solved.attempts.length, result.attempts.length);
    assert.deepEqual(solved.attempts[0].grid, tasks[0].task.test[0].output);
    assert.deepEqual(untouched.attempts, []);
    assert.equal(untouched.state, 'queued');
  });
});

describe('task runs', () => {
  it('late commit of older run is superseded', async () => {
    const { batchId, taskIds } = await newBatch(1);
    const taskId = taskIds[0];
    const firstRun = await startRun(batchId, taskId);
    const secondRun = await startRun(batchId, taskId);
    assert.equal(secondRun, firstRun + 1);

    assert.deepEqual(await commitTaskResult(db.prisma, await solvedResult(batchId, taskId, secondRun, 40)), { applied: true });
    assert.deepEqual(await commitTaskResult(db.prisma, await solvedResult(batchId, taskId, firstRun, 30)), { applied: false });

    const task = await db.prisma.batchTask.findUniqueOrThrow({ where: { batchId_taskId: { batchId, taskId } } });
    assert.equal(task.state, 'completed');
    assert.equal(task.resultRun, secondRun);
    const attempts = await db.prisma.attempt.findMany({ where: { batchId, taskId } });
    assert.ok(attempts.every((a) => a.runNumber === secondRun));
    const runs = await db.prisma.taskRun.findMany({ where: { batchId, taskId }, orderBy: { runNumber: 'asc' } });
    assert.deepEqual(runs.map((r) => r.state), ['superseded', 'completed']);
    const costs = await db.prisma.costRecord.findMany({ where: { batchId, taskId }, orderBy: { runNumber: 'asc' } });
    assert.deepEqual(costs.map((c) => c.wasted), [true, false]);
    const summary = await sumCosts(db.prisma, batchId);
    assert.ok(Math.abs(summary.usd - (deviceCost(30).usd + deviceCost(40).usd)) < 1e-12);
    assert.ok(Math.abs(summary.wastedUsd - deviceCost(30).usd) < 1e-12);
    assert.equal(summary.deviceSeconds, 70);
    assert.equal(summary.wastedRuns, 1);
  });

  it('newer run replaces earlier result', async () => {
    const { batchId, taskIds } = await newBatch(1);
    const taskId = taskIds[0];
    const firstRun = await startRun(batchId, taskId);
    await commitTaskResult(db.prisma, await solvedResult(batchId, taskId, firstRun));
    const secondRun = await startRun(batchId, taskId);
    await commitTaskResult(db.prisma, await solvedResult(batchId, taskId, secondRun));

    const attempts = await db.prisma.attempt.findMany({ where: { batchId, taskId } });
    const result = await solvedResult(batchId, taskId, secondRun);
    assert.equal(attempts.length, result.attempts.length);
    assert.ok(attempts.every((a) => a.runNumber === secondRun));
    assert.equal((await getBatchProgress(db.prisma, batchId)).completed, 1);
    assert.equal((await sumCosts(db.prisma, batchId)).wastedRuns, 1);
  });

  it('repeating the same commit changes nothing', async () => {
    const { batchId, taskIds } = await newBatch(1);
    const taskId = taskIds[0];
    const runNumber = await startRun(batchId, taskId);
    const result = await solvedResult(batchId, taskId, runNumber);

    await commitTaskResult(db.prisma, result);
    const snapshot = async () => ({
      attempts: await db.prisma.attempt.findMany({ where: { batchId, taskId }, orderBy: [{ testIndex: 'asc' }, { attempt: 'asc' }] }),
      candidates: await db.prisma.candidate.count({ where: { batchId, taskId } }),
      runs: await db.prisma.taskRun.count({ where: { batchId, taskId } }),
      costs: await sumCosts(db.prisma, batchId),
    });
    const first = await snapshot();
    assert.deepEqual(await commitTaskResult(db.prisma, result), { applied: true });

    assert.deepEqual(await snapshot(), first);
  });

  it('a final failure of the current run fails the task with its code', async () => {
    const { batchId, taskIds } = await newBatch(1);
    const taskId = taskIds[0];
    const runNumber = await startRun(batchId, taskId);

    const outcome = await failTaskRun(db.prisma, {
      batchId, taskId, runNumber, code: 'task_exceeds_context', message: 'needs at least 3,720 tokens, limit 2,048', final: true, deviceSeconds: 0, cost: deviceCost(0),
    });

    assert.deepEqual(outcome, { applied: true });
    const task = await db.prisma.batchTask.findUniqueOrThrow({ where: { batchId_taskId: { batchId, taskId } } });
    assert.equal(task.state, 'failed');
    assert.equal(task.failureCode, 'task_exceeds_context');
    const run = await db.prisma.taskRun.findFirstOrThrow({ where: { batchId, taskId, runNumber } });
    assert.equal(run.state, 'failed');
    assert.equal(run.errorCode, 'task_exceeds_context');
    assert.equal((await sumCosts(db.prisma, batchId)).wastedRuns, 1);
  });

  it('a retryable failure queues the task again and the retry can complete it', async () => {
    const { batchId, taskIds } = await newBatch(1);
    const taskId = taskIds[0];
    const firstRun = await startRun(batchId, taskId);
    await failTaskRun(db.prisma, { batchId, taskId, runNumber: firstRun, code: 'sidecar_unavailable', message: 'connection refused', final: false, deviceSeconds: 2, cost: deviceCost(2) });
    assert.equal((await getBatchProgress(db.prisma, batchId)).queued, 1);

    const retry = await startRun(batchId, taskId);
    assert.deepEqual(await commitTaskResult(db.prisma, await solvedResult(batchId, taskId, retry)), { applied: true });
    assert.equal((await getBatchProgress(db.prisma, batchId)).completed, 1);
  });

  it('a failed rerun keeps the result an earlier run stored', async () => {
    const { batchId, taskIds } = await newBatch(1);
    const taskId = taskIds[0];
    const firstRun = await startRun(batchId, taskId);
    await commitTaskResult(db.prisma, await solvedResult(batchId, taskId, firstRun));
    const rerun = await startRun(batchId, taskId);

    const outcome = await failTaskRun(db.prisma, { batchId, taskId, runNumber: rerun, code: 'deadline_exceeded', message: 'decode timed out', final: true, deviceSeconds: 5 });

    assert.deepEqual(outcome, { applied: false });
    const task = await db.prisma.batchTask.findUniqueOrThrow({ where: { batchId_taskId: { batchId, taskId } } });
    assert.equal(task.state, 'completed');
    assert.equal(task.resultRun, firstRun);
  });

  it('startTaskRun reports an unknown task', async () => {
    const { batchId } = await newBatch(1);

    assert.deepEqual(await startTaskRun(db.prisma, { batchId, taskId: 'ffffffff', jobId: 'j', workerId: 'w' }), { started: false, reason: 'not_found' });
  });

  it('commitTaskResult rejects a run that was never started', async () => {
    const { batchId, taskIds } = await newBatch(1);
    const result = await solvedResult(batchId, taskIds[0], 7);

    await assert.rejects(commitTaskResult(db.prisma, result), /was never started/);
    assert.equal(await db.prisma.attempt.count({ where: { batchId } }), 0);
  });
});
