// Processes `sft-run` jobs: one supervised fine-tuning run on this worker's sidecar (backend
// `local`) or as a Ray job on a Ray cluster (backend `ray`).
import { UnrecoverableError, type Job } from "bullmq";
import type { TrainHyperparameters, TrainRequest, TrainUpdate } from "@nvarc/contracts";
import type { SftRunJobData } from "@nvarc/queues";
import type { ModelRecord, SftDatasetRecord, SftRunRecord } from "@nvarc/db";
import type { Logger } from "@nvarc/telemetry";
import type { WorkerDeps } from "../deps.ts";
import { SidecarCallError } from "../sidecar-errors.ts";
import { withDbRetry } from "../db-retry.ts";
import { SftProgressRecorder, finalModelId, registerRunModel } from "./run-progress.ts";
import { RayRunError, stopRayJobOfCancelledRun, trainOnRay } from "./ray-run.ts";
import { RayJobsApiError } from "./ray-jobs-client.ts";

/** Outcome returned to BullMQ as the job's return value. */
export interface SftRunJobOutcome {
  outcome: "completed" | "cancelled" | "skipped";
  finalModelId?: string;
}

/** A run failure with its stored error code. */
class SftRunFailure extends Error {
  constructor(readonly code: string, message: string, readonly retryable: boolean) {
    super(message);
  }
}

/** Settings the sidecar reads as "use the default" when zero or empty. */
const DEFAULT_HYPERPARAMETERS: TrainHyperparameters = {
  learningRate: 0, warmupSteps: 0, minLearningRate: 0, weightDecay: 0, beta1: 0, beta2: 0, eps: 0,
  maxGradNorm: 0, microBatchSequences: 0, gradientAccumulationSteps: 0, maxSteps: 0, epochs: 0, seed: 0,
  checkpointEverySteps: 0, keepCheckpoints: 0, dtype: "", torchThreads: 0,
};

/**
 * Processes one `sft-run` job: marks the run running and trains with `resume` set, so
 * a retried job continues from the newest checkpoint of the run directory
 * `<sftOutputDir>/<runId>`. Backend `local` calls the sidecar's Train; backend `ray`
 * runs the same request as a Ray job (ray-run.ts). Progress, checkpoint models and the
 * final model go to Postgres; a cancelled run stops its call or Ray job and ends `cancelled`.
 */
export async function processSftRunJob(deps: WorkerDeps, job: Job<SftRunJobData>): Promise<SftRunJobOutcome> {
  const { runId } = job.data;
  const logger = deps.logger.child({ jobId: job.id, sftRunId: runId });

  const run = await deps.db.getSftRun(runId);
  if (!run || !(await deps.db.markSftRunRunning(runId, deps.config.sftOutputDir))) {
    logger.info({ state: run?.state ?? "missing" }, "skipping SFT run that is missing or already finished");
    // A run cancelled while its worker was down may still have a Ray job running.
    if (run) await stopRayJobOfCancelledRun(deps, run, logger);
    return { outcome: "skipped" };
  }

  const cancellation = deps.cancellation.register(runId);
  const startedAt = Date.now();
  let recorder: SftProgressRecorder | undefined;
  try {
    const { baseModel, dataset } = await resolveInputs(deps, run);
    recorder = new SftProgressRecorder(deps, run, baseModel, run.deviceSeconds, logger, () => deps.cancellation.cancelBatch(runId));
    logger.info({ attemptsMade: job.attemptsMade, baseModelId: baseModel.id, datasetId: dataset.id }, "SFT run attempt started");
    return await train(deps, job, run, baseModel, dataset, recorder, cancellation.signal, logger);
  } catch (error) {
    return await handleRunError(deps, job, run, error, recorder, startedAt, cancellation.signal, logger);
  } finally {
    cancellation.release();
  }
}

async function resolveInputs(deps: WorkerDeps, run: SftRunRecord): Promise<{ baseModel: ModelRecord; dataset: SftDatasetRecord }> {
  const baseModel = await deps.db.getModel(run.baseModelId);
  if (!baseModel) throw new SftRunFailure("model_not_found", `base model "${run.baseModelId}" is not in the registry`, false);
  const dataset = await deps.db.getSftDataset(run.datasetId);
  if (!dataset) throw new SftRunFailure("dataset_not_found", `SFT dataset "${run.datasetId}" is not recorded`, false);
  return { baseModel, dataset };
}

