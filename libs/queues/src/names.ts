/** Queue of `eval-task` jobs, taken by GPU workers (one job at a time per GPU). */
export const GPU_QUEUE = "nvarc-gpu";

/** Queue of `eval-batch` parent jobs, which score a batch when its tasks end. */
export const BATCH_QUEUE = "nvarc-batch";

/** Queue of `sft-run` jobs: one supervised fine-tuning run each, taken by GPU workers. */
export const SFT_QUEUE = "nvarc-sft";

/** Job names. */
export const EVAL_TASK_JOB = "eval-task";
export const EVAL_BATCH_JOB = "eval-batch";
export const SFT_RUN_JOB = "sft-run";

/** Data of an `sft-run` job; everything else is read from the run's row. */
export interface SftRunJobData {
  runId: string;
}

/** Redis pub/sub channel announcing cancelled SFT runs (message: the run id). */
export function sftCancelChannel(queuePrefix: string): string {
  return `${queuePrefix}:sft-run-cancelled`;
}

/** Redis pub/sub channel announcing cancelled batches (message: the batch id). */
export function cancelChannel(queuePrefix: string): string {
  return `${queuePrefix}:batch-cancelled`;
}
