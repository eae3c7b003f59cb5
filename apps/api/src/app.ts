import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { Logger, NvarcMetrics } from "@nvarc/telemetry";
import type { ApiConfig } from "./config.ts";
import type { BatchServiceDeps } from "./batch-service.ts";
import { registerBatchRoutes } from "./routes/batches.ts";
import { registerHealthRoutes, type ReadinessCheck } from "./routes/health.ts";
import { registerModelRoutes } from "./routes/models.ts";
import { registerSftRunRoutes } from "./routes/sft-runs.ts";
import type { SftRunServiceDeps } from "./sft-run-service.ts";

export interface AppDeps extends BatchServiceDeps, SftRunServiceDeps {
  config: ApiConfig;
  logger: Logger;
  metrics: NvarcMetrics;
  recordMetric: (update: () => void) => void;
  readinessChecks: ReadinessCheck[];
  /** Refreshes gauges (queue depth, pool) right before /metrics renders. */
  refreshGauges: () => Promise<void>;
}

/** Builds the Fastify control plane; `listen` is left to the caller. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    bodyLimit: deps.config.bodyLimitBytes,
  });

  await app.register(swagger, {
    openapi: {
      info: { title: "nvarc", version: "0.1.0", description: "Evaluate ARC-AGI tasks with the NVARC recipe: test-time fine-tuning, DFS decoding and augmentation re-scoring." },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  app.addHook("onResponse", async (request, reply) => {
    // The route pattern, never the raw URL, keeps batch ids out of the label values.
    const route = request.routeOptions.url ?? "unmatched";
    deps.recordMetric(() => deps.metrics.httpRequests.inc({ method: request.method, route, status_code: String(reply.statusCode) }));
  });

  app.setErrorHandler((error: any, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, "request failed");
    else request.log.info({ err: error }, "request rejected");

    let code = status >= 500 ? "internal_error" : "bad_request";
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") code = "body_too_large";
    const hint = code === "body_too_large" ? `The limit is ${deps.config.bodyLimitBytes} bytes (NVARC_API_BODY_LIMIT_BYTES); send a dataset name or split the batch.` : "";
    reply.status(status).send({ error: code, message: error.message, problems: [], hint });
  });

  registerHealthRoutes(app, deps);
  registerBatchRoutes(app, deps);
  registerModelRoutes(app, deps);
  registerSftRunRoutes(app, deps);
  return app;
}