async function train(
  deps: WorkerDeps, job: Job<SftRunJobData>, run: SftRunRecord, baseModel: ModelRecord, dataset: SftDatasetRecord,
  recorder: SftProgressRecorder, signal: AbortSignal, logger: Logger,
): Promise<SftRunJobOutcome> {
  const request: TrainRequest = {
    requestId: `${run.id}#${job.attemptsMade + 1}`,
    runId: run.id,
    baseModelPath: baseModel.path,
    datasetPath: dataset.path,
    outputDir: deps.config.sftOutputDir,
    hyperparameters: { ...DEFAULT_HYPERPARAMETERS, ...run.hyperparameters },
    resume: true,
    progressEverySteps: 1,
  };
  const onUpdate = (update: TrainUpdate) => {
    if (update.resumedFromStep > 0 && update.step === update.resumedFromStep) logger.info({ step: update.step }, "SFT run resumed from its newest checkpoint");
    recorder.accept(update);
    void job.updateProgress({ step: update.step, totalSteps: update.totalSteps }).catch((error) => logger.debug({ err: error }, "progress update failed"));
  };
  const final = run.backend === "ray"
    ? await trainOnRay(deps, { job, run, request, signal, logger, onUpdate })
    : await deps.sidecar.train(request, { timeoutMs: deps.config.sftTimeoutMs, signal }, onUpdate);
  await recorder.flush();

  const modelId = finalModelId(run.id);
  await withDbRetry(logger, `register final model of ${run.id}`, () => registerRunModel(deps, run, baseModel, {
    id: modelId, path: final.finalModelPath, step: final.step, loss: recorder.latestLoss,
    description: `final model of SFT run ${run.id} (${final.step} steps on dataset ${run.datasetId})`,
  }));
  const cost = recorder.costWith();
  const finished = await withDbRetry(logger, `finish ${run.id}`, () => deps.db.finishSftRun(run.id, cost));
  recordMetrics(deps, cost.deviceSeconds - run.deviceSeconds, cost.costUsd - run.costUsd);
  logger.info({ finalModelId: modelId, steps: final.step, deviceSeconds: cost.deviceSeconds, usd: cost.costUsd, stored: finished }, "SFT run completed");
  return { outcome: "completed", finalModelId: modelId };
}

function recordMetrics(deps: WorkerDeps, deviceSeconds: number, usd: number): void {
  const gpuType = deps.config.gpuType;
  deps.recordMetric(() => {
    deps.metrics.deviceSeconds.inc({ gpu_type: gpuType, stage: "sft" }, deviceSeconds);
    deps.metrics.costUsd.inc({ gpu_type: gpuType, kind: "device" }, usd);
  });
}

async function handleRunError(
  deps: WorkerDeps, job: Job<SftRunJobData>, run: SftRunRecord, error: unknown,
  recorder: SftProgressRecorder | undefined, startedAt: number, signal: AbortSignal, logger: Logger,
): Promise<SftRunJobOutcome> {
  // A call that died without a final reply bills the wall-clock time since the last
  // reported update as well: an upper bound of the device time. A Ray job's own times give its total.
  let unreported = 0;
  if (error instanceof SidecarCallError && recorder) unreported = Math.max(0, (Date.now() - startedAt) / 1000 - recorder.callDeviceSeconds);
  if (error instanceof RayRunError && recorder) unreported = Math.max(0, error.deviceSeconds - recorder.callDeviceSeconds);
  await recorder?.flush().catch((writeError) => logger.warn({ err: writeError }, "SFT progress write failed while handling a run error"));
  const cost = recorder?.costWith(unreported);

  if (signal.aborted) {
    await withDbRetry(logger, `cancel ${run.id}`, () => deps.db.cancelSftRun(run.id, cost));
    logger.info({ deviceSeconds: cost?.deviceSeconds }, "SFT run cancelled");
    return { outcome: "cancelled" };
  }

  const failure = classify(error);
  const final = !failure.retryable || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  await withDbRetry(logger, `fail ${run.id}`, () => deps.db.failSftRun({ id: run.id, code: failure.code, message: failure.message, final, cost }));
  if (cost) recordMetrics(deps, cost.deviceSeconds - run.deviceSeconds, cost.costUsd - run.costUsd);
  logger.warn({ err: error, code: failure.code, retryable: failure.retryable, final }, "SFT run attempt failed");

  if (final) throw new UnrecoverableError(`${failure.code}: ${failure.message}`);
  throw error;
}

function classify(error: unknown): { code: string; message: string; retryable: boolean } {
  if (error instanceof SftRunFailure) return { code: error.code, message: error.message, retryable: error.retryable };
  if (error instanceof SidecarCallError) return { code: `sidecar_${error.code}`, message: error.message, retryable: error.retryable };
  if (error instanceof RayRunError) return { code: error.code, message: error.message, retryable: error.retryable };
  if (error instanceof RayJobsApiError) return { code: "ray_unreachable", message: error.message, retryable: true };
  const message = error instanceof Error ? error.message : String(error);
  return { code: "internal_error", message, retryable: true };
}
