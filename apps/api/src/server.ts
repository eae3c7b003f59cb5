import { FlowProducer, Queue } from "bullmq";
import type { Redis } from "ioredis";
import { BATCH_QUEUE, GPU_QUEUE, SFT_QUEUE, cancelChannel, createRedisConnection, sftCancelChannel, type SftRunJobData } from "@nvarc/queues";
import { createMetrics, createSafeRecorder, type Logger, type NvarcMetrics } from "@nvarc/telemetry";
import type { FastifyInstance } from "fastify";
import type { ApiConfig } from "./config.ts";
import { buildApp } from "./app.ts";
import { startSweeper } from "./sweeper.ts";
import { registerLocalModels } from "./model-registry.ts";

/** The database handle the api needs: repositories plus pool facts for /readyz and /metrics. */
export interface ApiDbHandle {
  repos: any;
  poolStats(): { total: number; idle: number; waiting: number };
  ping(timeoutMs: number): Promise<void>;
}

export interface ApiServer {
  app: FastifyInstance;
  /** Base URL the server listens on, e.g. http://127.0.0.1:8080. */
  url: string;
  close(): Promise<void>;
}

export interface ApiServerOptions {
  config: ApiConfig;
  db: ApiDbHandle;
  logger: Logger;
  metrics?: NvarcMetrics;
  /** Skip listen() (tests drive the app with inject). */
  listen?: boolean;
  onClose?: () => Promise<void>;
}

const QUEUE_STATES = ["waiting", "active", "delayed", "failed", "completed", "waiting-children", "prioritized"] as const;
const READINESS_TIMEOUT_MS = 2000;

/** Starts the control plane: registry scan, queues, sweeper and the HTTP server. */
export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { config, db, logger } = options;
  const metrics = options.metrics ?? createMetrics();
  const recordMetric = createSafeRecorder(metrics, logger);

  const connections: Redis[] = [];
  const connect = () => {
    const connection = createRedisConnection(config.redisUrl);
    connection.on("error", (error) => logger.warn({ err: error }, "redis connection error"));
    connections.push(connection);
    return connection;
  };
  const publisher = connect();
  const flowProducer = new FlowProducer({ connection: connect(), prefix: config.queuePrefix });
  const gpuQueue = new Queue(GPU_QUEUE, { connection: connect(), prefix: config.queuePrefix });
  const batchQueue = new Queue(BATCH_QUEUE, { connection: connect(), prefix: config.queuePrefix });
  const sftQueue = new Queue<SftRunJobData>(SFT_QUEUE, { connection: connect(), prefix: config.queuePrefix });

  await registerLocalModels(db.repos, config.modelsDir, logger);

  const app = await buildApp({
    config, db: db.repos, logger, metrics, recordMetric, flowProducer, gpuQueue,
    publishCancel: async (batchId) => { await publisher.publish(cancelChannel(config.queuePrefix), batchId); },
    sftQueue,
    publishSftCancel: async (runId) => { await publisher.publish(sftCancelChannel(config.queuePrefix), runId); },
    readinessChecks: [
      { name: "postgres", check: () => db.ping(READINESS_TIMEOUT_MS) },
      { name: "redis", check: () => pingRedis(publisher) },
    ],
    refreshGauges: async () => {
      const pool = db.poolStats();
      for (const [state, value] of Object.entries(pool)) metrics.dbPoolConnections.set({ state }, value);
      for (const queue of [gpuQueue, batchQueue, sftQueue] as Queue[]) {
        const counts = await queue.getJobCounts(...QUEUE_STATES);
        for (const state of QUEUE_STATES) metrics.queueJobs.set({ queue: queue.name, state }, counts[state] ?? 0);
      }
    },
  });

  const stopSweeper = startSweeper({ config, db: db.repos, flowProducer, sftQueue }, logger);
  let url = "";
  if (options.listen !== false) {
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`;
  }

  return {
    app,
    url,
    close: async () => {
      stopSweeper();
      await app.close();
      await flowProducer.close();
      await gpuQueue.close();
      await batchQueue.close();
      await sftQueue.close();
      await Promise.all(connections.map((connection) => connection.quit().catch(() => connection.disconnect())));
      await options.onClose?.();
    },
  };
}

async function pingRedis(connection: Redis): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis did not reply to PING within ${READINESS_TIMEOUT_MS} ms`)), READINESS_TIMEOUT_MS);
  });
  try {
    await Promise.race([connection.ping(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
