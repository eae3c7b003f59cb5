// Evaluation batches and their tasks: creation, state changes, progress and pages.
import type { DbClient } from '../client.ts';
import type { Batch, Prisma } from '../generated/prisma/client.ts';
import type { BatchState, Grid, TaskState } from '../types.ts';

/** An ARC task as submitted; test outputs are present when known. */
export interface ArcTaskJson {
  train: { input: Grid; output: Grid }[];
  test: { input: Grid; output?: Grid }[];
}

/** One task of a new batch. */
export interface BatchTaskInput {
  taskId: string;
  /** Order of the task in the submission, from 0, unique within the batch. */
  position: number;
  task: ArcTaskJson;
  testCount: number;
  /** True when every test input has a known output. */
  hasGroundTruth: boolean;
}

/** A new batch with all its tasks. */
export interface CreateBatchInput {
  /** UUID chosen by the caller, so that a retried request finds its batch. */
  id: string;
  modelId: string;
  /** Preset name and resolved options (ttft, decode, score, gpuType, budget). */
  options: Prisma.InputJsonObject;
  /** Dataset name when the tasks came from NVARC_DATASETS_DIR, null for inline tasks. */
  dataset: string | null;
  tasks: BatchTaskInput[];
}

/** A stored batch. */
export type BatchRecord = Batch;

/** Scores written when a batch completes. */
export interface BatchScores {
  score: number | null;
  taskScore: number | null;
  scoredTestInputs: number;
  solvedTestInputs: number;
  scoredTasks: number;
  unscoredTasks: number;
}

/** Task counts of a batch by state. */
export type BatchProgress = Record<TaskState, number> & { total: number };

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` can be a batch id; other strings match no batch. */
export function isBatchId(id: string): boolean {
  return UUID_PATTERN.test(id);
}

/**
 * Stores the batch (state `queued`) and all its tasks in one transaction.
 * Returns created false, storing nothing, when a batch with this id exists already,
 * so a retried request is harmless. A duplicate task id fails the whole call with
 * Prisma's unique-constraint error (code P2002) and nothing is stored.
 */
export async function createBatchWithTasks(prisma: DbClient, input: CreateBatchInput): Promise<{ created: boolean }> {
  return prisma.$transaction(async (tx) => {
    const batch = {
      id: input.id,
      state: 'queued',
      modelId: input.modelId,
      options: input.options,
      dataset: input.dataset,
      taskCount: input.tasks.length,
    };
    const { count } = await tx.batch.createMany({ data: [batch], skipDuplicates: true });
    if (count === 0) return { created: false };
    await tx.batchTask.createMany({
      data: input.tasks.map((task) => ({
        batchId: input.id,
        taskId: task.taskId,
        position: task.position,
        task: task.task as unknown as Prisma.InputJsonObject,
        testCount: task.testCount,
        hasGroundTruth: task.hasGroundTruth,
        state: 'queued',
      })),
    });
    return { created: true };
  });
}

/** Returns the batch, or null when no batch has this id. */
export async function getBatch(prisma: DbClient, id: string): Promise<BatchRecord | null> {
  if (!isBatchId(id)) return null;
  return prisma.batch.findUnique({ where: { id } });
}

/** Records that the batch's flow was added to the queues now. Returns false when no such batch exists. */
export async function markBatchEnqueued(prisma: DbClient, id: string): Promise<boolean> {
  if (!isBatchId(id)) return false;
  const { count } = await prisma.batch.updateMany({ where: { id }, data: { enqueuedAt: new Date() } });
  return count === 1;
}

/**
 * Returns queued batches whose flow was never enqueued, or last enqueued more than
 * `olderThanMs` ago, oldest first, at most `limit` (default 100). The sweeper re-adds their flows.
 */
export async function findQueuedBatchesWithoutRecentEnqueue(
  prisma: DbClient,
  olderThanMs: number,
  limit = 100,
): Promise<BatchRecord[]> {
  const cutoff = new Date(Date.now() - olderThanMs);
  return prisma.batch.findMany({
    where: { state: 'queued', OR: [{ enqueuedAt: null }, { enqueuedAt: { lt: cutoff } }] },
    orderBy: { createdAt: 'asc' },
    take: limit,
  });
}

/** Moves a queued batch to `running`. Returns false when the batch is not queued. */
export async function markBatchRunning(prisma: DbClient, id: string): Promise<boolean> {
  if (!isBatchId(id)) return false;
  const { count } = await prisma.batch.updateMany({
    where: { id, state: 'queued' },
    data: { state: 'running', startedAt: new Date() },
  });
  return count === 1;
}

/**
 * Cancels a queued or running batch: the batch and its queued or running tasks and
 * runs become `cancelled`. A completed or cancelled batch is left as it is.
 * Returns the state before the call, or null when no such batch exists.
 */
export async function cancelBatch(prisma: DbClient, id: string): Promise<BatchState | null> {
  if (!isBatchId(id)) return null;
  return prisma.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ state: BatchState }[]>`SELECT state FROM batches WHERE id = ${id}::uuid FOR UPDATE`;
    const previous = rows[0]?.state ?? null;
    if (previous !== 'queued' && previous !== 'running') return previous;
    await tx.batch.update({ where: { id }, data: { state: 'cancelled', finishedAt: new Date() } });
    await tx.batchTask.updateMany({
      where: { batchId: id, state: { in: ['queued', 'running'] } },
      data: { state: 'cancelled' },
    });
    await tx.taskRun.updateMany({ where: { batchId: id, state: 'running' }, data: { state: 'cancelled' } });
    return previous;
  });
}

/**
 * Marks the batch completed with its scores. A repeated call rewrites the scores and
 * keeps the first finishedAt. Does nothing to a cancelled batch.
 * Returns false when nothing was written (cancelled or unknown batch).
 */
export async function finishBatch(prisma: DbClient, id: string, scores: BatchScores): Promise<boolean> {
  if (!isBatchId(id)) return false;
  const first = await prisma.batch.updateMany({
    where: { id, state: { in: ['queued', 'running'] } },
    data: { ...scores, state: 'completed', finishedAt: new Date() },
  });
  if (first.count === 1) return true;
  const repeat = await prisma.batch.updateMany({ where: { id, state: 'completed' }, data: scores });
  return repeat.count === 1;
}

/** Counts the batch's tasks by state; all zero for an unknown batch. */
export async function getBatchProgress(prisma: DbClient, id: string): Promise<BatchProgress> {
  const progress: BatchProgress = { total: 0, queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
  if (!isBatchId(id)) return progress;
  const groups = await prisma.batchTask.groupBy({ by: ['state'], where: { batchId: id }, _count: { _all: true } });
  for (const group of groups) {
    progress[group.state as TaskState] = group._count._all;
    progress.total += group._count._all;
  }
  return progress;
}
