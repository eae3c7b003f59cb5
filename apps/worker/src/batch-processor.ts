import type { Job } from "bullmq";
import { scoreBatch, type Grid } from "@nvarc/arc";
import { groupAttemptsByTest } from "@nvarc/contracts";
import type { EvalBatchJobData } from "@nvarc/contracts";
import type { WorkerDeps } from "./deps.ts";

/**
 * Scores a batch once all its task jobs ended (failed ones included), against the
 * batch's task list: failed or missing tasks with ground truth count as zero, tasks
 * without ground truth are unscored.
 */
export async function processBatchJob(deps: WorkerDeps, job: Job<EvalBatchJobData>): Promise<{ state: string }> {
  const { batchId } = job.data;
  const logger = deps.logger.child({ jobId: job.id, batchId });

  const batch = await deps.db.getBatch(batchId);
  if (!batch) {
    logger.warn("batch to score does not exist; nothing to do");
    return { state: "missing" };
  }
  if (batch.state === "cancelled" || batch.state === "completed") {
    logger.info({ state: batch.state }, "batch already finished; not scoring again");
    return { state: batch.state };
  }

  const results = await deps.db.getBatchResults(batchId);
  const tasks = results.map((task) => ({ taskId: task.taskId, truths: task.truths.map((truth) => truth ?? undefined) }));
  const attempts: Record<string, Grid[][]> = {};
  for (const task of results) {
    if (task.state === "completed") attempts[task.taskId] = groupAttemptsByTest(task.attempts, task.testCount);
  }

  const summary = scoreBatch(tasks, attempts);
  const { perTask: _perTask, ...scores } = summary;
  await deps.db.finishBatch(batchId, scores);
  deps.recordMetric(() => deps.metrics.batches.inc({ outcome: "completed" }));
  logger.info({ score: summary.score, taskScore: summary.taskScore, scoredTasks: summary.scoredTasks, unscoredTasks: summary.unscoredTasks }, "batch scored");
  return { state: "completed" };
}
