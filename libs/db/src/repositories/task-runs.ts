// Task runs: the at-least-once bookkeeping of eval-task jobs. A job taken twice opens
// two runs. Only the task's current run may store a result, but every run keeps its
// run record and cost rows, so the waste stays visible.
import type { DbClient } from '../client.ts';
import { Prisma } from '../generated/prisma/client.ts';
import type { CostInput, Grid, RunState, TaskState } from '../types.ts';
import type { ArcTaskJson } from './batches.ts';

type Tx = Parameters<Parameters<DbClient['$transaction']>[0]>[0];

/** Identifies one run of one task. */
export interface RunKey {
  batchId: string;
  taskId: string;
  runNumber: number;
}

/** Input of startTaskRun: the task, and the BullMQ job and worker that take it. */
export interface StartTaskRunInput {
  batchId: string;
  taskId: string;
  jobId: string;
  workerId: string;
}

/** Outcome of startTaskRun. */
export type StartTaskRunResult =
  | { started: true; runNumber: number; task: ArcTaskJson; state: 'running' }
  | { started: false; reason: 'cancelled' | 'not_found' };

/** One submitted grid of a test input. */
export interface AttemptInput {
  testIndex: number;
  /** 1 or 2. */
  attempt: number;
  grid: Grid;
  /** Null when the test output is unknown. */
  correct: boolean | null;
}

/** One pooled candidate of a test input. */
export interface CandidateInput {
  testIndex: number;
  /** Grid rows joined by "/" for a valid candidate, "invalid:<reason code>" otherwise. */
  candidateKey: string;
  valid: boolean;
  grid: Grid | null;
  invalidReason: string | null;
  /** Times found over the decoding augmentations. */
  count: number;
  greedy: boolean;
  meanLogProb: number | null;
  rankScore: number | null;
  rank: number | null;
  correct: boolean | null;
}

/** Wall-clock seconds of the stages of a run. */
export interface RunTimings {
  ttftSeconds: number;
  decodeSeconds: number;
  scoreSeconds: number;
  wallSeconds: number;
}

/** The result of one run, written by commitTaskResult. */
export interface CommitTaskResultInput extends RunKey {
  attempts: AttemptInput[];
  candidates: CandidateInput[];
  /** Per test input: true, false, or null when the output is unknown. */
  correct: (boolean | null)[];
  /** Fraction of test inputs solved, null when unscored. */
  solvedFraction: number | null;
  /** Pairs used per prompt and other facts of the run. */
  details: Prisma.InputJsonValue | null;
  timings: RunTimings;
  deviceSeconds: number;
  /** Cost rows of the run; one per kind. */
  cost: CostInput | CostInput[];
}

/** A failed run, written by failTaskRun. */
export interface FailTaskRunInput extends RunKey {
  code: string;
  message: string;
  /** True when no retry follows, so the task fails unless it has an earlier result. */
  final: boolean;
  deviceSeconds: number;
  cost?: CostInput | CostInput[];
}

interface LockedTask {
  current_run: number;
  state: TaskState;
  result_run: number | null;
}

/**
 * Opens run n+1 of a task: increments batch_tasks.current_run in one UPDATE ... RETURNING,
 * sets the task (and a queued batch) running and inserts the TaskRun, in one transaction.
 * Returns started false, changing nothing, when the task or its batch is cancelled or unknown.
 */
export async function startTaskRun(prisma: DbClient, input: StartTaskRunInput): Promise<StartTaskRunResult> {
  const { batchId, taskId } = input;
  return prisma.$transaction(async (tx): Promise<StartTaskRunResult> => {
    const rows = await tx.batchTask.updateManyAndReturn({
      where: { batchId, taskId, state: { not: 'cancelled' }, batch: { state: { not: 'cancelled' } } },
      data: { currentRun: { increment: 1 }, state: 'running' },
      select: { currentRun: true, task: true },
    });
    if (rows.length === 0) {
      const exists = await tx.batchTask.count({ where: { batchId, taskId } });
      return { started: false, reason: exists ? 'cancelled' : 'not_found' };
    }
    const runNumber = rows[0].currentRun;
    await tx.taskRun.create({ data: { ...input, runNumber, state: 'running' } });
    await tx.batch.updateMany({ where: { id: batchId, state: 'queued' }, data: { state: 'running', startedAt: new Date() } });
    return { started: true, runNumber, task: rows[0].task as unknown as ArcTaskJson, state: 'running' };
  });
}

/**
 * Writes the result of a run in one transaction, with the task row locked.
 * The run record and its cost rows are always written. When the run is the task's
 * current run and the task is not cancelled, the task's attempts and candidates are
 * replaced, the task completes, and earlier runs count as wasted. Otherwise the run
 * becomes `superseded` (or `cancelled`), its cost wasted, and the stored result stays.
 * Repeating a call gives the same end state.
 */
