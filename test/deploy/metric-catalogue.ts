/**
 * The Prometheus metrics that apps/api and apps/worker export through libs/telemetry,
 * with their label sets. Histograms are listed by base name, and their series carry the
 * `_bucket`, `_sum` and `_count` suffixes.
 */
// TODO: read these from libs/telemetry's metric definitions once it exports them, so
// that a renamed metric fails here instead of leaving an empty panel.
export interface MetricSpec {
  type: "counter" | "gauge" | "histogram";
  /** Label name -> allowed values, or null where the set is open (e.g. a reason code). */
  labels: Record<string, readonly string[] | null>;
}

const TASK_OUTCOMES = ["completed", "failed", "superseded", "cancelled"] as const;
const STAGES = ["ttft", "decode", "score", "total"] as const;

export const METRIC_CATALOGUE: Readonly<Record<string, MetricSpec>> = {
  nvarc_task_runs_total: { type: "counter", labels: { outcome: TASK_OUTCOMES } },
  nvarc_task_stage_seconds: { type: "histogram", labels: { stage: STAGES } },
  nvarc_device_seconds_total: { type: "counter", labels: { gpu_type: null, stage: STAGES } },
  nvarc_cost_usd_total: { type: "counter", labels: { gpu_type: null, kind: ["device", "llm"] } },
  nvarc_wasted_cost_usd_total: { type: "counter", labels: { gpu_type: null, reason: null } },
  nvarc_candidates_total: { type: "counter", labels: { validity: null } },
  nvarc_invalid_candidates_total: { type: "counter", labels: { reason: null } },
  nvarc_sidecar_call_seconds: { type: "histogram", labels: { method: null, status: null } },
  nvarc_sidecar_errors_total: { type: "counter", labels: { method: null, code: null } },
  nvarc_jobs_stalled_total: { type: "counter", labels: { queue: null } },
  nvarc_queue_jobs: { type: "gauge", labels: { queue: null, state: null } },
  nvarc_db_pool_connections: { type: "gauge", labels: { state: ["total", "idle", "waiting"] } },
  nvarc_batches_total: { type: "counter", labels: { outcome: null } },
  nvarc_http_requests_total: { type: "counter", labels: { method: null, route: null, status_code: null } },
  nvarc_metrics_errors_total: { type: "counter", labels: {} },
};

/** Labels Prometheus attaches to every scraped series. */
export const TARGET_LABELS = ["job", "instance"] as const;
