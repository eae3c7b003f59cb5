// A single-node Ray head for tests, on loopback, with its own temp dir; stopped by process id.
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";
import { REPO_ROOT } from "./env.ts";

/** The sidecar's virtual environment, which has ray[default] (scripts/setup.sh installs it). */
export const SIDECAR_PYTHON = path.join(REPO_ROOT, "apps/sidecar/.venv/bin/python");
const RAY_CLI = path.join(REPO_ROOT, "apps/sidecar/.venv/bin/ray");

/** Milliseconds `ray start` may take; on 2 busy cores it took about 7 s here. */
const START_TIMEOUT_MS = 180_000;

export interface RayHead {
  /** Dashboard URL, which serves the Jobs REST API. */
  dashboardUrl: string;
  /** Ids of the processes of this head and of the jobs it ran. */
  processIds(): Promise<number[]>;
  /** Stops every process of this head (and the jobs it ran) and deletes its temp dir. */
  stop(): Promise<void>;
}

/**
 * Starts `ray start --head` with `cpus` CPUs on 127.0.0.1. `stop` ends exactly the
 * processes of this head, where `ray stop` would end every Ray process of the machine.
 * They are found three ways, because each one misses some. The process group of
 * `ray start` misses job drivers, which start sessions of their own. An environment
 * marker misses Ray's daemons, which overwrite their environment block when they
 * rename themselves. The temp dir on the command line is the third. Descendants of
 * any of them count too.
 */
export async function startRayHead(cpus: number): Promise<RayHead> {
  // Ray's unix socket paths must stay under 108 bytes, so the temp dir is short.
  const tempDir = await mkdtemp("/tmp/nvray-");
  const marker = `NVARC_TEST_RAY_HEAD=${tempDir}`;
  const [gcsPort, dashboardPort, clientPort, agentPort] = await freePorts(4);
  const args = [
    "start", "--head", "--disable-usage-stats", "--include-dashboard=true",
    "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1",
    `--port=${gcsPort}`, `--dashboard-port=${dashboardPort}`, `--ray-client-server-port=${clientPort}`,
    `--dashboard-agent-listen-port=${agentPort}`, `--num-cpus=${cpus}`, "--num-gpus=0",
    // The object store holds only small control messages here; 80 MB is near Ray's minimum.
    "--object-store-memory=80000000", `--temp-dir=${tempDir}`,
  ];
  const env = {
    ...process.env,
    NVARC_TEST_RAY_HEAD: tempDir,
    // On Linux Ray replaces 127.0.0.1 with the machine's outward address unless
    // this is 0, which keeps every Ray process and connection on loopback.
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER: "0",
    RAY_USAGE_STATS_ENABLED: "0",
  };
  const owner: HeadProcesses = { marker, tempDir, processGroup: -1 };
  const head: RayHead = {
    dashboardUrl: `http://127.0.0.1:${dashboardPort}`,
    processIds: () => findHeadProcesses(owner),
    stop: () => stopHead(owner),
  };
  try {
    owner.processGroup = await runRayStart(args, env);
    await waitForDashboard(head.dashboardUrl);
  } catch (error) {
    await head.stop();
    throw error;
  }
  return head;
}

/** Runs `ray start` in a new process group, which its daemons keep; returns that group's id. */
function runRayStart(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(RAY_CLI, args, { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let output = "";
    child.stdout.on("data", (chunk) => { output += chunk; });
    child.stderr.on("data", (chunk) => { output += chunk; });
    const timer = setTimeout(() => child.kill("SIGKILL"), START_TIMEOUT_MS);
    child.on("error", (error) => { clearTimeout(timer); reject(error); });
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(child.pid!);
      else reject(new Error(`ray start exited with ${code}:\n${output.slice(-4000)}`));
    });
  });
}

async function waitForDashboard(url: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const response = await fetch(`${url}/api/jobs/`, { signal: AbortSignal.timeout(5000) });
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the Ray dashboard at ${url} did not answer within ${START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

interface HeadProcesses {
  marker: string;
  tempDir: string;
  /** Process group of `ray start`; -1 before it ran. */
  processGroup: number;
}

/** Sends SIGTERM, then SIGKILL, to every process of the head, then removes its temp dir. */
async function stopHead(owner: HeadProcesses): Promise<void> {
  const known = new Set(await findHeadProcesses(owner));
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    for (const pid of await findHeadProcesses(owner)) known.add(pid);
    for (const pid of known) {
      try {
        process.kill(pid, signal);
      } catch {
        known.delete(pid);
      }
    }
    const deadline = Date.now() + 15_000;
    while ((await liveProcesses(known)).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await rm(owner.tempDir, { recursive: true, force: true });
}

/** Ids of the live (not zombie) processes of the head and their descendants. */
async function findHeadProcesses(owner: HeadProcesses): Promise<number[]> {
  const table = await processTable();
  const found = new Set<number>();
  for (const entry of table) {
    if (entry.pid === process.pid) continue;
    if (entry.processGroup === owner.processGroup || entry.environ.includes(owner.marker) || entry.commandLine.includes(owner.tempDir)) found.add(entry.pid);
  }
  let grew = true;
  while (grew) {
    grew = false;
    for (const entry of table) {
      if (!found.has(entry.pid) && found.has(entry.parent)) {
        found.add(entry.pid);
        grew = true;
      }
    }
  }
  return table.filter((entry) => found.has(entry.pid) && entry.state !== "Z").map((entry) => entry.pid);
}

async function liveProcesses(pids: Set<number>): Promise<number[]> {
  return (await processTable()).filter((entry) => pids.has(entry.pid) && entry.state !== "Z").map((entry) => entry.pid);
}

interface ProcessEntry {
  pid: number;
  parent: number;
  processGroup: number;
  state: string;
  environ: string[];
  commandLine: string;
}

/** Reads every process from Linux /proc. */
async function processTable(): Promise<ProcessEntry[]> {
  const entries: ProcessEntry[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Fields after the command name, which is in parentheses and may contain spaces: state, ppid, pgrp, ...
      const stat = await readFile(`/proc/${name}/stat`, "latin1");
      const [state, parent, processGroup] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const environ = (await readFile(`/proc/${name}/environ`, "latin1").catch(() => "")).split("\0");
      const commandLine = (await readFile(`/proc/${name}/cmdline`, "latin1").catch(() => "")).replaceAll("\0", " ");
      entries.push({ pid: Number(name), parent: Number(parent), processGroup: Number(processGroup), state, environ, commandLine });
    } catch {
      // The process exited while it was read.
    }
  }
  return entries;
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  })));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}
