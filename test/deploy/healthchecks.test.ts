import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";

import { interpolate, readYaml, repoPath } from "./support.ts";

interface Healthcheck {
  test: string[];
}

const compose = interpolate(readYaml("docker-compose.yml")) as {
  services: Record<string, { healthcheck?: Healthcheck }>;
};

const SIDECAR_PYTHON = repoPath("apps/sidecar/.venv/bin/python");

/** Returns the exec form of a service's healthcheck, without the leading "CMD". */
function probeCommand(serviceName: string): string[] {
  const test = compose.services[serviceName]?.healthcheck?.test;
  assert.ok(test, `${serviceName} has no healthcheck`);
  assert.equal(test[0], "CMD", `${serviceName}'s healthcheck must use the exec form`);
  return test.slice(1);
}

/** Runs a probe like Docker does and returns its exit code. */
function runProbe(argv: string[], env: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { env: { PATH: process.env.PATH ?? "", ...env }, stdio: "ignore" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Finds a loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("HTTP healthchecks of the api and the worker", () => {
  let statusCode = 200;
  const requestedPaths: string[] = [];
  const server = createServer((request, response) => {
    requestedPaths.push(request.url ?? "");
    response.writeHead(statusCode).end();
  });
  const portReady = listen(server);
  after(() => server.close());

  const cases = [
    { service: "api", portVariable: "NVARC_API_PORT", path: "/healthz" },
    { service: "worker", portVariable: "NVARC_WORKER_METRICS_PORT", path: "/metrics" },
  ];

  for (const { service, portVariable, path } of cases) {
    it(`${service} probe passes on 200 from ${path}`, async () => {
      statusCode = 200;
      requestedPaths.length = 0;
      const port = await portReady;
      const argv = probeCommand(service).map((part, index) => (index === 0 ? process.execPath : part));

      assert.equal(await runProbe(argv, { [portVariable]: String(port) }), 0);
      assert.deepEqual(requestedPaths, [path]);
    });

    it(`${service} probe fails on 503`, async () => {
      statusCode = 503;
      const port = await portReady;
      const argv = probeCommand(service).map((part, index) => (index === 0 ? process.execPath : part));

      assert.equal(await runProbe(argv, { [portVariable]: String(port) }), 1);
    });

    it(`${service} probe fails when nothing listens`, async () => {
      const argv = probeCommand(service).map((part, index) => (index === 0 ? process.execPath : part));
      assert.equal(await runProbe(argv, { [portVariable]: String(await closedPort()) }), 1);
    });
  }
});

// A gRPC server with the standard health service (grpc.health.v1). It reports the status
// given as its argument for the whole server and prints its port once listening.
const HEALTH_SERVER = `
import sys
from concurrent import futures
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
servicer = health.HealthServicer()
health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
port = server.add_insecure_port("127.0.0.1:0")
servicer.set("", getattr(health_pb2.HealthCheckResponse, sys.argv[1]))
server.start()
print(port, flush=True)
server.wait_for_termination()
`;

async function startHealthServer(status: "SERVING" | "NOT_SERVING"): Promise<{ port: number; stop: () => void }> {
  const child = spawn(SIDECAR_PYTHON, ["-c", HEALTH_SERVER, status], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`health server exited with ${code}`)));
    child.stdout.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  return { port, stop: () => child.kill("SIGTERM") };
}

describe("gRPC healthcheck of the sidecar", { skip: existsSync(SIDECAR_PYTHON) ? false : "run scripts/setup.sh to create apps/sidecar/.venv" }, () => {
  const argv = () => probeCommand("sidecar").map((part, index) => (index === 0 ? SIDECAR_PYTHON : part));

  for (const [status, expectedCode] of [["SERVING", 0], ["NOT_SERVING", 1]] as const) {
    it(`exits ${expectedCode} on ${status}`, async () => {
      const server = await startHealthServer(status);
      try {
        const code = await runProbe(argv(), { NVARC_SIDECAR_ADDRESS: `0.0.0.0:${server.port}` });
        assert.equal(code, expectedCode);
      } finally {
        server.stop();
      }
    });
  }

  it("fails when nothing listens", async () => {
    const code = await runProbe(argv(), { NVARC_SIDECAR_ADDRESS: `0.0.0.0:${await closedPort()}` });
    assert.notEqual(code, 0);
  });
});
