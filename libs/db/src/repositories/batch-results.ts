// Reading a batch's task results: pages for the API, the full set for scoring.
import type { DbClient } from '../client.ts';
import type { Attempt, Candidate, CostRecord, TaskRun } from '../generated/prisma/client.ts';
import type { Grid, TaskState } from '../types.ts';
import { isBatchId, type ArcTaskJson } from './batches.ts';

/** One task in a page of listBatchTasksPage; the task JSON itself is left out to keep pages small. */
export interface BatchTaskView {
  batchId: string;
  taskId: string;
  position: number;
  testCount: number;
  hasGroundTruth: boolean;
  state: TaskState;
  currentRun: number;
  resultRun: number | null;
  failureCode: string | null;
  failureMessage: string | null;
  /** Per test input: true, false, or null when the output is unknown. */
  correct: (boolean | null)[] | null;
  solvedFraction: number | null;
  details: unknown;
  updatedAt: Date;
  /** Attempts of the result run, by test index then attempt. */
  attempts: Attempt[];
  /** Candidates of the result run, by test index then rank (invalid ones last). */
  candidates: Candidate[];
  /** Every run of the task with its cost rows, oldest first. */
  runs: (TaskRun & { costs: CostRecord[] })[];
}

/** A page of tasks and the cursor of the next page, null on the last page. */
export interface BatchTaskPage {
  items: BatchTaskView[];
  nextCursor: number | null;
}

/** The facts of one task that scoring and submission need. */
export interface TaskResult {
  taskId: string;
  position: number;
  testCount: number;
  hasGroundTruth: boolean;
  state: TaskState;
  /** Known output of each test input, null where unknown. */
  truths: (Grid | null)[];
  /** Attempts of the result run; empty when the task has no result. */
  attempts: { testIndex: number; attempt: number; grid: Grid }[];
}

/** Default and maximum page size of listBatchTasksPage. */
export const TASK_PAGE_DEFAULT_LIMIT = 50;
export const TASK_PAGE_MAX_LIMIT = 500;

/**
 * Returns the tasks after position `cursor` (from the start when cursor is null or
 * undefined), ordered by position, `limit` at most (default 50, clamped to 1..500).
 */
export async function listBatchTasksPage(
  prisma: DbClient,
  batchId: string,
  page: { cursor?: number | null; limit?: number } = {},
): Promise<BatchTaskPage> {
  if (!isBatchId(batchId)) return { items: [], nextCursor: null };
  const limit = Math.min(Math.max(Math.trunc(page.limit ?? TASK_PAGE_DEFAULT_LIMIT), 1), TASK_PAGE_MAX_LIMIT);
  const after = page.cursor ?? null;
  const rows = await prisma.batchTask.findMany({
    where: { batchId, ...(after === null ? {} : { position: { gt: after } }) },
    orderBy: { position: 'asc' },
    // One extra row shows whether another page follows.
    take: limit + 1,
    omit: { task: true },
    include: {
      attempts: { orderBy: [{ testIndex: 'asc' }, { attempt: 'asc' }] },
      candidates: { orderBy: [{ testIndex: 'asc' }, { rank: { sort: 'asc', nulls: 'last' } }, { candidateKey: 'asc' }] },
      runs: { orderBy: { runNumber: 'asc' }, include: { costs: { orderBy: { kind: 'asc' } } } },
    },
  });
  const items = rows.slice(0, limit).map((row) => ({
    ...row,
    state: row.state as TaskState,
    correct: row.correct as (boolean | null)[] | null,
  }));
  const nextCursor = rows.length > limit ? items[items.length - 1].position : null;
  return { items, nextCursor };
}

/** Returns every task of the batch in position order with its truths and attempts. */
export async function getBatchResults(prisma: DbClient, batchId: string): Promise<TaskResult[]> {
  if (!isBatchId(batchId)) return [];
  const rows = await prisma.batchTask.findMany({
    where: { batchId },
    orderBy: { position: 'asc' },
    select: {
      taskId: true,
      position: true,
      testCount: true,
      hasGroundTruth: true,
      state: true,
      task: true,
      attempts: { orderBy: [{ testIndex: 'asc' }, { attempt: 'asc' }], select: { testIndex: true, attempt: true, grid: true } },
    },
  });
  return rows.map(({ task, attempts, ...row }) => ({
    ...row,
    state: row.state as TaskState,
    truths: truthsOf(task as unknown as ArcTaskJson, row.testCount),
    attempts: attempts.map((a) => ({ ...a, grid: a.grid as Grid })),
  }));
}

function truthsOf(task: ArcTaskJson, testCount: number): (Grid | null)[] {
  return Array.from({ length: testCount }, (_, index) => task.test?.[index]?.output ?? null);
}
