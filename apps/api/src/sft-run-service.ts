// Creates, enqueues and cancels SFT runs.
import { randomUUID } from "node:crypto";
import type { Queue } from "bullmq";
import type { ProblemDetail } from "@nvarc/contracts";
import { SFT_RUN_JOB, sftRunJobOptions, type SftRunJobData } from "@nvarc/queues";
import type { Logger } from "@nvarc/telemetry";
import type { Repositories, SftRunState } from "@nvarc/db";
import type { ApiConfig } from "./config.ts";
import type { NormalizedSftRunRequest } from "./sft-run-request.ts";

/** Dependencies of the SFT run routes besides the app's own. */
export interface SftRunServiceDeps {
  config: ApiConfig;
  db: Repositories;
  sftQueue: Queue<SftRunJobData>;
  logger: Logger;
  /** Publishes a cancelled run id to the workers. */
  publishSftCancel: (runId: string) => Promise<void>;
}

/** A request that names an unknown model or dataset, or a backend this deployment has not configured. */
export interface SftRunRejection {
  error: string;
  problems: ProblemDetail[];
  hint?: string;
}

/**
 * Stores a queued run and adds its `sft-run` job (job id = run id). Returns the run
 * id, or a rejection naming the field at fault; nothing is stored on rejection.
 */
export async function createSftRun(deps: SftRunServiceDeps, request: NormalizedSftRunRequest): Promise<{ runId?: string; rejection?: SftRunRejection }> {
  if (request.backend === "ray" && !deps.config.rayAddress) {
    return {
      rejection: {
        error: "backend_not_configured",
        problems: [problem("ray_not_configured", "backend", "ray", 'backend "ray" needs a Ray cluster, and NVARC_RAY_ADDRESS is not set on the api', 'Set NVARC_RAY_ADDRESS to the Ray dashboard URL (e.g. http://ray-head:8265) on the api and the workers, or use backend "local".')],
        hint: 'Set NVARC_RAY_ADDRESS on the api and the workers, or use backend "local".',
      },
    };
  }

  const problems = await findUnknownInputs(deps, request);
  if (problems.length > 0) return { rejection: { error: "invalid_sft_run", problems } };

  const runId = randomUUID();
  await deps.db.createSftRun({ id: runId, baseModelId: request.baseModelId, datasetId: request.datasetId, backend: request.backend, hyperparameters: request.hyperparameters, outputDir: "" });
  // A crash between the insert above and this add leaves a queued run without a job;
  // the sweeper re-adds it (sweepQueuedSftRuns).
  await enqueueSftRun(deps, runId);
  deps.logger.info({ sftRunId: runId, baseModelId: request.baseModelId, datasetId: request.datasetId }, "SFT run accepted");
  return { runId };
}

/**
 * Adds the `sft-run` job of a run under the run id. Adding it again is a no-op while
 * BullMQ still has a job with that id.
 */
export async function enqueueSftRun(deps: Pick<SftRunServiceDeps, "config" | "sftQueue">, runId: string): Promise<void> {
  await deps.sftQueue.add(SFT_RUN_JOB, { runId }, sftRunJobOptions(
    runId,
    { attempts: deps.config.sftAttempts, backoffMs: deps.config.retryBackoffMs },
    { completedAgeSeconds: deps.config.completedJobRetentionSeconds, failedAgeSeconds: deps.config.failedJobRetentionSeconds },
  ));
}

async function findUnknownInputs(deps: SftRunServiceDeps, request: NormalizedSftRunRequest): Promise<ProblemDetail[]> {
  const problems: ProblemDetail[] = [];
  if (!(await deps.db.getModel(request.baseModelId))) {
    problems.push(problem("model_not_found", "baseModelId", request.baseModelId, `model "${request.baseModelId}" is not registered`, "List models with GET /v1/models."));
  }
  if (!(await deps.db.getSftDataset(request.datasetId))) {
    problems.push(problem("dataset_not_found", "datasetId", request.datasetId, `SFT dataset "${request.datasetId}" is not recorded`, "Build and record it with `nvarc dataset build`; its id is the artifact folder name."));
  }
  return problems;
}

/**
 * Cancels a run: Postgres first (a worker skips a cancelled run), then a waiting job
 * is removed and a running Train call or Ray job is stopped through pub/sub. Returns the
 * state before the call, or null for an unknown run.
 */
export async function cancelSftRun(deps: SftRunServiceDeps, runId: string): Promise<SftRunState | null> {
  const previous = await deps.db.cancelSftRun(runId);
  if (previous !== "queued" && previous !== "running") return previous;

  await deps.publishSftCancel(runId);
  const job = await deps.sftQueue.getJob(runId);
  try {
    const state = await job?.getState();
    if (state === "waiting" || state === "delayed" || state === "prioritized") await job?.remove();
  } catch (error) {
    // A job that became active meanwhile stays; its worker finds the run cancelled and stops.
    deps.logger.info({ sftRunId: runId, err: error }, "SFT job could not be removed while cancelling; its worker stops it");
  }
  deps.logger.info({ sftRunId: runId, previousState: previous }, "SFT run cancelled");
  return previous;
}

function problem(code: string, path: string, value: unknown, message: string, hint: string): ProblemDetail {
  return { code, taskId: null, path, value, message, hint };
}
