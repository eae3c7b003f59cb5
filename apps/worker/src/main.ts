// Entry point of a worker process: node --import tsx apps/worker/src/main.ts
import { bindRepositories, createDb } from "@nvarc/db";
import { createLogger } from "@nvarc/telemetry";
import { readWorkerConfig } from "./config.ts";
import { startWorkerRuntime } from "./runtime.ts";

async function main(): Promise<void> {
  const logger = createLogger("nvarc-worker");
  let config;
  try {
    config = readWorkerConfig();
  } catch (error) {
    logger.fatal({ err: error }, "invalid configuration");
    console.error(`nvarc-worker: ${(error as Error).message}`);
    process.exit(2);
  }

  const db = await createDb({ url: config.databaseUrl }, { logger });
  const runtime = await startWorkerRuntime({ config, logger, db: bindRepositories(db.prisma), poolStats: () => db.poolStats(), onClose: () => db.close() });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      logger.info({ signal }, "stopping: no new jobs; the current job may finish within the grace period");
      runtime.close().then(() => process.exit(0), (error) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      });
    });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
