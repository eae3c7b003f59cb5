import { randomUUID } from "node:crypto";
import type { FlowProducer, Queue } from "bullmq";
import { buildSubmission, type ArcTask, type Grid } from "@nvarc/arc";
import { groupAttemptsByTest, taskJobId, type ProblemDetail } from "@nvarc/contracts";
import { enqueueBatchFlow } from "@nvarc/queues";
import type { Logger } from "@nvarc/telemetry";
import type { Repositories } from "@nvarc/db";
import type { ApiConfig } from "./config.ts";
import type { NormalizedBatchRequest } from "./batch-request.ts";

export type ApiDb = Repositories;

export interface BatchServiceDeps {
  config: ApiConfig;
  db: ApiDb;
  flowProducer: FlowProducer;
  gpuQueue: Queue;
  logger: Logger;
  /** Publishes a cancelled batch id to the workers. */
  publishCancel: (batchId: string) => Promise<void>;
}

/** Stores a batch and its tasks in one transaction, then adds its flow. */
export async function createBatch(deps: BatchServiceDeps, request: NormalizedBatchRequest): Promise<{ batchId?: string; problems: ProblemDetail[] }> {
  const model = request.options.modelId ? await deps.db.getModel(request.options.modelId) : await deps.db.getDefaultModel();
  if (!model) {
    const value = request.options.modelId ?? null;
    return { problems: [{ code: value ? "model_not_found" : "no_model_registered", taskId: null, path: "options.modelId", value, message: value ? `model "${value}" is not registered` : "no model is registered", hint: "List models with GET /v1/models; the api registers the folders of NVARC_MODELS_DIR at start." }] };
  }
  if (model.prunedAt) {
    return { problems: [{ code: "model_pruned", taskId: null, path: "options.modelId", value: model.id, message: `model "${model.id}" is a checkpoint whose files its SFT run deleted at ${model.prunedAt.toISOString()}`, hint: "Use a newer checkpoint or the run's final model (GET /v1/sft-runs/:id lists them), or raise keepCheckpoints in later runs." }] };
  }

  const batchId = randomUUID();
  const taskIds = Object.keys(request.tasks);
  await deps.db.createBatchWithTasks({
    id: batchId,
    modelId: model.id,
    options: JSON.parse(JSON.stringify({ ...request.options, modelId: model.id })),
    dataset: request.dataset,
    tasks: taskIds.map((taskId, position) => describeTask(taskId, position, request.tasks[taskId])),
  });

  // A crash between the commit above and this enqueue leaves a queued batch without
  // jobs; the sweeper re-adds its flow.
  await enqueue(deps, batchId, taskIds);
  deps.logger.info({ batchId, tasks: taskIds.length, modelId: model.id, preset: request.options.preset, dataset: request.dataset }, "batch accepted");
  return { batchId, problems: [] };
}

function describeTask(taskId: string, position: number, task: ArcTask) {
  return {
    taskId,
    position,
    task,
    testCount: task.test.length,
    hasGroundTruth: task.test.every((test) => test.output !== undefined),
  };
}

/** Adds (or re-adds) the flow of a batch and stamps the time. */
export async function enqueue(deps: Pick<BatchServiceDeps, "config" | "db" | "flowProducer">, batchId: string, taskIds: string[]): Promise<void> {
  const { config } = deps;
  await enqueueBatchFlow(
    deps.flowProducer, batchId, taskIds,
    { attempts: config.taskAttempts, backoffMs: config.retryBackoffMs },
    { completedAgeSeconds: config.completedJobRetentionSeconds, failedAgeSeconds: config.failedJobRetentionSeconds },
  );
  await deps.db.markBatchEnqueued(batchId);
}

/**
 * Cancels a batch: Postgres first (workers check it before each run), then queued
 * jobs are removed and running sidecar calls are aborted through pub/sub.
 */
export async function cancelBatch(deps: BatchServiceDeps, batchId: string): Promise<{ found: boolean; previousState?: string }> {
  const previous = await deps.db.cancelBatch(batchId);
  if (!previous) return { found: false };
  if (previous === "completed" || previous === "cancelled") return { found: true, previousState: previous };

  await deps.publishCancel(batchId);
  const tasks = await deps.db.getBatchResults(batchId);
  let removed = 0;
  for (const task of tasks) {
    const job = await deps.gpuQueue.getJob(taskJobId(batchId, task.taskId));
    if (!job) continue;
    try {
      const state = await job.getState();
      if (state === "waiting" || state === "delayed" || state === "prioritized") {
        await job.remove();
        removed++;
      }
    } catch (error) {
      // A job that became active meanwhile stays; its worker sees the cancel and stops.
      deps.logger.info({ batchId, jobId: job.id, err: error }, "job could not be removed while cancelling; its worker stops it");
    }
  }

  deps.logger.info({ batchId, previousState: previous, removedJobs: removed }, "batch cancelled");
  return { found: true, previousState: previous };
}

/** Builds the Kaggle submission of a batch; every task id is listed, failed ones too. */
export async function buildBatchSubmission(deps: Pick<BatchServiceDeps, "db">, batchId: string) {
  const tasks = await deps.db.getBatchResults(batchId);
  const attempts: Record<string, Grid[][]> = {};
  for (const task of tasks) {
    attempts[task.taskId] = groupAttemptsByTest(task.attempts, task.testCount);
  }
  return buildSubmission(tasks.map((task) => ({ taskId: task.taskId, testCount: task.testCount })), attempts);
}
