import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { REPO_ROOT } from "./env.ts";

/** A worker started as its own process, as in production, with its log lines kept. */
export interface WorkerProcess {
  child: ChildProcess;
  lines: any[];
  /** Resolves with the first log line matching `predicate`. */
  waitForLog(predicate: (line: any) => boolean, timeoutMs?: number): Promise<any>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
}

/** Starts `apps/worker/src/main.ts` with `env` on top of the test stack's environment. */
export function startWorkerProcess(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "apps/worker/src/main.ts")], {
    cwd: REPO_ROOT,
    env: { ...process.env, NVARC_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });

  const lines: any[] = [];
  const waiters: { predicate: (line: any) => boolean; resolve: (line: any) => void }[] = [];
  let buffer = "";
  child.stdout!.on("data", (chunk: Buffer) => {
    buffer += chunk.toString("utf8");
    const parts = buffer.split("\n");
    buffer = parts.pop() ?? "";
    for (const text of parts) {
      let line: any;
      try {
        line = JSON.parse(text);
      } catch {
        line = { msg: text };
      }
      lines.push(line);
      for (const waiter of waiters.filter((entry) => entry.predicate(line))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const stderr: string[] = [];
  child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk.toString("utf8")));

  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });

  return {
    child,
    lines,
    exited,
    waitForLog: (predicate, timeoutMs = 120_000) => {
      const found = lines.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching worker log line within ${timeoutMs} ms; stderr: ${stderr.join("").slice(-2000)}`)), timeoutMs);
        waiters.push({ predicate, resolve: (line) => { clearTimeout(timer); resolve(line); } });
      });
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
