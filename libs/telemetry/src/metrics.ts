import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "pino";

/**
 * Metric definitions of the api and the workers, prefix `nvarc_`, base units.
 *
 * Labels take values from small closed sets (stage, outcome, gpu type, method, code,
 * reason, queue, state). Task, job and batch ids never become labels: per-task
 * figures go to Postgres and the logs, so the set of series stays the same however
 * many tasks run.
 */
export interface NvarcMetrics {
  registry: Registry;
  taskRuns: Counter<"outcome">;
  stageSeconds: Histogram<"stage">;
  deviceSeconds: Counter<"gpu_type" | "stage">;
  costUsd: Counter<"gpu_type" | "kind">;
  wastedCostUsd: Counter<"gpu_type" | "reason">;
  candidates: Counter<"validity">;
  invalidCandidates: Counter<"reason">;
  sidecarCallSeconds: Histogram<"method" | "status">;
  sidecarErrors: Counter<"method" | "code">;
  jobsStalled: Counter<"queue">;
  queueJobs: Gauge<"queue" | "state">;
  dbPoolConnections: Gauge<"state">;
  batches: Counter<"outcome">;
  httpRequests: Counter<"method" | "route" | "status_code">;
  metricsErrors: Counter<string>;
}

/** Reasons an invalid candidate is counted under; anything else is counted as "other". */
export const INVALID_CANDIDATE_REASONS = [
  "unexpected_character", "unexpected_token", "empty_row", "empty_output", "too_many_rows",
  "too_many_columns", "ragged_rows", "stopped_on_token_budget", "stopped_on_time_limit",
  "more_than_one_grid", "other",
] as const;

const STAGE_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640, 1280];

/** Creates a fresh registry with every nvarc metric and the Node process defaults. */
export function createMetrics(): NvarcMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "nvarc_process_" });
  const registers = [registry];

  return {
    registry,
    taskRuns: new Counter({ name: "nvarc_task_runs_total", help: "Task runs finished, by outcome (completed, failed, superseded, cancelled).", labelNames: ["outcome"], registers }),
    stageSeconds: new Histogram({ name: "nvarc_task_stage_seconds", help: "Seconds per task run stage (ttft, decode, score, total).", labelNames: ["stage"], buckets: STAGE_BUCKETS_SECONDS, registers }),
    deviceSeconds: new Counter({ name: "nvarc_device_seconds_total", help: "Seconds the sidecar held the device, by GPU type and stage.", labelNames: ["gpu_type", "stage"], registers }),
    costUsd: new Counter({ name: "nvarc_cost_usd_total", help: "Cost in USD of task runs, by GPU type and kind (device, llm).", labelNames: ["gpu_type", "kind"], registers }),
    wastedCostUsd: new Counter({ name: "nvarc_wasted_cost_usd_total", help: "Cost in USD of runs whose result was not kept, by reason.", labelNames: ["gpu_type", "reason"], registers }),
    candidates: new Counter({ name: "nvarc_candidates_total", help: "Decoded completions, by validity (valid, invalid).", labelNames: ["validity"], registers }),
    invalidCandidates: new Counter({ name: "nvarc_invalid_candidates_total", help: "Invalid decoded completions, by reason.", labelNames: ["reason"], registers }),
    sidecarCallSeconds: new Histogram({ name: "nvarc_sidecar_call_seconds", help: "Seconds per sidecar gRPC call, by method and status.", labelNames: ["method", "status"], buckets: STAGE_BUCKETS_SECONDS, registers }),
    sidecarErrors: new Counter({ name: "nvarc_sidecar_errors_total", help: "Failed sidecar gRPC calls, by method and status code.", labelNames: ["method", "code"], registers }),
    jobsStalled: new Counter({ name: "nvarc_jobs_stalled_total", help: "Jobs that lost their lock and were taken again, by queue.", labelNames: ["queue"], registers }),
    queueJobs: new Gauge({ name: "nvarc_queue_jobs", help: "Jobs in each queue, by state.", labelNames: ["queue", "state"], registers }),
    dbPoolConnections: new Gauge({ name: "nvarc_db_pool_connections", help: "Postgres pool connections, by state (total, idle, waiting).", labelNames: ["state"], registers }),
    batches: new Counter({ name: "nvarc_batches_total", help: "Batches finished, by outcome (completed, cancelled).", labelNames: ["outcome"], registers }),
    httpRequests: new Counter({ name: "nvarc_http_requests_total", help: "HTTP requests, by method, route pattern and status code.", labelNames: ["method", "route", "status_code"], registers }),
    metricsErrors: new Counter({ name: "nvarc_metrics_errors_total", help: "Errors raised by metric updates (logged once each kind, never fatal).", registers }),
  };
}

/**
 * Returns a function that runs a metric update and never throws.
 *
 * A failing metric call must not fail a job: the error is counted and logged once per
 * distinct message, then swallowed.
 */
export function createSafeRecorder(metrics: Pick<NvarcMetrics, "metricsErrors">, logger: Pick<Logger, "warn">) {
  const seen = new Set<string>();

  return function record(update: () => void): void {
    try {
      update();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      try {
        metrics.metricsErrors.inc();
      } catch {
        // The error counter itself failed: the log line below is the only trace left.
      }
      if (!seen.has(message)) {
        seen.add(message);
        logger.warn({ err: error }, "metric update failed; continuing without it");
      }
    }
  };
}
