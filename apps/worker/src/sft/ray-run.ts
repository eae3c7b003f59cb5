// Runs one attempt of a `ray` SFT run as a Ray job: submit or re-attach, poll, parse progress, stop on cancel.
import type { Job } from "bullmq";
import type { TrainRequest, TrainUpdate } from "@nvarc/contracts";
import type { SftRunRecord } from "@nvarc/db";
import type { Logger } from "@nvarc/telemetry";
import type { RayConfig } from "../config.ts";
import type { WorkerDeps } from "../deps.ts";
import { withDbRetry } from "../db-retry.ts";
import { RayJobLogReader, lastErrorLine } from "./ray-job-logs.ts";
import { RayJobsApiError, RayJobsClient, TERMINAL_RAY_STATUSES, type RayJobInfo } from "./ray-jobs-client.ts";

/** A failed or stopped Ray attempt, with the device seconds its job used (see rayDeviceSeconds). */
export class RayRunError extends Error {
  constructor(readonly code: string, message: string, readonly retryable: boolean, readonly deviceSeconds = 0) {
    super(message);
    this.name = "RayRunError";
  }
}

/** Milliseconds of failing dashboard requests in a row after which the attempt fails (retryable). */
const UNREACHABLE_LIMIT_MS = 60_000;
/** Milliseconds a stopped job may take to reach a final state before the worker stops waiting. */
const STOP_WAIT_MS = 60_000;
/** Failure codes of the job that the same request would hit again (mirrors the local backend's gRPC codes). */
const PERMANENT_CODES = new Set(["invalid_argument", "not_found", "failed_precondition"]);

/**
 * Submission id of attempt `attempt` (1-based) of a run. It is a function of the run
 * and the attempt only, so a worker that takes the same attempt again after a restart
 * finds the running job instead of submitting a second one.
 */
export function raySubmissionId(runId: string, attempt: number): string {
  return `nvarc-sft-${runId}-attempt-${attempt}`;
}

/**
 * Device seconds of a Ray job: wall-clock seconds from submission to end (or now)
 * times the devices it reserved, i.e. workers x GPUs per worker, or workers when the
 * workers have no GPU. The unit is device seconds, priced per device hour like a local run.
 */
export function rayDeviceSeconds(info: RayJobInfo, nowMs = Date.now()): number {
  if (info.startTimeMs === null) return 0;
  const wallSeconds = Math.max(0, ((info.endTimeMs ?? nowMs) - info.startTimeMs) / 1000);
  const workers = Number(info.metadata.workers) || 1;
  const gpus = Number(info.metadata.gpusPerWorker) || 0;
  return wallSeconds * workers * (gpus > 0 ? gpus : 1);
}

/** Everything one attempt needs besides the worker's deps. */
export interface RayAttempt {
  job: Job;
  run: SftRunRecord;
  request: TrainRequest;
  signal: AbortSignal;
  logger: Logger;
  onUpdate: (update: TrainUpdate) => void;
}

/**
 * Runs the attempt's Ray job to its end and returns the final update (done, with the
 * final model path). Raises RayRunError for a failed, stopped, cancelled or
 * unreachable job; after a cancel the job has been asked to stop.
 */
export async function trainOnRay(deps: WorkerDeps, attempt: RayAttempt): Promise<TrainUpdate> {
  const { config } = deps;
  const { run, logger } = attempt;
  if (!config.ray.address) {
    throw new RayRunError("ray_not_configured", `SFT run ${run.id} uses backend "ray", but this worker has no NVARC_RAY_ADDRESS; set it to the Ray dashboard URL (e.g. http://ray-head:8265) on the workers`, false);
  }
  const client = new RayJobsClient(config.ray.address);
  const number = attempt.job.attemptsMade + 1;
  const submissionId = raySubmissionId(run.id, number);
  await stopEarlierAttempts(client, run.id, number, logger);

  const existing = await client.getJob(submissionId);
  if (existing) {
    logger.info({ rayJobId: submissionId, status: existing.status }, "re-attached to the Ray job of this attempt");
  } else {
    const submitted = await client.submitJob({
      submissionId,
      entrypoint: entrypoint(config.ray, attempt.request),
      entrypointNumCpus: 0,
      metadata: { nvarcSftRunId: run.id, attempt: String(number), workers: String(config.ray.workers), gpusPerWorker: String(config.ray.gpusPerWorker) },
    });
    logger.info({ rayJobId: submissionId, submitted, workers: config.ray.workers, cpusPerWorker: config.ray.cpusPerWorker, gpusPerWorker: config.ray.gpusPerWorker }, "Ray job submitted");
  }
  await withDbRetry(logger, `record Ray job of ${run.id}`, () => deps.db.recordSftRayJob(run.id, submissionId));
  return await followJob(deps, client, submissionId, attempt);
}

