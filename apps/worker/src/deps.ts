import type { Logger, NvarcMetrics } from "@nvarc/telemetry";
import type { WorkerConfig } from "./config.ts";
import type { SidecarClient } from "./sidecar-client.ts";
import type { CancellationRegistry } from "./cancellation.ts";

import type { Repositories } from "@nvarc/db";

/** The repositories of @nvarc/db the worker uses, bound to one client. */
export type WorkerDb = Repositories;

/** Everything a job processor needs, built once per worker process. */
export interface WorkerDeps {
  config: WorkerConfig;
  db: WorkerDb;
  sidecar: SidecarClient;
  cancellation: CancellationRegistry;
  logger: Logger;
  metrics: NvarcMetrics;
  /** Runs a metric update; a failing metric call is logged once and never fails a job. */
  recordMetric: (update: () => void) => void;
  /** Model paths loaded on this worker's sidecar, with the dtype they were loaded in. */
  loadedModels: Map<string, string>;
}
