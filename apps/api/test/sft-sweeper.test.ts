import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import { SFT_QUEUE } from "@nvarc/queues";
import { TEST_REDIS_URL } from "../../../test/support/env.ts";
import { startTestStack, type TestStack } from "../../../test/support/stack.ts";

/** Polls `read` until it returns a value, or fails after `timeoutMs`. */
async function eventually<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("SFT run sweeper", () => {
  let stack: TestStack;
  let sftQueue: Queue;

  before(async () => {
    // No worker: the re-added job stays in the queue where the test can see it.
    stack = await startTestStack({ name: "sft_sweeper", env: { NVARC_SWEEP_AFTER_MS: "0", NVARC_SWEEP_INTERVAL_MS: "200" } });
    sftQueue = new Queue(SFT_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: stack.queuePrefix });
  });

  after(async () => {
    await sftQueue?.close();
    await stack?.close();
  });

  const insertRun = (state: "queued" | "cancelled") => stack.database.repos.createSftRun({
    id: randomUUID(), baseModelId: "tiny-untrained", datasetId: "sweeper-dataset", backend: "local",
    hyperparameters: { learningRate: 1e-3 }, outputDir: "",
  }).then(async (run) => {
    if (state === "cancelled") await stack.database.repos.cancelSftRun(run.id);
    return run.id;
  });

  it("queued run without a job gets its job back", async () => {
    const runId = await insertRun("queued");

    const job = await eventually(async () => (await sftQueue.getJob(runId)) ?? undefined, `a job for run ${runId}`);

    assert.deepEqual(job.data, { runId });
    assert.equal(job.opts.attempts, Number(stack.env.NVARC_SFT_ATTEMPTS ?? 3));
  });

  it("later sweeps keep a single job per run", async () => {
    const runId = await insertRun("queued");
    await eventually(async () => (await sftQueue.getJob(runId)) ?? undefined, `a job for run ${runId}`);

    await new Promise((resolve) => setTimeout(resolve, 1_000));

    const jobs = (await sftQueue.getJobs(["waiting", "delayed", "prioritized", "active"])).filter((job) => job.data.runId === runId);
    assert.equal(jobs.length, 1);
  });

  it("cancelled run is not re-added", async () => {
    const runId = await insertRun("cancelled");

    await new Promise((resolve) => setTimeout(resolve, 1_000));

    assert.equal(await sftQueue.getJob(runId), undefined);
  });
});
