import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { validateSubmission } from "@nvarc/arc";
import { DATASETS_DIR, REPO_ROOT } from "../../../test/support/env.ts";

/** Starts the nvarc command with the environment of a fresh machine: no database or Redis URL. */
function spawnCli(args: string[], cwd: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, NVARC_DATASETS_DIR: DATASETS_DIR, NVARC_PGLITE_DIR: path.join(cwd, "pglite"), NVARC_LOG_LEVEL: "warn" };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  delete env.NVARC_API_URL;
  delete env.INIT_CWD;
  delete env.npm_lifecycle_event;
  // The working folder is outside the repository, so the tsx hook is named by its full URL.
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), path.join(REPO_ROOT, "apps/cli/src/main.ts"), ...args], { cwd, env });

  const output = { stdout: "", stderr: "" };
  child.stdout.on("data", (chunk) => { output.stdout += chunk; });
  child.stderr.on("data", (chunk) => { output.stderr += chunk; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return { child, output, exited };
}

/** Runs the nvarc command to its end. */
async function runCli(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { output, exited } = spawnCli(args, cwd);
  const { code } = await exited;
  return { code, ...output };
}

/** Returns true while a process with this pid exists. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("nvarc eval with the embedded defaults", () => {
  it("runs real tasks end to end and writes a valid submission", async () => {
    const cwd = await fs.mkdtemp(path.join(os.tmpdir(), "nvarc-cli-"));
    const result = await runCli(["eval", "--dataset", "arc-agi-1/evaluation", "--task-ids", "66e6c45b,6ea4a07e", "--preset", "test", "--out", "out/submission.json"], cwd);

    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /using the embedded PGlite database/);
    assert.match(result.stdout, /started a private redis-server/);
    assert.match(result.stdout, /^66e6c45b\s+completed\s+(yes|no)\s+1\s/m);
    assert.match(result.stdout, /^6ea4a07e\s+completed\s+(yes|no|50%)\s+2\s/m);
    assert.match(result.stdout, /score \(Kaggle metric, mean over test inputs\): [\d.]+%  \(\d\/3 test inputs\)/);
    assert.match(result.stdout, /taskScore \(mean over tasks of the fraction solved\): [\d.]+%/);
    assert.match(result.stdout, /\$[\d.]+ per task/);
    assert.match(result.stdout, /model tiny-arc, preset test/, "the committed trained model is the default");

    const submission = JSON.parse(await fs.readFile(path.join(cwd, "out/submission.json"), "utf8"));
    assert.deepEqual(validateSubmission(submission, [{ taskId: "66e6c45b", testCount: 1 }, { taskId: "6ea4a07e", testCount: 2 }]), []);
  });

  it("SIGTERM stops the sidecar and redis-server it started", async () => {
    const cwd = await fs.mkdtemp(path.join(os.tmpdir(), "nvarc-cli-"));
    const { child, output, exited } = spawnCli(["eval", "--dataset", "arc-agi-1/evaluation", "--limit", "5", "--preset", "test"], cwd);
    const deadline = Date.now() + 180_000;
    while (!/submitted batch/.test(output.stdout)) {
      assert.equal(child.exitCode, null, `the command exited before submitting:\n${output.stdout}\n${output.stderr}`);
      assert.ok(Date.now() < deadline, `the batch was not submitted within 180 s:\n${output.stdout}\n${output.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const sidecarPid = Number(/sidecar started \(pid (\d+)\)/.exec(output.stdout)?.[1]);
    const redisPid = Number(/redis-server \(pid (\d+)\)/.exec(output.stdout)?.[1]);
    assert.ok(isRunning(sidecarPid), `sidecar pid ${sidecarPid} is not running:\n${output.stdout}`);
    assert.ok(isRunning(redisPid), `redis-server pid ${redisPid} is not running:\n${output.stdout}`);

    child.kill("SIGTERM");
    const { code } = await exited;

    assert.equal(code, 143, output.stderr);
    assert.match(output.stdout, /received SIGTERM; stopping the embedded stack/);
    assert.equal(isRunning(sidecarPid), false, "the sidecar outlived the command");
    assert.equal(isRunning(redisPid), false, "redis-server outlived the command");
  });

  it("rejects a bad dataset name with the reason and exit code 1", async () => {
    const cwd = await fs.mkdtemp(path.join(os.tmpdir(), "nvarc-cli-"));
    const result = await runCli(["eval", "--dataset", "arc-agi-9/evaluation", "--limit", "1"], cwd);

    assert.equal(result.code, 1);
    assert.match(result.stderr, /POST \/v1\/batches failed with HTTP 400/);
    assert.match(result.stderr, /dataset: /);
  });

  it("prints usage and exit code 2 without a dataset", async () => {
    const result = await runCli(["eval"], os.tmpdir());
    assert.equal(result.code, 2);
    assert.match(result.stderr, /eval needs --dataset NAME or --tasks FILE/);
  });
});
