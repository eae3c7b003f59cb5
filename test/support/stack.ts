import { readApiConfig, startApiServer, type ApiServer } from "@nvarc/api";
import { readWorkerConfig, startWorkerRuntime, type WorkerRuntime } from "@nvarc/worker";
import { createLogger, createMetrics, type NvarcMetrics } from "@nvarc/telemetry";
import { Redis } from "ioredis";
import { freshTestDatabase, uniqueQueuePrefix, type TestDatabase } from "./database.ts";
import { DATASETS_DIR, MODELS_DIR, TEST_REDIS_URL } from "./env.ts";
import { sharedSidecarAddress, stopOwnSidecar } from "./sidecar.ts";

export interface TestStack {
  api: ApiServer;
  worker?: WorkerRuntime;
  database: TestDatabase;
  queuePrefix: string;
  env: Record<string, string>;
  apiMetrics: NvarcMetrics;
  workerMetrics?: NvarcMetrics;
  /** Counts the Redis keys of this stack's queues. */
  countQueueKeys(): Promise<number>;
  close(): Promise<void>;
}

export interface TestStackOptions {
  name: string;
  /** Start an in-process worker too. */
  worker?: boolean;
  /** Extra environment for the api and worker configs. */
  env?: Record<string, string>;
  /** Pool settings of the database handle. */
  poolSettings?: Record<string, number>;
  /** Sidecar address; default the shared test sidecar. */
  sidecarAddress?: string;
}

/** Starts api (listening on a free port) and optionally a worker against a fresh database. */
export async function startTestStack(options: TestStackOptions): Promise<TestStack> {
  const database = await freshTestDatabase(options.name, options.poolSettings);
  const queuePrefix = uniqueQueuePrefix(options.name);
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    NVARC_QUEUE_PREFIX: queuePrefix,
    NVARC_DATASETS_DIR: DATASETS_DIR,
    NVARC_MODELS_DIR: MODELS_DIR,
    NVARC_API_HOST: "127.0.0.1",
    NVARC_API_PORT: "0",
    NVARC_WORKER_METRICS_PORT: "0",
    NVARC_DEFAULT_PRESET: "test",
    NVARC_RETRY_BACKOFF_MS: "200",
    NVARC_SHUTDOWN_GRACE_S: "5",
    ...options.env,
  };
  if (options.worker) env.NVARC_SIDECAR_ADDRESS = options.sidecarAddress ?? (await sharedSidecarAddress());

  const logger = createLogger("test", process.env.NVARC_LOG_LEVEL ?? "warn");
  const dbHandle = { repos: database.repos, poolStats: () => database.db.poolStats(), ping: () => database.db.ping() };
  const apiMetrics = createMetrics();
  const api = await startApiServer({ config: readApiConfig(env), db: dbHandle, logger, metrics: apiMetrics });

  let worker: WorkerRuntime | undefined;
  let workerMetrics: NvarcMetrics | undefined;
  if (options.worker) {
    workerMetrics = createMetrics();
    worker = await startWorkerRuntime({ config: readWorkerConfig(env), db: database.repos, logger, metrics: workerMetrics, poolStats: () => database.db.poolStats() });
  }

  const redis = new Redis(TEST_REDIS_URL);
  return {
    api, worker, database, queuePrefix, env, apiMetrics, workerMetrics,
    countQueueKeys: async () => (await redis.keys(`${queuePrefix}:*`)).length,
    close: async () => {
      await worker?.close();
      await api.close();
      await database.close();
      redis.disconnect();
      await stopOwnSidecar();
    },
  };
}

/** Polls GET /v1/batches/:id until the batch is completed or cancelled. */
export async function waitForBatch(stack: TestStack, batchId: string, timeoutMs = 600_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await stack.api.app.inject({ method: "GET", url: `/v1/batches/${batchId}` });
    const batch = response.json();
    if (batch.state === "completed" || batch.state === "cancelled") return batch;
    if (Date.now() > deadline) throw new Error(`batch ${batchId} still ${batch.state} after ${timeoutMs} ms: ${JSON.stringify(batch.progress)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Reads every task of a batch through the paginated endpoint. */
export async function fetchAllTasks(stack: TestStack, batchId: string, pageSize = 2): Promise<any[]> {
  const tasks: any[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? `limit=${pageSize}` : `limit=${pageSize}&cursor=${cursor}`;
    const page = (await stack.api.app.inject({ method: "GET", url: `/v1/batches/${batchId}/tasks?${query}` })).json();
    tasks.push(...page.tasks);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return tasks;
}