/** Builds `<python> -m nvarc_sidecar.sft.ray_job --request '<json>'`, the JSON quoted for a POSIX shell. */
export function entrypoint(ray: RayConfig, request: TrainRequest): string {
  const document = { train: request, workers: ray.workers, cpusPerWorker: ray.cpusPerWorker, gpusPerWorker: ray.gpusPerWorker };
  return `${ray.python} -m nvarc_sidecar.sft.ray_job --request ${shellQuote(JSON.stringify(document))}`;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Stops the jobs of earlier attempts that may still run (an attempt that lost the dashboard), so one run never trains twice at once. */
async function stopEarlierAttempts(client: RayJobsClient, runId: string, attempt: number, logger: Logger): Promise<void> {
  for (let earlier = 1; earlier < attempt; earlier += 1) {
    const id = raySubmissionId(runId, earlier);
    try {
      if (await client.stopJob(id)) logger.warn({ rayJobId: id }, "stopped the still running Ray job of an earlier attempt");
    } catch (error) {
      logger.warn({ err: error, rayJobId: id }, "could not stop the Ray job of an earlier attempt; it may still be running");
    }
  }
}

async function followJob(deps: WorkerDeps, client: RayJobsClient, submissionId: string, attempt: RayAttempt): Promise<TrainUpdate> {
  const { run, signal, logger } = attempt;
  const reader = new RayJobLogReader();
  const deadline = Date.now() + deps.config.sftTimeoutMs;
  let final: TrainUpdate | undefined;
  let lastLogs = "";
  let failingSince: number | undefined;

  for (;;) {
    if (signal.aborted) return await stopForCancel(deps, client, submissionId, reader, attempt);
    let info: RayJobInfo | null;
    try {
      info = await client.getJob(submissionId);
      const logs = info ? await client.getLogs(submissionId) : lastLogs;
      failingSince = undefined;
      for (const update of reader.readNew(logs)) {
        const withCost = { ...update, deviceSeconds: info ? rayDeviceSeconds(info) : 0 };
        if (withCost.done) final = withCost;
        attempt.onUpdate(withCost);
      }
      if (logs !== lastLogs) {
        lastLogs = logs;
        await withDbRetry(logger, `record Ray logs of ${run.id}`, () => deps.db.recordSftRayJob(run.id, submissionId, logs));
      }
    } catch (error) {
      if (!(error instanceof RayJobsApiError)) throw error;
      failingSince ??= Date.now();
      logger.warn({ err: error, rayJobId: submissionId }, "Ray dashboard request failed; retrying");
      if (Date.now() - failingSince > UNREACHABLE_LIMIT_MS) {
        throw new RayRunError("ray_unreachable", `the Ray dashboard at ${deps.config.ray.address} did not respond for ${UNREACHABLE_LIMIT_MS / 1000} s while following job ${submissionId}: ${error.message}`, true);
      }
      await sleep(deps.config.ray.pollIntervalMs, signal);
      continue;
    }

    if (!info) throw new RayRunError("ray_job_lost", `Ray job ${submissionId} of run ${run.id} no longer exists on the cluster (was the Ray head restarted?)`, true);
    if (TERMINAL_RAY_STATUSES.has(info.status)) {
      const finished = finishedJob(info, final, reader, lastLogs, signal);
      // The job's end time bills the seconds after the last progress line (saving the final
      // model, shutting down). Loss 0 marks an update without a trained step, so no loss point is added.
      attempt.onUpdate({ ...finished, loss: 0, checkpointPath: "" });
      return finished;
    }
    if (Date.now() > deadline) {
      await client.stopJob(submissionId).catch((error) => logger.warn({ err: error }, "stopping the Ray job after its deadline failed"));
      throw new RayRunError("ray_deadline_exceeded", `Ray job ${submissionId} ran longer than NVARC_SFT_TIMEOUT_S (${deps.config.sftTimeoutMs / 1000} s) and was stopped`, false, rayDeviceSeconds(info));
    }
    await sleep(deps.config.ray.pollIntervalMs, signal);
  }
}

/** Maps a job in a final state to the final update or a RayRunError. */
function finishedJob(info: RayJobInfo, final: TrainUpdate | undefined, reader: RayJobLogReader, logs: string, signal: AbortSignal): TrainUpdate {
  const deviceSeconds = rayDeviceSeconds(info);
  if (info.status === "SUCCEEDED") {
    if (final) return { ...final, deviceSeconds };
    throw new RayRunError("ray_protocol_error", `Ray job ${info.submissionId} succeeded without a final progress line naming the final model`, true, deviceSeconds);
  }
  if (info.status === "STOPPED") {
    if (signal.aborted) throw new RayRunError("cancelled", `Ray job ${info.submissionId} was stopped because the run was cancelled`, false, deviceSeconds);
    throw new RayRunError("ray_job_stopped", `Ray job ${info.submissionId} was stopped outside nvarc: ${info.message}`, false, deviceSeconds);
  }
  const failure = reader.failure;
  if (failure) {
    throw new RayRunError(`ray_${failure.code}`, failure.message, !PERMANENT_CODES.has(failure.code), deviceSeconds);
  }
  const detail = lastErrorLine(logs) ?? info.message;
  throw new RayRunError("ray_job_failed", `Ray job ${info.submissionId} failed: ${detail}`, true, deviceSeconds);
}

/** Stops the job after a cancel, waits a bounded time for it to end, stores its last logs and raises `cancelled`. */
async function stopForCancel(deps: WorkerDeps, client: RayJobsClient, submissionId: string, reader: RayJobLogReader, attempt: RayAttempt): Promise<never> {
  const { run, logger } = attempt;
  let info: RayJobInfo | null = null;
  try {
    const stopped = await client.stopJob(submissionId);
    logger.info({ rayJobId: submissionId, stopped }, "run cancelled; Ray job stop requested");
    const until = Date.now() + STOP_WAIT_MS;
    info = await client.getJob(submissionId);
    while (info && !TERMINAL_RAY_STATUSES.has(info.status) && Date.now() < until) {
      await sleep(Math.min(deps.config.ray.pollIntervalMs, 1000));
      info = await client.getJob(submissionId);
    }
    if (info && !TERMINAL_RAY_STATUSES.has(info.status)) logger.warn({ rayJobId: submissionId, status: info.status }, "Ray job did not stop in time after a cancel");
    const logs = await client.getLogs(submissionId);
    reader.readNew(logs);
    await deps.db.recordSftRayJob(run.id, submissionId, logs);
  } catch (error) {
    logger.warn({ err: error, rayJobId: submissionId }, "stopping the Ray job of a cancelled run failed");
  }
  throw new RayRunError("cancelled", `SFT run ${run.id} was cancelled; its Ray job ${submissionId} was stopped`, false, info ? rayDeviceSeconds(info) : 0);
}

/** Stops the Ray job of a run that was cancelled while no worker followed it. Errors are logged, not raised. */
export async function stopRayJobOfCancelledRun(deps: WorkerDeps, run: SftRunRecord, logger: Logger): Promise<void> {
  if (run.backend !== "ray" || run.state !== "cancelled" || !run.rayJobId || !deps.config.ray.address) return;
  try {
    const stopped = await new RayJobsClient(deps.config.ray.address).stopJob(run.rayJobId);
    if (stopped) logger.info({ rayJobId: run.rayJobId }, "stopped the Ray job of a cancelled run");
  } catch (error) {
    logger.warn({ err: error, rayJobId: run.rayJobId }, "stopping the Ray job of a cancelled run failed");
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
