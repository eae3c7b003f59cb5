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

/** Reasons an invalid candidate is counted under (the completion parser's codes); anything else counts as "other". */
export const INVALID_CANDIDATE_REASONS = [
  "stopped_on_token_budget", "stopped_on_time_limit", "unknown_stop_reason", "unexpected_token",
  "unexpected_character", "empty_output", "empty_row", "multiple_grids", "too_many_rows",
  "too_many_columns", "ragged_rows", "other",
] as const;

/** Closed label value sets. Every combination is created at start with value 0. */
export const LABEL_VALUES = {
  outcome: ["completed", "failed", "superseded", "cancelled"],
  stage: ["ttft", "decode", "score", "total"],
  deviceStage: ["ttft", "decode", "score", "sft"],
  costKind: ["device", "llm"],
  wasteReason: ["superseded", "failed", "cancelled"],
  validity: ["valid", "invalid"],
  sidecarMethod: ["LoadModel", "TestTimeFineTune", "Decode", "Score", "ReleaseAdapter", "Train"],
  sidecarStatus: ["ok", "error"],
  sidecarErrorCode: [
    "message_too_large", "deadline_exceeded", "cancelled", "unavailable", "internal", "unknown", "aborted",
    "not_found", "failed_precondition", "invalid_argument", "protocol_error", "other",
  ],
  queue: ["nvarc-gpu", "nvarc-batch", "nvarc-sft"],
  queueState: ["waiting", "active", "delayed", "failed", "completed", "waiting-children", "prioritized"],
  poolState: ["total", "idle", "waiting"],
  batchOutcome: ["completed", "cancelled"],
} as const;

/** Maps a value outside a closed label set to "other". */
export function closedLabel(value: string, allowed: readonly string[]): string {
  return allowed.includes(value) ? value : "other";
}

const STAGE_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 40, 80, 160, 320, 640, 1280];

/**
 * Creates a fresh registry with every nvarc metric and the Node process defaults.
 * Every series of the closed label sets exists from the start with value 0, so the
 * set of series does not change while the service runs. `gpuTypes` are the price
 * table's keys.
 */
export function createMetrics(gpuTypes: readonly string[] = ["cpu", "l4", "a100", "h100", "h200"]): NvarcMetrics {
  const metrics = defineMetrics();
  initializeSeries(metrics, gpuTypes);
  return metrics;
}

function defineMetrics(): NvarcMetrics {
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

function initializeSeries(metrics: NvarcMetrics, gpuTypes: readonly string[]): void {
  const values = LABEL_VALUES;
  for (const outcome of values.outcome) metrics.taskRuns.inc({ outcome }, 0);
  for (const stage of values.stage) metrics.stageSeconds.zero({ stage });
  for (const gpu_type of gpuTypes) {
    for (const stage of values.deviceStage) metrics.deviceSeconds.inc({ gpu_type, stage }, 0);
    for (const kind of values.costKind) metrics.costUsd.inc({ gpu_type, kind }, 0);
    for (const reason of values.wasteReason) metrics.wastedCostUsd.inc({ gpu_type, reason }, 0);
  }
  for (const validity of values.validity) metrics.candidates.inc({ validity }, 0);
  for (const reason of INVALID_CANDIDATE_REASONS) metrics.invalidCandidates.inc({ reason }, 0);
  for (const method of values.sidecarMethod) {
    for (const status of values.sidecarStatus) metrics.sidecarCallSeconds.zero({ method, status });
    for (const code of values.sidecarErrorCode) metrics.sidecarErrors.inc({ method, code }, 0);
  }
  for (const queue of values.queue) {
    metrics.jobsStalled.inc({ queue }, 0);
    for (const state of values.queueState) metrics.queueJobs.set({ queue, state }, 0);
  }
  for (const state of values.poolState) metrics.dbPoolConnections.set({ state }, 0);
  for (const outcome of values.batchOutcome) metrics.batches.inc({ outcome }, 0);
  metrics.metricsErrors.inc(0);
}

/**
 * Returns a function that runs a metric update and never throws.
 *
 * A failing metric call must not fail a job, so the error is counted, logged once per
 * distinct message and then dropped.
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
