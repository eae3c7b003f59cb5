import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import fs from "node:fs";
import type { Logger } from "@nvarc/telemetry";

/** A child process the CLI started and must stop. */
export interface ManagedProcess {
  name: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Returns a free TCP port on 127.0.0.1 (another process may still take it first). */
export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Returns the path of redis-server, or undefined when it is not installed. */
export function findRedisServer(): string | undefined {
  const found = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  const located = found.stdout.trim();
  return found.status === 0 && located ? located : undefined;
}

/**
 * Starts a private redis-server on a free loopback port that keeps nothing on disk
 * (queue state is disposable: Postgres is the system of record).
 */
export async function startPrivateRedis(binary: string, logger: Logger): Promise<{ url: string; process: ManagedProcess }> {
  const port = await findFreePort();
  const child = spawn(binary, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"], { stdio: ["ignore", "pipe", "pipe"] });
  const managed = manage("redis", child, logger);

  await waitForPort(port, 10_000, () => child.exitCode !== null, "redis-server");
  logger.info({ port }, "private redis-server started");
  return { url: `redis://127.0.0.1:${port}`, process: managed };
}

/** Settings of a sidecar child process. */
export interface SidecarLaunch {
  repoRoot: string;
  /** Extra environment, e.g. NVARC_GRPC_MAX_MESSAGE_BYTES. */
  env?: Record<string, string>;
  /** Milliseconds to wait for the ready line (torch import takes a few seconds). */
  readyTimeoutMs?: number;
}

/** Starts the Python sidecar on a free port and waits for its ready line. */
export async function startSidecar(launch: SidecarLaunch, logger: Logger): Promise<{ address: string; process: ManagedProcess }> {
  const python = path.join(launch.repoRoot, "apps/sidecar/.venv/bin/python");
  if (!fs.existsSync(python)) {
    throw new Error(`the sidecar's Python environment is missing at ${python}. Run: npm run setup`);
  }

  const child = spawn(python, ["-m", "nvarc_sidecar"], {
    cwd: launch.repoRoot,
    env: { ...process.env, NVARC_SIDECAR_ADDRESS: "127.0.0.1:0", PYTHONUNBUFFERED: "1", ...launch.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const managed = manage("sidecar", child, logger);
  const port = await waitForReadyLine(child, launch.readyTimeoutMs ?? 120_000);
  logger.info({ port, pid: child.pid }, "sidecar started");
  return { address: `127.0.0.1:${port}`, process: managed };
}

function waitForReadyLine(child: ChildProcess, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`the sidecar printed no ready line within ${timeoutMs} ms`)), timeoutMs);
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      const match = /NVARC_SIDECAR_READY port=(\d+)/.exec(buffer);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
      if (buffer.length > 65_536) buffer = buffer.slice(-1024);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the sidecar exited before it was ready (code ${code}, signal ${signal})`));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number, exited: () => boolean, name: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`${name} exited at start; is port ${port} free?`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => { socket.destroy(); resolve(true); });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} did not open port ${port} within ${timeoutMs} ms`);
}

/** Keeps the child's stderr in the log (last lines on exit) and gives a stop function. */
function manage(name: string, child: ChildProcess, logger: Logger): ManagedProcess {
  const tail: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) => {
    tail.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 20));
  });
  child.stdout?.resume();
  child.once("exit", (code, signal) => {
    if (code !== 0 && signal !== "SIGTERM") logger.warn({ name, code, signal, stderr: tail.slice(-10) }, "child process exited");
  });

  return {
    name,
    child,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      child.once("exit", () => { clearTimeout(timer); resolve(); });
      child.kill("SIGTERM");
    }),
  };
}
