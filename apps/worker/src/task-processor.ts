import { UnrecoverableError, type Job } from "bullmq";
import { checkTaskFitsContext, scoreBatch, type ArcTask, type Grid } from "@nvarc/arc";
import type { EvalPreset, EvalTaskJobData } from "@nvarc/contracts";
import { costRecord } from "@nvarc/cost";
import { INVALID_CANDIDATE_REASONS, closedLabel, type Logger } from "@nvarc/telemetry";
import type { WorkerDeps } from "./deps.ts";
import { runTaskPipeline, type DeviceClock, type TaskPipelineResult } from "./task-pipeline.ts";
import { SidecarCallError } from "./sidecar-errors.ts";
import { buildCandidateRows, buildAttemptRows } from "./result-rows.ts";
import { ensureModelLoaded } from "./model-loader.ts";
import { injectFault } from "./faults.ts";
import { withDbRetry } from "./db-retry.ts";

/** A task failure that retrying cannot fix (bad input, size limits, deadlines). */
class TaskFailure extends Error {
  constructor(readonly code: string, message: string, readonly retryable: boolean) {
    super(message);
  }
}

/** Outcome returned to BullMQ as the job's return value. */
export interface TaskJobOutcome {
  outcome: "completed" | "superseded" | "cancelled" | "skipped";
  runNumber?: number;
}

/**
 * Processes one `eval-task` job: opens run n, drives the sidecar, and commits the
 * result only while run n is still the task's current run (at-least-once delivery
 * leaves one result and one billed run per execution).
 */
export async function processTaskJob(deps: WorkerDeps, job: Job<EvalTaskJobData>): Promise<TaskJobOutcome> {
  const { batchId, taskId } = job.data;
  const logger = deps.logger.child({ jobId: job.id, batchId, taskId });

  const batch = await deps.db.getBatch(batchId);
  if (!batch || batch.state === "cancelled") {
    logger.info({ state: batch?.state ?? "missing" }, "skipping task of a missing or cancelled batch");
    return { outcome: "skipped" };
  }
  await deps.db.markBatchRunning(batchId);

  const run = await deps.db.startTaskRun({ batchId, taskId, jobId: String(job.id), workerId: deps.config.workerId });
  if (!run.started) {
    logger.info({ reason: run.reason }, "not starting a run");
    return { outcome: "skipped" };
  }

  const runLogger = logger.child({ runNumber: run.runNumber });
  runLogger.info({ attemptsMade: job.attemptsMade }, "task run started");
  return executeRun(deps, job, batch, run.runNumber, run.task as unknown as ArcTask, runLogger);
}

async function executeRun(deps: WorkerDeps, job: Job<EvalTaskJobData>, batch: any, runNumber: number, storedTask: ArcTask, logger: Logger): Promise<TaskJobOutcome> {
  const { batchId, taskId } = job.data;
  const preset = batch.options.presetSettings as EvalPreset;
  const clock: DeviceClock = { ttftSeconds: 0, decodeSeconds: 0, scoreSeconds: 0 };
  const startedAt = Date.now();
  const cancellation = deps.cancellation.register(batchId);

  try {
    await checkBudget(deps, batch);
    checkContext(storedTask, preset);
    const model = await deps.db.getModel(batch.modelId);
    if (!model) throw new TaskFailure("model_not_found", `model "${batch.modelId}" is not in the registry`, false);
    await ensureModelLoaded(deps, model.path, preset.dtype, cancellation.signal);

    const result = await runTaskPipeline({
      requestId: `${job.id}#${runNumber}`,
      taskId,
      task: stripTestOutputs(storedTask),
      preset,
      sidecar: deps.sidecar,
      deadlineAtMs: startedAt + preset.taskDeadlineSeconds * 1000,
      signal: cancellation.signal,
      maxMessageBytes: deps.config.grpcMaxMessageBytes,
      logger,
      onProgress: (progress) => void job.updateProgress(progress).catch((error) => logger.debug({ err: error }, "progress update failed")),
    }, clock);

    await injectFault(deps.config.testFault, "after_sidecar", logger);
    const applied = await commitResult(deps, job, batch, runNumber, storedTask, result, startedAt, logger);
    await injectFault(deps.config.testFault, "after_commit", logger);
    return { outcome: applied ? "completed" : "superseded", runNumber };
  } catch (error) {
    return await handleRunError(deps, job, batch, runNumber, error, clock, startedAt, cancellation.signal, logger);
  } finally {
    cancellation.release();
  }
}

