import { after, afterEach, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { CASES_DIR } from "../../../test/support/env.ts";
import { sharedSidecarAddress } from "../../../test/support/sidecar.ts";
import { fetchAllTasks, startTestStack, waitForBatch, type TestStack } from "../../../test/support/stack.ts";
import { startWorkerProcess, type WorkerProcess } from "../../../test/support/worker-process.ts";

const queueCase = JSON.parse(await fs.readFile(path.join(CASES_DIR, "BR-09.json"), "utf8"));
const settings = queueCase.worker_settings;

/** Short locks so a blocked or killed worker loses its job within seconds. */
function workerEnv(stack: TestStack, sidecarAddress: string, workerId: string, fault = ""): Record<string, string> {
  return {
    ...stack.env,
    NVARC_SIDECAR_ADDRESS: sidecarAddress,
    NVARC_WORKER_ID: workerId,
    NVARC_WORKER_LOCK_MS: String(settings.lockDuration_ms),
    NVARC_WORKER_STALLED_INTERVAL_MS: String(settings.stalledInterval_ms),
    NVARC_WORKER_MAX_STALLED_COUNT: String(settings.maxStalledCount),
    NVARC_WORKER_METRICS_PORT: "0",
    NVARC_TEST_FAULT: fault,
  };
}

describe("a task job taken by two workers", () => {
  let stack: TestStack;
  let sidecarAddress: string;
  const workers: WorkerProcess[] = [];

  before(async () => {
    stack = await startTestStack({ name: "reliability" });
    sidecarAddress = await sharedSidecarAddress();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.stop()));
  });
  after(async () => {
    await stack.close();
  });

  async function submit(): Promise<string> {
    const response = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { tasks: queueCase.tasks, options: { preset: "test" } } });
    assert.equal(response.statusCode, 202, response.body);
    return response.json().id;
  }

  async function resultRows(batchId: string) {
    const runs = await stack.database.query("SELECT run_number, state, worker_id FROM task_runs WHERE batch_id = $1 ORDER BY run_number", [batchId]);
    const costs = await stack.database.query("SELECT run_number, wasted FROM cost_records WHERE batch_id = $1 ORDER BY run_number", [batchId]);
    const attempts = await stack.database.query("SELECT DISTINCT run_number FROM attempts WHERE batch_id = $1", [batchId]);
    const candidates = await stack.database.query("SELECT DISTINCT run_number FROM candidates WHERE batch_id = $1", [batchId]);
    return { runs, costs, attempts, candidates };
  }

  it("late write of a blocked worker is superseded", async () => {
    const slow = startWorkerProcess(workerEnv(stack, sidecarAddress, "worker-blocked", "block_event_loop:5000"));
    workers.push(slow);
    await slow.waitForLog((line) => line.msg === "worker started");
    const batchId = await submit();
    await slow.waitForLog((line) => line.msg === "task run started");

    const other = startWorkerProcess(workerEnv(stack, sidecarAddress, "worker-other"));
    workers.push(other);
    const batch = await waitForBatch(stack, batchId, 300_000);
    await slow.waitForLog((line) => /superseded/.test(line.msg ?? ""));

    const [task] = await fetchAllTasks(stack, batchId);
    assert.equal(batch.state, "completed");
    assert.equal(task.state, "completed");
    assert.equal(batch.progress.completed, 1);

    const rows = await resultRows(batchId);
    assert.deepEqual(rows.runs.map((run) => run.state), ["superseded", "completed"]);
    assert.equal(rows.costs.length, 2, "both runs are billed");
    assert.deepEqual(rows.costs.map((cost) => cost.wasted), [true, false]);
    // The untrained model may find no valid grid, so attempts can be empty. Candidates
    // (valid or invalid decodes) always exist, and all come from the kept run.
    assert.deepEqual(rows.candidates, [{ run_number: 2 }], "candidates come from one run");
    assert.ok(rows.attempts.every((row) => row.run_number === 2), "attempts come from the kept run");
    // The superseded run bills its time after the batch completes, so the batch read
    // above may predate it; the cost view is computed on read.
    const settled = (await stack.api.app.inject({ method: "GET", url: `/v1/batches/${batchId}` })).json();
    assert.equal(settled.cost.wastedRuns, 1);

    const stalled = other.lines.find((line) => line.msg?.startsWith("job stalled"));
    assert.ok(stalled, "the stalled job is logged by the worker that found it");
    assert.equal(stalled.jobId, `${batchId}_h9000001`);
  });

  it("kill after write keeps one result", async () => {
    const doomed = startWorkerProcess(workerEnv(stack, sidecarAddress, "worker-killed", "kill_after_write"));
    workers.push(doomed);
    await doomed.waitForLog((line) => line.msg === "worker started");
    const batchId = await submit();
    const exit = await doomed.exited;
    assert.equal(exit.signal, "SIGKILL");

    const rescuer = startWorkerProcess(workerEnv(stack, sidecarAddress, "worker-rescuer"));
    workers.push(rescuer);
    const batch = await waitForBatch(stack, batchId, 300_000);

    const [task] = await fetchAllTasks(stack, batchId);
    assert.equal(task.state, "completed");
    assert.equal(batch.progress.completed, 1);
    assert.equal(batch.taskCount, 1);

    const rows = await resultRows(batchId);
    assert.equal(rows.runs.length, 2);
    assert.equal(rows.runs[1].worker_id, "worker-rescuer");
    assert.deepEqual(rows.candidates, [{ run_number: 2 }], "the rerun replaced the first result");
    assert.ok(rows.attempts.every((row) => row.run_number === 2));
  });

  it("keeps the lock through a sidecar call longer than the lock duration", async () => {
    const worker = startWorkerProcess(workerEnv(stack, sidecarAddress, "worker-long-call"));
    workers.push(worker);
    await worker.waitForLog((line) => line.msg === "worker started");
    // 009d5c81 has 30x30-sized pairs: TTFT alone takes several lock durations of 2 s.
    const response = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { dataset: "arc-agi-1/evaluation", taskIds: ["009d5c81"], options: { preset: "test", maxNewTokens: 64 } } });
    const batch = await waitForBatch(stack, response.json().id, 300_000);

    const [task] = await fetchAllTasks(stack, batch.id);
    assert.equal(task.state, "completed");
    assert.ok(task.timings.ttftSeconds > (2 * settings.lockDuration_ms) / 1000, `TTFT took only ${task.timings.ttftSeconds} s`);
    assert.equal(task.runs.length, 1, "the job was not taken again");
    assert.ok(!worker.lines.some((line) => line.msg?.startsWith("job stalled")), "no stalled event");
  });

  it("finishes the current job on SIGTERM and takes no new one", async () => {
    const worker = startWorkerProcess(workerEnv(stack, sidecarAddress, "worker-sigterm"));
    workers.push(worker);
    await worker.waitForLog((line) => line.msg === "worker started");
    const response = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { dataset: "arc-agi-1/evaluation", taskIds: ["009d5c81", "00576224"], options: { preset: "test", maxNewTokens: 64 } } });
    const batchId = response.json().id;
    const started = await worker.waitForLog((line) => line.msg === "task run started");

    worker.child.kill("SIGTERM");
    const exit = await worker.exited;

    assert.equal(exit.code, 0);
    const tasks = await fetchAllTasks(stack, batchId);
    const other = started.taskId === "009d5c81" ? "00576224" : "009d5c81";
    const states = Object.fromEntries(tasks.map((task) => [task.taskId, task.state]));
    assert.deepEqual(states, { [started.taskId]: "completed", [other]: "queued" }, "the running task finished and the queued one was left for other workers");
    assert.ok(worker.lines.some((line) => line.msg === "worker stopped"));
  });
});
