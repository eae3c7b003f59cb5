import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startPrivateSidecar } from "../../../test/support/sidecar.ts";
import { fetchAllTasks, startTestStack, waitForBatch, type TestStack } from "../../../test/support/stack.ts";

describe("a sidecar that dies during a call", () => {
  let stack: TestStack;
  let sidecar: Awaited<ReturnType<typeof startPrivateSidecar>>;

  before(async () => {
    sidecar = await startPrivateSidecar({});
    // The retry waits long enough for a new sidecar process to start.
    stack = await startTestStack({ name: "sidecar_restart", worker: true, sidecarAddress: sidecar.address, env: { NVARC_RETRY_BACKOFF_MS: "8000", NVARC_TASK_ATTEMPTS: "3" } });
  });
  after(async () => {
    await stack.close();
    await sidecar.process.stop();
  });

  it("fails the run with a retryable error and a retry completes the task", async () => {
    const response = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { dataset: "arc-agi-1/evaluation", taskIds: ["009d5c81"], options: { preset: "test", maxNewTokens: 64 } } });
    const batchId = response.json().id;
    for (let waited = 0; (await stack.database.query("SELECT 1 FROM task_runs WHERE batch_id = $1", [batchId])).length === 0; waited += 100) {
      assert.ok(waited < 60_000, "the first run never started");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));

    sidecar.process.child.kill("SIGKILL");
    await sidecar.process.stop();
    sidecar = await startPrivateSidecar({ NVARC_SIDECAR_ADDRESS: sidecar.address });

    const batch = await waitForBatch(stack, batchId, 300_000);
    const [task] = await fetchAllTasks(stack, batchId);
    assert.equal(batch.state, "completed");
    assert.equal(task.state, "completed");
    assert.ok(task.runs.length >= 2);
    assert.equal(task.runs[0].state, "failed");
    assert.match(task.runs[0].errorCode, /^sidecar_(unavailable|internal|unknown)$/);
    assert.equal(task.runs[0].wasted, true, "the failed run's cost is marked wasted");
    assert.equal(task.runs.at(-1).state, "completed");
    assert.equal(batch.cost.wastedRuns, task.runs.length - 1);
  });
});