function stripTestOutputs(task: ArcTask): ArcTask {
  return { train: task.train, test: task.test.map((test) => ({ input: test.input })) };
}

function checkContext(task: ArcTask, preset: EvalPreset): void {
  const problem = checkTaskFitsContext(task, { maxSeqLen: preset.maxSeqLen, maxNewTokens: preset.decode.maxNewTokens });
  if (problem) throw new TaskFailure("task_exceeds_context", problem.message, false);
}

async function checkBudget(deps: WorkerDeps, batch: any): Promise<void> {
  const budgetUsd = batch.options.budgetUsd as number | undefined;
  if (budgetUsd === undefined || budgetUsd === null) return;

  const spent = await deps.db.sumCosts(batch.id);
  if (spent.usd >= budgetUsd) {
    throw new TaskFailure("budget_exceeded", `the batch spent $${spent.usd.toFixed(4)} of its $${budgetUsd} budget before this task started`, false);
  }
}

async function commitResult(
  deps: WorkerDeps, job: Job<EvalTaskJobData>, batch: any, runNumber: number, storedTask: ArcTask,
  result: TaskPipelineResult, startedAt: number, logger: Logger,
): Promise<boolean> {
  const { batchId, taskId } = job.data;
  const attempts = result.tests.map((test) => test.attempts);
  const truths = storedTask.test.map((test) => test.output as Grid | undefined);
  const verdict = scoreBatch([{ taskId, truths }], { [taskId]: attempts }).perTask[0];
  const deviceSeconds = result.ttftSeconds + result.decodeSeconds + result.scoreSeconds;
  const cost = { kind: "device" as const, ...costRecord(batch.options.gpuType, deviceSeconds) };

  const outcome: { applied: boolean } = await withDbRetry(deps.logger, `commit ${job.id}#${runNumber}`, () => deps.db.commitTaskResult({
    batchId, taskId, runNumber,
    attempts: buildAttemptRows(attempts, truths),
    candidates: buildCandidateRows(result.tests, truths),
    correct: verdict.correct,
    solvedFraction: verdict.solvedFraction,
    details: {
      modelId: batch.modelId,
      ttftPairsUsed: result.ttftPairsUsed,
      decodePairsUsed: result.tests.map((test) => test.decodePairsUsed),
      ttftLoss: result.ttftLoss,
      preset: batch.options.preset,
    },
    timings: {
      ttftSeconds: result.ttftSeconds, decodeSeconds: result.decodeSeconds, scoreSeconds: result.scoreSeconds,
      wallSeconds: (Date.now() - startedAt) / 1000,
    },
    deviceSeconds,
    cost,
  }));

  recordRunMetrics(deps, batch.options.gpuType, result, cost.usd, outcome.applied ? "completed" : "superseded", startedAt);
  logger.info({ applied: outcome.applied, deviceSeconds, usd: cost.usd, correct: verdict.correct }, outcome.applied ? "task result committed" : "task result superseded by a newer run; kept only its run record and cost");
  return outcome.applied;
}

