export * from "./config.ts";
export * from "./server.ts";
export { buildApp } from "./app.ts";
export { sweepQueuedBatches } from "./sweeper.ts";
export { normalizeBatchRequest } from "./batch-request.ts";
