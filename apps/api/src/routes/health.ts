import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.ts";

/** One dependency checked by /readyz: resolves when usable, throws with the reason otherwise. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

/** /healthz (process alive), /readyz (dependencies usable) and /metrics. */
export function registerHealthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get("/healthz", { schema: { hide: true } }, async () => ({ status: "ok" }));

  app.get("/readyz", { schema: { hide: true } }, async (_request, reply) => {
    const failures: { name: string; reason: string }[] = [];
    await Promise.all(deps.readinessChecks.map(async ({ name, check }) => {
      try {
        await check();
      } catch (error) {
        failures.push({ name, reason: error instanceof Error ? error.message : String(error) });
      }
    }));

    if (failures.length > 0) {
      deps.logger.warn({ failures }, "not ready");
      return reply.status(503).send({ status: "unavailable", failures });
    }
    return { status: "ready" };
  });

  app.get("/metrics", { schema: { hide: true } }, async (_request, reply) => {
    try {
      await deps.refreshGauges();
    } catch (error) {
      deps.logger.warn({ err: error }, "refreshing gauges failed; serving the last values");
    }
    reply.header("content-type", deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
