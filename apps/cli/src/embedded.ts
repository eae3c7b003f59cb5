import fs from "node:fs";
import path from "node:path";
import { readApiConfig, startApiServer } from "@nvarc/api";
import { readWorkerConfig, startWorkerRuntime } from "@nvarc/worker";
import { bindRepositories, createDb, type Db } from "@nvarc/db";
import { createMetrics, type Logger } from "@nvarc/telemetry";
import { findRedisServer, startPrivateRedis, startSidecar, type ManagedProcess } from "./child-processes.ts";

/** A whole service in one process: api and worker in-process, redis and sidecar as children. */
export interface EmbeddedStack {
  apiUrl: string;
  /** The stack's own database client (Postgres or PGlite). */
  prisma: Db["prisma"];
  close(): Promise<void>;
}

export interface EmbeddedOptions {
  repoRoot: string;
  logger: Logger;
  print: (line: string) => void;
}

/**
 * Starts the embedded default: Postgres from DATABASE_URL or an in-process PGlite in
 * NVARC_PGLITE_DIR (default .nvarc/pglite), Redis from REDIS_URL or a private redis-server, the sidecar as a
 * child process on the CPU, and api plus worker in this process.
 */
export async function startEmbeddedStack(options: EmbeddedOptions): Promise<EmbeddedStack> {
  const { logger, print, repoRoot } = options;
  const children: ManagedProcess[] = [];
  const stops: (() => Promise<void>)[] = [];
  const close = async () => {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    for (const stop of stops.reverse()) await stop().catch((error) => logger.warn({ err: error }, "stopping a part of the embedded stack failed"));
    for (const child of children) await child.stop();
  };
  // Ctrl-C or a plain kill stops the children too, so no sidecar or redis-server
  // outlives the command. NOTE: a SIGKILL of this process still leaves them running.
  const onSignal = (signal: NodeJS.Signals) => {
    print(`received ${signal}; stopping the embedded stack`);
    void close().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    const redisUrl = process.env.REDIS_URL ?? (await startRedis(logger, children, print));
    const { db, databaseUrl } = await openDatabase(repoRoot, logger, print);
    stops.push(() => db.close());

    print("starting the sidecar (loads PyTorch; a few seconds)");
    const sidecar = await startSidecar({ repoRoot, env: { NVARC_SIDECAR_TORCH_THREADS: process.env.NVARC_SIDECAR_TORCH_THREADS ?? "2" } }, logger);
    children.push(sidecar.process);
    print(`sidecar started (pid ${sidecar.process.child.pid}) at ${sidecar.address}`);

    const env = {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      NVARC_SIDECAR_ADDRESS: sidecar.address,
      NVARC_API_HOST: "127.0.0.1",
      NVARC_API_PORT: "0",
      NVARC_WORKER_METRICS_PORT: "-1",
      NVARC_MODELS_DIR: process.env.NVARC_MODELS_DIR ?? path.join(repoRoot, "models"),
      NVARC_DATASETS_DIR: process.env.NVARC_DATASETS_DIR ?? path.join(repoRoot, "data/datasets"),
      NVARC_QUEUE_PREFIX: process.env.NVARC_QUEUE_PREFIX ?? `nvarc-cli-${process.pid}`,
    };
    const repos = bindRepositories(db.prisma);
    const metrics = createMetrics();
    const api = await startApiServer({ config: readApiConfig(env), db: { repos, poolStats: () => db.poolStats(), ping: () => db.ping() }, logger, metrics });
    stops.push(() => api.close());
    const worker = await startWorkerRuntime({ config: readWorkerConfig(env), db: repos, logger, metrics });
    stops.push(() => worker.close());

    return { apiUrl: api.url, prisma: db.prisma, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function startRedis(logger: Logger, children: ManagedProcess[], print: (line: string) => void): Promise<string> {
  const binary = findRedisServer();
  if (!binary) {
    throw new Error("REDIS_URL is not set and redis-server is not installed. Install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL=redis://HOST:6379.");
  }
  const redis = await startPrivateRedis(binary, logger);
  children.push(redis.process);
  print(`started a private redis-server (pid ${redis.process.child.pid}) at ${redis.url}`);
  return redis.url;
}

async function openDatabase(repoRoot: string, logger: Logger, print: (line: string) => void): Promise<{ db: Db; databaseUrl: string }> {
  if (process.env.DATABASE_URL) {
    const db = await createDb({ url: process.env.DATABASE_URL }, { logger });
    await db.migrate();
    return { db, databaseUrl: process.env.DATABASE_URL };
  }

  const dataDir = path.resolve(process.env.NVARC_PGLITE_DIR ?? path.join(repoRoot, ".nvarc/pglite"));
  fs.mkdirSync(dataDir, { recursive: true });
  print(`using the embedded PGlite database in ${dataDir}`);
  const db = await createDb({ pglite: dataDir }, { logger });
  await db.migrate();
  // The api and worker configs insist on a URL; with PGlite they receive this
  // placeholder and the in-process client above.
  return { db, databaseUrl: "postgresql://embedded-pglite/nvarc" };
}
