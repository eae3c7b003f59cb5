import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readApiConfig, startApiServer } from "@nvarc/api";
import { createLogger } from "@nvarc/telemetry";
import { normalizeBatchRequest } from "../../api/src/batch-request.ts";
import { DATASETS_DIR } from "../../../test/support/env.ts";
import { fetchAllTasks, startTestStack, waitForBatch, type TestStack } from "../../../test/support/stack.ts";

/** A task with 1x1 grids: tiny requests, while an untrained model's greedy reply runs long. */
const ONE_CELL_TASK = {
  train: [{ input: [[1]], output: [[2]] }, { input: [[3]], output: [[4]] }],
  test: [{ input: [[5]], output: [[6]] }],
};

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("cancelling a running batch", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ name: "cancel", worker: true });
  });
  after(async () => {
    await stack.close();
  });

  it("aborts the running sidecar call, keeps its cost and frees the worker", async () => {
    // With the cpu preset each of these tasks keeps the sidecar busy for over 10 s, long
    // enough to cancel the first one mid-call while the second still waits in the queue.
    const created = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { dataset: "arc-agi-1/evaluation", taskIds: ["0934a4d8", "00576224"], options: { preset: "cpu" } } });
    assert.equal(created.statusCode, 202, created.body);
    const batchId = created.json().id;
    await waitFor(async () => (await stack.database.query("SELECT 1 FROM task_runs WHERE batch_id = $1", [batchId])).length > 0, 120_000, "the first run to start");
    await new Promise((resolve) => setTimeout(resolve, 1500));

    const cancelledAt = Date.now();
    const response = await stack.api.app.inject({ method: "DELETE", url: `/v1/batches/${batchId}` });
    assert.equal(response.statusCode, 202, response.body);
    await waitFor(async () => (await stack.database.query("SELECT 1 FROM task_runs WHERE batch_id = $1 AND finished_at IS NOT NULL", [batchId])).length > 0, 30_000, "the running call to stop");
    const stopSeconds = (Date.now() - cancelledAt) / 1000;

    const batch = (await stack.api.app.inject({ method: "GET", url: `/v1/batches/${batchId}` })).json();
    const tasks = await fetchAllTasks(stack, batchId);
    assert.equal(batch.state, "cancelled");
    assert.ok(tasks.every((task) => task.state === "cancelled"), JSON.stringify(tasks.map((task) => task.state)));
    const runs = await stack.database.query("SELECT state, device_seconds FROM task_runs WHERE batch_id = $1", [batchId]);
    assert.equal(runs.length, 1, "the queued task never started");
    assert.equal(runs[0].state, "cancelled");
    assert.ok(stopSeconds < 30, `the call stopped ${stopSeconds} s after the cancel`);

    const next = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { tasks: { a0000001: ONE_CELL_TASK }, options: { preset: "test", maxNewTokens: 8 } } });
    const done = await waitForBatch(stack, next.json().id, 120_000);
    assert.equal(done.state, "completed", "the worker and sidecar take new work after the cancel");

    const submission = await stack.api.app.inject({ method: "GET", url: `/v1/batches/${batchId}/submission.json` });
    assert.equal(submission.statusCode, 200, "a cancelled batch has a final submission");
    assert.deepEqual(Object.keys(submission.json()).sort(), ["00576224", "0934a4d8"]);
  });
});

describe("a batch committed without its jobs", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ name: "sweeper", worker: true });
  });
  after(async () => {
    await stack.close();
  });

  it("is re-enqueued by the sweeper when an api starts, and completes", async () => {
    const { request } = await normalizeBatchRequest({ tasks: { a0000002: ONE_CELL_TASK }, options: { preset: "test", maxNewTokens: 8 } }, { datasetsDir: DATASETS_DIR, defaultPreset: "test", defaultGpuType: "cpu" });
    const batchId = "6f1c2a90-0000-4000-8000-000000000001";
    // What the api stores before a crash that happens before the enqueue.
    await stack.database.repos.createBatchWithTasks({
      id: batchId, modelId: "tiny-untrained", options: JSON.parse(JSON.stringify(request!.options)), dataset: null,
      tasks: [{ taskId: "a0000002", position: 0, task: ONE_CELL_TASK, testCount: 1, hasGroundTruth: true }],
    });

    const restarted = await startApiServer({
      config: readApiConfig({ ...stack.env, NVARC_SWEEP_AFTER_MS: "0" }),
      db: { repos: stack.database.repos, poolStats: () => stack.database.db.poolStats(), ping: () => stack.database.db.ping() },
      logger: createLogger("test-restarted-api", "warn"),
      listen: false,
    });
    try {
      const batch = await waitForBatch(stack, batchId, 120_000);
      assert.equal(batch.state, "completed");
      const runs = await stack.database.query("SELECT run_number FROM task_runs WHERE batch_id = $1", [batchId]);
      assert.equal(runs.length, 1);
    } finally {
      await restarted.close();
    }
  });
});

describe("a sidecar reply over the gRPC message limit", () => {
  let stack: TestStack;

  before(async () => {
    // A low DFS threshold makes the untrained model return hundreds of short
    // completions per prompt, a Decode reply above the worker's 1 KiB limit, while
    // every request stays under it (Score requests are split to fit).
    stack = await startTestStack({ name: "message_limit", worker: true, env: { NVARC_GRPC_MAX_MESSAGE_BYTES: "1024" } });
  });
  after(async () => {
    await stack.close();
  });

  it("oversized reply fails the task once", async () => {
    const created = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { tasks: { a0000003: ONE_CELL_TASK }, options: { preset: "test", minProbability: 0.0005, maxNewTokens: 8 } } });
    const batch = await waitForBatch(stack, created.json().id, 120_000);
    const [task] = await fetchAllTasks(stack, batch.id);

    assert.equal(task.state, "failed");
    assert.equal(task.failureCode, "sidecar_message_too_large");
    assert.match(task.failureMessage, /Decode failed \(message_too_large\): a message of [\d,]+ bytes exceeds the gRPC message limit of 1,024 bytes/);
    assert.match(task.failureMessage, /NVARC_GRPC_MAX_MESSAGE_BYTES/);
    assert.equal(task.runs.length, 1, "a size-limit failure is not retried");
    assert.ok(task.runs[0].deviceSeconds > 0, "the device time of the failed run is recorded");
    assert.ok(task.costUsd > 0);
  });
});

describe("re-scoring more candidates than one message can carry", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ name: "score_chunks", worker: true, env: { NVARC_GRPC_MAX_MESSAGE_BYTES: "4096" } });
  });
  after(async () => {
    await stack.close();
  });

  it("splits the Score requests to stay under the limit and completes the task", async () => {
    const created = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { tasks: { a0000004: ONE_CELL_TASK }, options: { preset: "test", minProbability: 0.0005, maxNewTokens: 8 } } });
    const batch = await waitForBatch(stack, created.json().id, 120_000);
    const [task] = await fetchAllTasks(stack, batch.id);

    assert.equal(task.state, "completed", `${task.failureCode}: ${task.failureMessage}`);
    const scored = task.candidates.filter((candidate: any) => candidate.valid && candidate.meanLogProb !== null);
    // Each candidate costs 2 score items of about 40 tokens: more than 25 cannot fit in one 2 KiB request.
    assert.ok(scored.length > 25, `only ${scored.length} candidates were scored`);
  });
});
