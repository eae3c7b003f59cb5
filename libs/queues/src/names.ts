/** Queue of `eval-task` jobs, taken by GPU workers (one job at a time per GPU). */
export const GPU_QUEUE = "nvarc-gpu";

/** Queue of `eval-batch` parent jobs, which score a batch when its tasks end. */
export const BATCH_QUEUE = "nvarc-batch";

/** Job names. */
export const EVAL_TASK_JOB = "eval-task";
export const EVAL_BATCH_JOB = "eval-batch";

/** Redis pub/sub channel announcing cancelled batches (message: the batch id). */
export function cancelChannel(queuePrefix: string): string {
  return `${queuePrefix}:batch-cancelled`;
}
