import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger, NvarcMetrics } from "@nvarc/telemetry";

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Serves GET /metrics (Prometheus text format) on 0.0.0.0:`port`; port 0 picks a free one. */
export function startMetricsServer(metrics: NvarcMetrics, port: number, logger: Logger, beforeRender: () => void = () => {}): Promise<MetricsServer> {
  const server = http.createServer(async (request, response) => {
    if (request.method !== "GET" || request.url !== "/metrics") {
      response.writeHead(404).end("not found; metrics are at GET /metrics\n");
      return;
    }
    try {
      beforeRender();
      const body = await metrics.registry.metrics();
      response.writeHead(200, { "content-type": metrics.registry.contentType }).end(body);
    } catch (error) {
      logger.error({ err: error }, "rendering metrics failed");
      response.writeHead(500).end("rendering metrics failed\n");
    }
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => {
      const bound = (server.address() as AddressInfo).port;
      resolve({ port: bound, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}
