import type { JobsOptions } from "bullmq";

/** Retention of finished jobs in Redis; Postgres keeps the history. */
export interface RetentionSettings {
  /** Seconds a completed job stays in Redis. */
  completedAgeSeconds: number;
  /** Seconds a failed job stays in Redis. */
  failedAgeSeconds: number;
}

export const DEFAULT_RETENTION: RetentionSettings = {
  completedAgeSeconds: 24 * 3600,
  failedAgeSeconds: 7 * 24 * 3600,
};

/** Attempts and backoff of a task job: retryable sidecar faults are retried. */
export interface RetrySettings {
  attempts: number;
  /** First backoff delay in milliseconds, doubled on each retry. */
  backoffMs: number;
}

export const DEFAULT_RETRY: RetrySettings = { attempts: 3, backoffMs: 2000 };

/** Options of an `eval-task` child job. */
export function taskJobOptions(jobId: string, retry: RetrySettings, retention: RetentionSettings): JobsOptions {
  return {
    jobId,
    attempts: retry.attempts,
    backoff: { type: "exponential", delay: retry.backoffMs },
    // A failed task must not block the parent: it is scored as zero instead.
    ignoreDependencyOnFailure: true,
    removeOnComplete: { age: retention.completedAgeSeconds },
    removeOnFail: { age: retention.failedAgeSeconds },
  };
}

/** Options of the `eval-batch` parent job. */
export function batchJobOptions(jobId: string, retention: RetentionSettings): JobsOptions {
  return {
    jobId,
    attempts: 5,
    backoff: { type: "exponential", delay: 1000 },
    removeOnComplete: { age: retention.completedAgeSeconds },
    removeOnFail: { age: retention.failedAgeSeconds },
  };
}

/**
 * Options of an `sft-run` job. The job id is the run id, so adding a run twice
 * queues it once; each retry resumes from the run's newest checkpoint.
 */
export function sftRunJobOptions(runId: string, retry: RetrySettings, retention: RetentionSettings): JobsOptions {
  return {
    jobId: runId,
    attempts: retry.attempts,
    backoff: { type: "exponential", delay: retry.backoffMs },
    removeOnComplete: { age: retention.completedAgeSeconds },
    removeOnFail: { age: retention.failedAgeSeconds },
  };
}