export async function commitTaskResult(prisma: DbClient, input: CommitTaskResultInput): Promise<{ applied: boolean }> {
  return prisma.$transaction(async (tx) => {
    const task = await lockTask(tx, input);
    const isCurrent = task.current_run === input.runNumber && task.state !== 'cancelled';
    const keepsResult = isCurrent || task.result_run === input.runNumber;
    await finishRun(tx, input, {
      state: committedRunState(keepsResult, task.state),
      ...input.timings,
      deviceSeconds: input.deviceSeconds,
      errorCode: null,
      errorMessage: null,
    });
    await upsertCosts(tx, input, input.cost, !keepsResult);
    if (!isCurrent) return { applied: false };
    await replaceResult(tx, input);
    return { applied: true };
  });
}

/**
 * Records a failed run (`cancelled` when its task was cancelled) and its cost rows,
 * marked wasted. When `final` and the run is current, the task fails with the code and
 * message, unless an earlier run stored a result: then the task stays completed with
 * that result. When not final, a current task goes back to `queued` for the retry.
 * Returns applied true when the task failed.
 */
export async function failTaskRun(prisma: DbClient, input: FailTaskRunInput): Promise<{ applied: boolean }> {
  return prisma.$transaction(async (tx) => {
    const task = await lockTask(tx, input);
    await finishRun(tx, input, {
      state: task.state === 'cancelled' ? 'cancelled' : 'failed',
      deviceSeconds: input.deviceSeconds,
      errorCode: input.code,
      errorMessage: input.message,
    });
    if (input.cost) await upsertCosts(tx, input, input.cost, true);
    const isCurrent = task.current_run === input.runNumber && task.state !== 'cancelled';
    if (!isCurrent) return { applied: false };
    const where = { batchId_taskId: { batchId: input.batchId, taskId: input.taskId } };
    if (!input.final) {
      await tx.batchTask.update({ where, data: { state: 'queued' } });
      return { applied: false };
    }
    if (task.result_run !== null) {
      await tx.batchTask.update({ where, data: { state: 'completed' } });
      return { applied: false };
    }
    await tx.batchTask.update({ where, data: { state: 'failed', failureCode: input.code, failureMessage: input.message } });
    return { applied: true };
  });
}

function committedRunState(keepsResult: boolean, taskState: TaskState): RunState {
  if (keepsResult) return 'completed';
  if (taskState === 'cancelled') return 'cancelled';
  return 'superseded';
}

// FOR UPDATE serializes this transaction with startTaskRun's increment and with other
// result writes of the same task, so "is this run current?" cannot change under it.
async function lockTask(tx: Tx, key: RunKey): Promise<LockedTask> {
  const rows = await tx.$queryRaw<LockedTask[]>`
    SELECT current_run, state, result_run FROM batch_tasks
    WHERE batch_id = ${key.batchId}::uuid AND task_id = ${key.taskId}
    FOR UPDATE`;
  if (rows.length === 0) throw new Error(`task ${key.taskId} of batch ${key.batchId} not found`);
  return rows[0];
}

async function finishRun(
  tx: Tx,
  key: RunKey,
  fields: Partial<RunTimings> & { state: RunState; deviceSeconds: number; errorCode: string | null; errorMessage: string | null },
): Promise<void> {
  const { count } = await tx.taskRun.updateMany({
    where: { batchId: key.batchId, taskId: key.taskId, runNumber: key.runNumber },
    data: { ...fields, finishedAt: new Date() },
  });
  if (count === 0) {
    throw new Error(`run ${key.runNumber} of task ${key.taskId} in batch ${key.batchId} was never started: call startTaskRun first`);
  }
}

async function upsertCosts(tx: Tx, key: RunKey, cost: CostInput | CostInput[], wasted: boolean): Promise<void> {
  for (const row of Array.isArray(cost) ? cost : [cost]) {
    const id = { batchId: key.batchId, taskId: key.taskId, runNumber: key.runNumber, kind: row.kind };
    const fields = { ...row, wasted };
    await tx.costRecord.upsert({
      where: { batchId_taskId_runNumber_kind: id },
      create: { ...id, ...fields },
      update: fields,
    });
  }
}

async function replaceResult(tx: Tx, input: CommitTaskResultInput): Promise<void> {
  const { batchId, taskId, runNumber } = input;
  await tx.attempt.deleteMany({ where: { batchId, taskId } });
  await tx.candidate.deleteMany({ where: { batchId, taskId } });
  await tx.attempt.createMany({ data: input.attempts.map((a) => ({ ...a, batchId, taskId, runNumber })) });
  await tx.candidate.createMany({
    data: input.candidates.map((c) => ({ ...c, grid: c.grid ?? Prisma.DbNull, batchId, taskId, runNumber })),
  });
  await tx.batchTask.update({
    where: { batchId_taskId: { batchId, taskId } },
    data: {
      state: 'completed',
      resultRun: runNumber,
      correct: input.correct,
      solvedFraction: input.solvedFraction,
      details: input.details ?? Prisma.DbNull,
      failureCode: null,
      failureMessage: null,
    },
  });
  // The result of any other run is gone now, so its device time bought nothing.
  await tx.costRecord.updateMany({ where: { batchId, taskId, runNumber: { not: runNumber } }, data: { wasted: true } });
  await tx.taskRun.updateMany({
    where: { batchId, taskId, runNumber: { not: runNumber }, state: 'completed' },
    data: { state: 'superseded' },
  });
}
