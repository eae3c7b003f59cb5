import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import { isPoolTimeout } from "@nvarc/db";
import { withDbRetry } from "../../worker/src/db-retry.ts";
import { startTestStack, type TestStack } from "../../../test/support/stack.ts";

const TASKS = 20;
const BLOCK_MS = 4000;

/** Creates a logger that keeps the warnings it receives. */
function recordingLogger() {
  const warnings: any[] = [];
  const logger: any = { warn: (facts: any) => warnings.push(facts), info() {}, error() {}, debug() {}, child: () => logger };
  return { logger, warnings };
}

describe("result writes while the pool cannot get a connection", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ name: "db_pool", poolSettings: { poolMax: 2, acquireTimeoutMs: 800, pingTimeoutMs: 1500 } });
  });
  after(async () => {
    await stack.close();
  });

  it("blocked writes time out, then store once", async () => {
    const tasks = Object.fromEntries(Array.from({ length: TASKS }, (_, index) => [`p${String(index).padStart(7, "0")}`, { train: [{ input: [[1]], output: [[2]] }], test: [{ input: [[3]], output: [[4]] }] }]));
    const created = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { tasks, options: { preset: "test" } } });
    assert.equal(created.statusCode, 202, created.body);
    const batchId = created.json().id;

    const runs = [];
    for (const taskId of Object.keys(tasks)) {
      const run = await stack.database.repos.startTaskRun({ batchId, taskId, jobId: `${batchId}_${taskId}`, workerId: "test" });
      assert.ok(run.started);
      runs.push({ taskId, runNumber: run.runNumber });
    }

    // Both pool connections end up waiting on this lock; every other write waits for a connection.
    const blocker = new pg.Client({ connectionString: stack.database.url });
    await blocker.connect();
    await blocker.query("BEGIN; LOCK TABLE batch_tasks IN ACCESS EXCLUSIVE MODE");

    const { logger, warnings } = recordingLogger();
    const writes = runs.map(({ taskId, runNumber }) => withDbRetry(logger, `commit ${taskId}`, () => stack.database.repos.commitTaskResult({
      batchId, taskId, runNumber,
      attempts: [{ testIndex: 0, attempt: 1, grid: [[4]], correct: true }],
      candidates: [{ testIndex: 0, candidateKey: "4", valid: true, grid: [[4]], invalidReason: null, count: 1, greedy: false, meanLogProb: -0.1, rankScore: 0.9, rank: 1, correct: true }],
      correct: [true], solvedFraction: 1, details: null,
      timings: { ttftSeconds: 0, decodeSeconds: 0, scoreSeconds: 0, wallSeconds: 0 },
      deviceSeconds: 1,
      cost: { kind: "device", gpuType: "cpu", deviceSeconds: 1, usdPerHour: 0.05, priceDate: "2026-12-04", usd: 0.05 / 3600 },
    })));

    await new Promise((resolve) => setTimeout(resolve, 1500));
    const readiness = await stack.api.app.inject({ method: "GET", url: "/readyz" });
    const metrics = (await stack.api.app.inject({ method: "GET", url: "/metrics" })).body;
    await new Promise((resolve) => setTimeout(resolve, BLOCK_MS - 1500));
    await blocker.query("COMMIT");
    await blocker.end();
    await Promise.all(writes);

    assert.equal(readiness.statusCode, 503);
    const postgres = readiness.json().failures.find((failure: any) => failure.name === "postgres");
    assert.match(postgres.reason, /pool/i);
    assert.match(metrics, /nvarc_db_pool_connections\{state="total"\} 2/);

    const timeouts = warnings.filter((warning) => isPoolTimeout(warning.err));
    assert.ok(timeouts.length > 0, "blocked writes time out waiting for a connection");
    assert.match(timeouts[0].err.message, /pool/i);
    assert.match(timeouts[0].err.message, /\b2\b/, "the message names the pool size");
    assert.match(timeouts[0].err.message, /NVARC_DB_POOL_MAX|NVARC_DB_ACQUIRE_TIMEOUT_MS/);

    const attempts = await stack.database.query("SELECT task_id, count(*)::int AS n FROM attempts WHERE batch_id = $1 GROUP BY task_id", [batchId]);
    assert.equal(attempts.length, TASKS);
    assert.ok(attempts.every((row) => row.n === 1), "each result is stored once");
    const completed = await stack.database.query("SELECT count(*)::int AS n FROM batch_tasks WHERE batch_id = $1 AND state = 'completed'", [batchId]);
    assert.equal(completed[0].n, TASKS);

    const ready = await stack.api.app.inject({ method: "GET", url: "/readyz" });
    assert.equal(ready.statusCode, 200);
  });
});
