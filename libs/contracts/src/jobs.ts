/** Payload of an `eval-task` job: one task of one batch. */
export interface EvalTaskJobData {
  /** Payload schema version. */
  v: 1;
  batchId: string;
  taskId: string;
}

/** Payload of an `eval-batch` job: the parent that scores a batch when its tasks end. */
export interface EvalBatchJobData {
  v: 1;
  batchId: string;
}

/** BullMQ job id of a task job. BullMQ rejects custom ids that contain ':'. */
export function taskJobId(batchId: string, taskId: string): string {
  return `${batchId}_${taskId}`;
}

/** BullMQ job id of a batch's parent job. */
export function batchJobId(batchId: string): string {
  return batchId;
}

/** Turns flat attempt rows into grids per test input, attempt 1 first. */
export function groupAttemptsByTest(attempts: { testIndex: number; attempt: number; grid: number[][] }[], testCount: number): number[][][][] {
  const byTest: number[][][][] = Array.from({ length: testCount }, () => []);
  for (const row of [...attempts].sort((a, b) => a.attempt - b.attempt)) {
    byTest[row.testIndex]?.push(row.grid);
  }
  return byTest;
}
