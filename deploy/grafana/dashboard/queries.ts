/**
 * PromQL of the NVARC dashboard, kept apart from the layout so that a consumer can
 * change a query or its ranges without touching the panels. Every metric read here
 * is defined by libs/telemetry with the `nvarc_` prefix.
 */

/** Ranges the queries are built with. */
export interface QueryConfig {
  /** Window of rate() and of per-interval increase(), by default Grafana's `$__rate_interval`. */
  rateInterval: string;
  /** Window of totals over the dashboard's time range, by default Grafana's `$__range`. */
  totalRange: string;
}

/** Grafana's own interval variables. */
export const DEFAULT_QUERY_CONFIG: QueryConfig = Object.freeze({
  rateInterval: "$__rate_interval",
  totalRange: "$__range",
});

const COMPLETED_RUNS = 'nvarc_task_runs_total{outcome="completed"}';

/** Builds the dashboard's PromQL expressions, keyed by query name. */
export function buildQueries(config: QueryConfig = DEFAULT_QUERY_CONFIG) {
  const rate = (selector: string) => `rate(${selector}[${config.rateInterval}])`;
  const intervalIncrease = (selector: string) => `increase(${selector}[${config.rateInterval}])`;
  const rangeIncrease = (selector: string) => `increase(${selector}[${config.totalRange}])`;
  // `> 0` drops a zero denominator, so an idle period shows no data instead of +Inf or NaN.
  const ratio = (numerator: string, denominator: string) => `${numerator}\n/\n(${denominator} > 0)`;
  const quantile = (q: number, by: string, bucket: string) =>
    `histogram_quantile(${q}, sum by (le, ${by}) (${rate(bucket)}))`;

  return {
    spendOverRange: `sum(${rangeIncrease("nvarc_cost_usd_total")})`,
    costPerCompletedTaskOverRange: ratio(
      `sum(${rangeIncrease("nvarc_cost_usd_total")})`,
      `sum(${rangeIncrease(COMPLETED_RUNS)})`,
    ),
    wastedShareOverRange: ratio(
      `sum(${rangeIncrease("nvarc_wasted_cost_usd_total")})`,
      `sum(${rangeIncrease("nvarc_cost_usd_total")})`,
    ),
    completedRunsOverRange: `sum(${rangeIncrease(COMPLETED_RUNS)})`,

    costPerCompletedTask: ratio(`sum(${rate("nvarc_cost_usd_total")})`, `sum(${rate(COMPLETED_RUNS)})`),
    spendPerHourByGpuType: `sum by (gpu_type, kind) (${rate("nvarc_cost_usd_total")}) * 3600`,
    wastedPerHourByReason: `sum by (gpu_type, reason) (${rate("nvarc_wasted_cost_usd_total")}) * 3600`,
    busyDevicesByStage: `sum by (gpu_type, stage) (${rate("nvarc_device_seconds_total")})`,

    taskRunsPerMinuteByOutcome: `sum by (outcome) (${rate("nvarc_task_runs_total")}) * 60`,
    stageSecondsP50: quantile(0.5, "stage", "nvarc_task_stage_seconds_bucket"),
    stageSecondsP95: quantile(0.95, "stage", "nvarc_task_stage_seconds_bucket"),
    batchesPerHourByOutcome: `sum by (outcome) (${rate("nvarc_batches_total")}) * 3600`,

    candidatesPerMinuteByValidity: `sum by (validity) (${rate("nvarc_candidates_total")}) * 60`,
    invalidCandidatesPerMinuteByReason: `sum by (reason) (${rate("nvarc_invalid_candidates_total")}) * 60`,

    sidecarErrorsPerMinute: `sum by (method, code) (${rate("nvarc_sidecar_errors_total")}) * 60`,
    sidecarCallSecondsP50: quantile(0.5, "method", "nvarc_sidecar_call_seconds_bucket"),
    sidecarCallSecondsP95: quantile(0.95, "method", "nvarc_sidecar_call_seconds_bucket"),

    // Every process that reports queue counts observes the same Redis, so max (not sum)
    // keeps a job from being counted once per process.
    queueJobsByState: "max by (queue, state) (nvarc_queue_jobs)",
    stalledJobsPerInterval: `sum by (queue) (${intervalIncrease("nvarc_jobs_stalled_total")})`,
    dbPoolConnections: "sum by (job, state) (nvarc_db_pool_connections)",

    httpRequestsPerSecond: `sum by (status_code) (${rate("nvarc_http_requests_total")})`,
    metricsErrorsPerInterval: `sum by (job) (${intervalIncrease("nvarc_metrics_errors_total")})`,
  };
}

/** Names of the queries returned by {@link buildQueries}. */
export type QueryName = keyof ReturnType<typeof buildQueries>;
