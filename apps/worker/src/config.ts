import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { decimal, integer, oneOf, optionalString, url } from "@nvarc/contracts";

/** Worker settings, read once from the environment at start. */
export interface WorkerConfig {
  databaseUrl: string;
  redisUrl: string;
  /** Prefix of every BullMQ key in Redis; services sharing a Redis must use the same one. */
  queuePrefix: string;
  /** host:port of this worker's sidecar. */
  sidecarAddress: string;
  /** Largest gRPC message in bytes, both directions; must match the sidecar's. */
  grpcMaxMessageBytes: number;
  /** Price table key of the device this worker drives. */
  gpuType: string;
  /** Name stored on every run this worker makes. */
  workerId: string;
  /** BullMQ lock of an active job, in milliseconds; renewed at half this period. */
  lockDurationMs: number;
  /** Milliseconds between checks for jobs whose lock expired. */
  stalledIntervalMs: number;
  /** Times a job may stall and be taken again before it fails. */
  maxStalledCount: number;
  /** Port of /metrics; 0 picks a free port, -1 disables the server. */
  metricsPort: number;
  /** Milliseconds a SIGTERM waits for the current job before returning it to the queue. */
  shutdownGraceMs: number;
  /** Fault injected for reliability tests; empty in production. */
  testFault: string;
  /** Folder of SFT run directories (`<sftOutputDir>/<runId>`), as the sidecar sees it. */
  sftOutputDir: string;
  /** Milliseconds one Train call, or one Ray job of a `ray` run, may run before it is abandoned. */
  sftTimeoutMs: number;
  /** Ray backend settings; see readRayConfig. */
  ray: RayConfig;
}

/** Settings of SFT runs with backend `ray`: the cluster address and the resources of one run. */
export interface RayConfig {
  /** Ray dashboard URL (it serves the Jobs REST API); undefined when this worker runs no `ray` runs. */
  address?: string;
  /** Ray actors of one run, each one data-parallel rank. */
  workers: number;
  /** CPUs and GPUs reserved for each actor; GPUs above 0 select nccl, 0 selects gloo. */
  cpusPerWorker: number;
  gpusPerWorker: number;
  /** Milliseconds between reads of a Ray job's status and logs. */
  pollIntervalMs: number;
  /** Python command of the job's entrypoint on the Ray head; its environment must import nvarc_sidecar and ray. */
  python: string;
}

/** Default folder of SFT run directories: data/sft-runs at the repository root. */
export const DEFAULT_SFT_OUTPUT_DIR = fileURLToPath(new URL("../../../data/sft-runs", import.meta.url));

/** Reads and validates the worker's environment; throws naming the first bad variable. */
export function readWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  return {
    databaseUrl: url(env, "DATABASE_URL", ["postgres", "postgresql"], "Set it to the Postgres URL, e.g. postgresql://postgres@127.0.0.1:5432/nvarc."),
    redisUrl: url(env, "REDIS_URL", ["redis", "rediss"], "Set it to the Redis URL, e.g. redis://127.0.0.1:6379."),
    queuePrefix: optionalString(env, "NVARC_QUEUE_PREFIX", "nvarc"),
    sidecarAddress: optionalString(env, "NVARC_SIDECAR_ADDRESS", "127.0.0.1:50051"),
    grpcMaxMessageBytes: integer(env, "NVARC_GRPC_MAX_MESSAGE_BYTES", 16 * 1024 * 1024, 256, 2 ** 31 - 1),
    gpuType: oneOf(env, "NVARC_GPU_TYPE", "cpu", ["cpu", "l4", "a100", "h100", "h200"]),
    workerId: optionalString(env, "NVARC_WORKER_ID", `${os.hostname()}-${process.pid}`),
    lockDurationMs: integer(env, "NVARC_WORKER_LOCK_MS", 60_000, 1000, 3_600_000),
    stalledIntervalMs: integer(env, "NVARC_WORKER_STALLED_INTERVAL_MS", 30_000, 500, 3_600_000),
    maxStalledCount: integer(env, "NVARC_WORKER_MAX_STALLED_COUNT", 2, 0, 100),
    metricsPort: integer(env, "NVARC_WORKER_METRICS_PORT", 9464, -1, 65535),
    shutdownGraceMs: Math.round(decimal(env, "NVARC_SHUTDOWN_GRACE_S", 30, 0, 3600) * 1000),
    testFault: optionalString(env, "NVARC_TEST_FAULT", ""),
    sftOutputDir: path.resolve(optionalString(env, "NVARC_SFT_OUTPUT_DIR", DEFAULT_SFT_OUTPUT_DIR)),
    sftTimeoutMs: Math.round(decimal(env, "NVARC_SFT_TIMEOUT_S", 86_400, 1, 30 * 86_400) * 1000),
    ray: readRayConfig(env),
  };
}

/** Reads the NVARC_RAY_* variables; NVARC_RAY_ADDRESS may be unset, and when set it must be an http(s) URL. */
export function readRayConfig(env: Record<string, string | undefined>): RayConfig {
  const address = env.NVARC_RAY_ADDRESS?.trim()
    ? url(env, "NVARC_RAY_ADDRESS", ["http", "https"], "Set it to the Ray dashboard URL, e.g. http://ray-head:8265, or unset it to run no `ray` SFT runs.")
    : undefined;
  return {
    address,
    workers: integer(env, "NVARC_RAY_WORKERS", 2, 1, 4096),
    cpusPerWorker: decimal(env, "NVARC_RAY_CPUS_PER_WORKER", 1, 0, 1024),
    gpusPerWorker: decimal(env, "NVARC_RAY_GPUS_PER_WORKER", 0, 0, 64),
    pollIntervalMs: integer(env, "NVARC_RAY_POLL_INTERVAL_MS", 2000, 100, 600_000),
    python: optionalString(env, "NVARC_RAY_PYTHON", "python"),
  };
}
