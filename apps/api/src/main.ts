// Entry point of the api process: node --import tsx apps/api/src/main.ts
import { bindRepositories, createDb } from "@nvarc/db";
import { createLogger } from "@nvarc/telemetry";
import { readApiConfig } from "./config.ts";
import { startApiServer } from "./server.ts";

async function main(): Promise<void> {
  const logger = createLogger("nvarc-api");
  let config;
  try {
    config = readApiConfig();
  } catch (error) {
    logger.fatal({ err: error }, "invalid configuration");
    console.error(`nvarc-api: ${(error as Error).message}`);
    process.exit(2);
  }

  const db = await createDb({ url: config.databaseUrl }, { logger });
  const report = await db.migrate();
  logger.info({ report }, "database migrations checked");

  const server = await startApiServer({
    config, logger,
    db: { repos: bindRepositories(db.prisma), poolStats: () => db.poolStats(), ping: () => db.ping() },
    onClose: () => db.close(),
  });
  logger.info({ url: server.url }, "api listening");

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      logger.info({ signal }, "shutting down");
      server.close().then(() => process.exit(0), (error) => {
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
