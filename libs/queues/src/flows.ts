import type { FlowJob, FlowProducer } from "bullmq";
import { batchJobId, taskJobId, type EvalBatchJobData, type EvalTaskJobData } from "@nvarc/contracts";
import { BATCH_QUEUE, EVAL_BATCH_JOB, EVAL_TASK_JOB, GPU_QUEUE } from "./names.ts";
import { batchJobOptions, taskJobOptions, type RetentionSettings, type RetrySettings } from "./job-options.ts";

/** Builds the flow of one batch: an `eval-batch` parent over one `eval-task` child per task. */
export function buildBatchFlow(batchId: string, taskIds: string[], retry: RetrySettings, retention: RetentionSettings): FlowJob {
  const children: FlowJob[] = taskIds.map((taskId) => {
    const data: EvalTaskJobData = { v: 1, batchId, taskId };
    return { name: EVAL_TASK_JOB, queueName: GPU_QUEUE, data, opts: taskJobOptions(taskJobId(batchId, taskId), retry, retention) };
  });

  const data: EvalBatchJobData = { v: 1, batchId };
  return { name: EVAL_BATCH_JOB, queueName: BATCH_QUEUE, data, opts: batchJobOptions(batchJobId(batchId), retention), children };
}

/**
 * Adds a batch's flow. Adding it again is harmless: BullMQ ignores a job whose id
 * already exists, so the sweeper can re-add flows without duplicating work.
 */
export async function enqueueBatchFlow(
  producer: FlowProducer, batchId: string, taskIds: string[], retry: RetrySettings, retention: RetentionSettings,
): Promise<void> {
  await producer.add(buildBatchFlow(batchId, taskIds, retry, retention));
}
