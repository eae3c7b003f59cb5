import { Worker, type Job } from "bullmq";
import type { Redis } from "ioredis";
import { BATCH_QUEUE, GPU_QUEUE, SFT_QUEUE, cancelChannel, createRedisConnection, sftCancelChannel, type SftRunJobData } from "@nvarc/queues";
import { LABEL_VALUES, closedLabel, createMetrics, createSafeRecorder, type Logger, type NvarcMetrics } from "@nvarc/telemetry";
import type { EvalBatchJobData, EvalTaskJobData } from "@nvarc/contracts";
import type { WorkerConfig } from "./config.ts";
import type { WorkerDb, WorkerDeps } from "./deps.ts";
import { SidecarClient } from "./sidecar-client.ts";
import { CancellationRegistry } from "./cancellation.ts";
import { processTaskJob } from "./task-processor.ts";
import { processBatchJob } from "./batch-processor.ts";
import { processSftRunJob } from "./sft/run-processor.ts";
import { startMetricsServer, type MetricsServer } from "./metrics-server.ts";

/** A running worker: the GPU task consumer, the SFT run consumer, the batch scorer and /metrics. */
export interface WorkerRuntime {
  deps: WorkerDeps;
  metricsServer?: MetricsServer;
  /** Stops taking jobs; waits up to the grace period for the current job, then forces. */
  close(): Promise<void>;
}

export interface WorkerRuntimeOptions {
  config: WorkerConfig;
  db: WorkerDb;
  logger: Logger;
  metrics?: NvarcMetrics;
  /** Extra work to run on close, e.g. closing the database client. */
  onClose?: () => Promise<void>;
  /** Pool counts shown on /metrics; absent for clients without a pool. */
  poolStats?: () => { total: number; idle: number; waiting: number };
}

/** Starts consuming the task and batch queues. */
export async function startWorkerRuntime(options: WorkerRuntimeOptions): Promise<WorkerRuntime> {
  const { config, logger } = options;
  const metrics = options.metrics ?? createMetrics();
  const connections: Redis[] = [];
  const connect = () => {
    const connection = createRedisConnection(config.redisUrl);
    connection.on("error", (error) => logger.warn({ err: error }, "redis connection error"));
    connections.push(connection);
    return connection;
  };

  const cancellation = new CancellationRegistry(logger);
  await cancellation.listen(connect(), cancelChannel(config.queuePrefix));
  // Run ids and batch ids are both UUIDs, so one registry serves both channels.
  await cancellation.listen(connect(), sftCancelChannel(config.queuePrefix));

  const recordMetric = createSafeRecorder(metrics, logger);
  const observe = (method: string, seconds: number, error?: { code?: string }) => recordMetric(() => {
    metrics.sidecarCallSeconds.observe({ method, status: error ? "error" : "ok" }, seconds);
    if (error) metrics.sidecarErrors.inc({ method, code: closedLabel(error.code ?? "other", LABEL_VALUES.sidecarErrorCode) });
  });
  const deps: WorkerDeps = {
    config, db: options.db, logger, metrics, recordMetric, cancellation,
    sidecar: new SidecarClient({ address: config.sidecarAddress, maxMessageBytes: config.grpcMaxMessageBytes, observe }),
    loadedModels: new Map(),
  };

  const taskWorker = createTaskWorker(deps, connect());
  const sftWorker = createSftWorker(deps, connect());
  const batchWorker = new Worker<EvalBatchJobData>(BATCH_QUEUE, (job) => processBatchJob(deps, job), {
    connection: connect(), prefix: config.queuePrefix, concurrency: 4, name: config.workerId,
  });
  batchWorker.on("failed", (job, error) => logger.error({ jobId: job?.id, err: error }, "batch job failed"));
  batchWorker.on("error", (error) => logger.error({ err: error }, "batch worker error"));

  const refreshGauges = () => {
    const pool = options.poolStats?.();
    if (pool) recordMetric(() => { for (const [state, value] of Object.entries(pool)) metrics.dbPoolConnections.set({ state }, value); });
  };
  const metricsServer = config.metricsPort >= 0 ? await startMetricsServer(metrics, config.metricsPort, logger, refreshGauges) : undefined;
  logger.info({ workerId: config.workerId, sidecar: config.sidecarAddress, gpuType: config.gpuType, lockDurationMs: config.lockDurationMs, stalledIntervalMs: config.stalledIntervalMs, maxStalledCount: config.maxStalledCount, metricsPort: metricsServer?.port }, "worker started");

  return {
    deps,
    metricsServer,
    close: async () => {
      await Promise.all([closeWithGrace(taskWorker, config.shutdownGraceMs, logger), closeWithGrace(sftWorker, config.shutdownGraceMs, logger)]);
      await batchWorker.close();
      await metricsServer?.close();
      deps.sidecar.close();
      await Promise.all(connections.map((connection) => connection.quit().catch(() => connection.disconnect())));
      await options.onClose?.();
      logger.info("worker stopped");
    },
  };
}

/**
 * Creates the task consumer with concurrency 1, because a GPU worker drives one sidecar
 * on one device. The model runs in the sidecar process, so this event loop stays free
 * to renew the job's lock during long calls.
 */
function createTaskWorker(deps: WorkerDeps, connection: Redis): Worker<EvalTaskJobData> {
  return createDeviceWorker(deps, connection, GPU_QUEUE, (job: Job<EvalTaskJobData>) => processTaskJob(deps, job), { job: "job", worker: "task worker", failed: "task job failed" });
}

/**
 * Creates the SFT run consumer with concurrency 1. It shares the sidecar with the task
 * consumer; the sidecar runs one call at a time, so a task waits while a run trains.
 */
function createSftWorker(deps: WorkerDeps, connection: Redis): Worker<SftRunJobData> {
  return createDeviceWorker(deps, connection, SFT_QUEUE, (job: Job<SftRunJobData>) => processSftRunJob(deps, job), { job: "SFT job", worker: "SFT worker", failed: "SFT job failed" });
}

/** Creates a consumer of device jobs (one at a time, locks from config) and logs its events. */
function createDeviceWorker<T>(
  deps: WorkerDeps, connection: Redis, queue: string, processor: (job: Job<T>) => Promise<unknown>,
  names: { job: string; worker: string; failed: string },
): Worker<T> {
  const { config, logger, metrics, recordMetric } = deps;
  const worker = new Worker<T>(queue, processor, {
    connection,
    prefix: config.queuePrefix,
    concurrency: 1,
    name: config.workerId,
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: config.maxStalledCount,
  });

  worker.on("stalled", (jobId) => {
    recordMetric(() => metrics.jobsStalled.inc({ queue }));
    logger.warn({ jobId, queue }, `${names.job} stalled: its lock expired and it returns to the queue`);
  });
  worker.on("failed", (job, error) => logger.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, err: error }, names.failed));
  worker.on("lockRenewalFailed", (jobIds) => logger.warn({ jobIds, queue }, "job lock renewal failed"));
  worker.on("error", (error) => logger.error({ err: error }, `${names.worker} error`));
  return worker;
}

async function closeWithGrace(worker: Worker, graceMs: number, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = worker.close().then(() => "closed" as const);
  const expired = new Promise<"expired">((resolve) => { timer = setTimeout(() => resolve("expired"), graceMs); });

  const outcome = await Promise.race([graceful, expired]);
  clearTimeout(timer);
  if (outcome === "expired") {
    logger.warn({ graceMs }, "current job did not finish within the grace period; returning it to the queue");
    await worker.close(true);
  }
}