function recordRunMetrics(deps: WorkerDeps, gpuType: string, result: TaskPipelineResult, usd: number, outcome: string, startedAt: number): void {
  const { metrics, recordMetric } = deps;
  recordMetric(() => {
    metrics.taskRuns.inc({ outcome });
    metrics.stageSeconds.observe({ stage: "ttft" }, result.ttftSeconds);
    metrics.stageSeconds.observe({ stage: "decode" }, result.decodeSeconds);
    metrics.stageSeconds.observe({ stage: "score" }, result.scoreSeconds);
    metrics.stageSeconds.observe({ stage: "total" }, (Date.now() - startedAt) / 1000);
    metrics.deviceSeconds.inc({ gpu_type: gpuType, stage: "ttft" }, result.ttftSeconds);
    metrics.deviceSeconds.inc({ gpu_type: gpuType, stage: "decode" }, result.decodeSeconds);
    metrics.deviceSeconds.inc({ gpu_type: gpuType, stage: "score" }, result.scoreSeconds);
    metrics.costUsd.inc({ gpu_type: gpuType, kind: "device" }, usd);
    if (outcome === "superseded") metrics.wastedCostUsd.inc({ gpu_type: gpuType, reason: "superseded" }, usd);
    for (const test of result.tests) {
      const valid = test.ranked.reduce((sum, candidate) => sum + candidate.count, 0);
      metrics.candidates.inc({ validity: "valid" }, valid);
      for (const invalid of test.invalid) {
        metrics.candidates.inc({ validity: "invalid" }, invalid.count);
        metrics.invalidCandidates.inc({ reason: closedLabel(invalid.code, INVALID_CANDIDATE_REASONS) }, invalid.count);
      }
    }
  });
}

async function handleRunError(
  deps: WorkerDeps, job: Job<EvalTaskJobData>, batch: any, runNumber: number, error: unknown,
  clock: DeviceClock, startedAt: number, signal: AbortSignal, logger: Logger,
): Promise<TaskJobOutcome> {
  const { batchId, taskId } = job.data;
  const deviceSeconds = clock.ttftSeconds + clock.decodeSeconds + clock.scoreSeconds + elapsedIfUnreported(error, clock, startedAt);
  const cost = { kind: "device" as const, ...costRecord(batch.options.gpuType, deviceSeconds) };

  if (signal.aborted) {
    await withDbRetry(deps.logger, `cancel ${job.id}#${runNumber}`, () => deps.db.failTaskRun({ batchId, taskId, runNumber, code: "cancelled", message: "the batch was cancelled", final: false, deviceSeconds, cost }));
    deps.recordMetric(() => deps.metrics.taskRuns.inc({ outcome: "cancelled" }));
    logger.info({ deviceSeconds }, "task run cancelled with its batch");
    return { outcome: "cancelled", runNumber };
  }

  const failure = classify(error);
  const attempts = job.opts.attempts ?? 1;
  const final = !failure.retryable || job.attemptsMade + 1 >= attempts;
  await withDbRetry(deps.logger, `fail ${job.id}#${runNumber}`, () => deps.db.failTaskRun({ batchId, taskId, runNumber, code: failure.code, message: failure.message, final, deviceSeconds, cost }));

  deps.recordMetric(() => {
    deps.metrics.taskRuns.inc({ outcome: "failed" });
    deps.metrics.costUsd.inc({ gpu_type: batch.options.gpuType, kind: "device" }, cost.usd);
    deps.metrics.wastedCostUsd.inc({ gpu_type: batch.options.gpuType, reason: "failed" }, cost.usd);
  });
  logger.warn({ err: error, code: failure.code, retryable: failure.retryable, final, deviceSeconds }, "task run failed");

  if (final) {
    const message = failure.message.startsWith(failure.code) ? failure.message : `${failure.code}: ${failure.message}`;
    throw new UnrecoverableError(message);
  }
  throw error;
}

/**
 * Device seconds of a call that failed without a reply (a size-limit error, a lost
 * connection): the caller's wall-clock time replaces the sidecar's figure, an upper bound.
 */
function elapsedIfUnreported(error: unknown, clock: DeviceClock, startedAt: number): number {
  if (!(error instanceof SidecarCallError)) return 0;
  const reported = clock.ttftSeconds + clock.decodeSeconds + clock.scoreSeconds;
  return Math.max(0, (Date.now() - startedAt) / 1000 - reported);
}

function classify(error: unknown): { code: string; message: string; retryable: boolean } {
  if (error instanceof TaskFailure) return { code: error.code, message: error.message, retryable: error.retryable };
  if (error instanceof SidecarCallError) return { code: `sidecar_${error.code}`, message: error.message, retryable: error.retryable };
  if (error instanceof Error && (error as any).code === "task_exceeds_context") return { code: "task_exceeds_context", message: error.message, retryable: false };
  const message = error instanceof Error ? error.message : String(error);
  return { code: "internal_error", message, retryable: true };
}
