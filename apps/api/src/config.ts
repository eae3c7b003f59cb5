import path from "node:path";
import { fileURLToPath } from "node:url";
import { PRESET_NAMES, integer, oneOf, optionalString, url, type PresetName } from "@nvarc/contracts";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** API settings, read once from the environment at start. */
export interface ApiConfig {
  databaseUrl: string;
  redisUrl: string;
  /** Prefix of every BullMQ key in Redis; services sharing a Redis must use the same one. */
  queuePrefix: string;
  host: string;
  port: number;
  /** Largest accepted request body in bytes; a 400-task dataset inline is about 5 MB. */
  bodyLimitBytes: number;
  /** Folder holding dataset folders such as arc-agi-1/evaluation. */
  datasetsDir: string;
  /** Folder scanned at start for model directories to register. */
  modelsDir: string;
  defaultPreset: PresetName;
  defaultGpuType: string;
  /** Milliseconds between sweeps for committed batches that have no jobs. */
  sweepIntervalMs: number;
  /** A queued batch enqueued longer ago than this is re-added by the sweeper. */
  sweepAfterMs: number;
  /** Attempts of a task job and the first retry delay (doubled each retry). */
  taskAttempts: number;
  retryBackoffMs: number;
  /** Attempts of an SFT run job; each retry resumes from the run's newest checkpoint. */
  sftAttempts: number;
  /** Seconds finished jobs stay in Redis; Postgres keeps the history. */
  completedJobRetentionSeconds: number;
  failedJobRetentionSeconds: number;
  /** Ray dashboard URL; unset, SFT runs with backend `ray` are rejected. The workers need the same variable. */
  rayAddress?: string;
}

/** Reads and validates the api's environment; throws naming the first bad variable. */
export function readApiConfig(env: Record<string, string | undefined> = process.env): ApiConfig {
  return {
    databaseUrl: url(env, "DATABASE_URL", ["postgres", "postgresql"], "Set it to the Postgres URL, e.g. postgresql://postgres@127.0.0.1:5432/nvarc."),
    redisUrl: url(env, "REDIS_URL", ["redis", "rediss"], "Set it to the Redis URL, e.g. redis://127.0.0.1:6379."),
    queuePrefix: optionalString(env, "NVARC_QUEUE_PREFIX", "nvarc"),
    host: optionalString(env, "NVARC_API_HOST", "0.0.0.0"),
    port: integer(env, "NVARC_API_PORT", 8080, 0, 65535),
    bodyLimitBytes: integer(env, "NVARC_API_BODY_LIMIT_BYTES", 32 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    datasetsDir: path.resolve(optionalString(env, "NVARC_DATASETS_DIR", path.join(REPO_ROOT, "data/datasets"))),
    modelsDir: path.resolve(optionalString(env, "NVARC_MODELS_DIR", path.join(REPO_ROOT, "models"))),
    defaultPreset: oneOf(env, "NVARC_DEFAULT_PRESET", "cpu", PRESET_NAMES),
    defaultGpuType: oneOf(env, "NVARC_GPU_TYPE", "cpu", ["cpu", "l4", "a100", "h100", "h200"]),
    sweepIntervalMs: integer(env, "NVARC_SWEEP_INTERVAL_MS", 30_000, 100, 3_600_000),
    sweepAfterMs: integer(env, "NVARC_SWEEP_AFTER_MS", 60_000, 0, 86_400_000),
    taskAttempts: integer(env, "NVARC_TASK_ATTEMPTS", 3, 1, 20),
    retryBackoffMs: integer(env, "NVARC_RETRY_BACKOFF_MS", 2000, 10, 600_000),
    sftAttempts: integer(env, "NVARC_SFT_ATTEMPTS", 3, 1, 20),
    completedJobRetentionSeconds: integer(env, "NVARC_COMPLETED_JOB_RETENTION_S", 86_400, 0, 31_536_000),
    failedJobRetentionSeconds: integer(env, "NVARC_FAILED_JOB_RETENTION_S", 604_800, 0, 31_536_000),
    rayAddress: env.NVARC_RAY_ADDRESS?.trim()
      ? url(env, "NVARC_RAY_ADDRESS", ["http", "https"], "Set it to the Ray dashboard URL, e.g. http://ray-head:8265, or unset it to reject `ray` SFT runs.")
      : undefined,
  };
}
