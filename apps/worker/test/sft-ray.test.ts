import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import { SFT_QUEUE } from "@nvarc/queues";
import { DATASETS_DIR, TEST_REDIS_URL } from "../../../test/support/env.ts";
import { SIDECAR_PYTHON, startRayHead, type RayHead } from "../../../test/support/ray-head.ts";
import { startTestStack, type TestStack } from "../../../test/support/stack.ts";
import { buildSftDataset, sftDatasetDir } from "../src/sft/dataset-build.ts";
import { checkpointModelId, finalModelId } from "../src/sft/run-progress.ts";
import { raySubmissionId } from "../src/sft/ray-run.ts";

const BASE_MODEL_ID = "tiny-untrained";
const RUN_STEPS = 4;
const CHECKPOINT_EVERY_STEPS = 2;
// Starting the job's driver and two actors that each import torch takes a minute or more on 2 busy cores.
const RUN_TIMEOUT_MS = 600_000;

/** Builds one sample of each of 5 arc-agi-1 training tasks, packed into 2 sequences: one per rank and step. */
function buildTinyDataset(outRoot: string) {
  return buildSftDataset({
    datasetsDir: DATASETS_DIR, sources: ["arc-agi-1/training"], excludeDatasets: [], samplesPerTask: 1,
    maxSeqLen: 4096, packMaxTokens: 4096, seed: 0, outRoot, limitPerSource: 5,
  });
}

async function waitForRun(stack: TestStack, id: string, done: (run: any) => boolean, timeoutMs = RUN_TIMEOUT_MS): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = (await stack.api.app.inject({ method: "GET", url: `/v1/sft-runs/${id}` })).json();
    if (done(run)) return run;
    assert.ok(Date.now() < deadline, `SFT run ${id} still ${run.state} at step ${run.step} after ${timeoutMs} ms; log tail:\n${run.logTail}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function rayJob(head: RayHead, submissionId: string): Promise<any> {
  const response = await fetch(`${head.dashboardUrl}/api/jobs/${submissionId}`);
  assert.equal(response.status, 200, `Ray job ${submissionId} not found`);
  return response.json();
}

const isFinished = (run: any) => ["completed", "failed", "cancelled"].includes(run.state);

describe("SFT runs on Ray", () => {
  let head: RayHead | undefined;
  let stack: TestStack;
  let scratch: string;
  let datasetId: string;
  let sftQueue: Queue;

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "nvarc-sft-ray-"));
    const outRoot = path.join(scratch, "datasets");
    const manifest = await buildTinyDataset(outRoot);
    datasetId = manifest.datasetId;
    assert.equal(manifest.counts.sequences, 2, "the dataset should give each of the 2 ranks one sequence per step");
    head = await startRayHead(2);
    stack = await startTestStack({
      name: "sft_ray", worker: true,
      env: {
        NVARC_SFT_OUTPUT_DIR: path.join(scratch, "runs"),
        NVARC_RAY_ADDRESS: head.dashboardUrl,
        NVARC_RAY_WORKERS: "2",
        NVARC_RAY_CPUS_PER_WORKER: "1",
        NVARC_RAY_PYTHON: SIDECAR_PYTHON,
        NVARC_RAY_POLL_INTERVAL_MS: "500",
      },
    });
    await stack.database.repos.recordSftDataset(manifest, sftDatasetDir(outRoot, datasetId));
    sftQueue = new Queue(SFT_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: stack.queuePrefix });
  }, { timeout: 300_000 });

  after(async () => {
    await sftQueue?.close();
    await stack?.close();
    await head?.stop();
    await rm(scratch, { recursive: true, force: true });
  }, { timeout: 120_000 });

  const submit = (hyperparameters: Record<string, number>) => stack.api.app.inject({
    method: "POST", url: "/v1/sft-runs", payload: { baseModelId: BASE_MODEL_ID, datasetId, backend: "ray", hyperparameters },
  });

  it("two-worker run completes and registers its models", { timeout: RUN_TIMEOUT_MS + 60_000 }, async () => {
    const response = await submit({ learningRate: 1e-3, maxSteps: RUN_STEPS, checkpointEverySteps: CHECKPOINT_EVERY_STEPS, microBatchSequences: 2, torchThreads: 1, seed: 0 });
    assert.equal(response.statusCode, 202, response.body);
    const runId = response.json().id;

    const run = await waitForRun(stack, runId, isFinished);
    assert.equal(run.state, "completed", `${JSON.stringify(run.error)}\n${run.logTail}`);
    assert.equal(run.backend, "ray");
    assert.equal(run.step, RUN_STEPS);
    assert.equal(run.totalSteps, RUN_STEPS);
    assert.deepEqual(run.lossCurve.map((point: any) => point.step), [1, 2, 3, 4]);
    for (const point of run.lossCurve) assert.ok(Number.isFinite(point.loss) && point.loss > 0, `loss at step ${point.step}: ${point.loss}`);
    assert.ok(run.deviceSeconds > 0);
    assert.ok(run.cost.usd > 0);

    assert.equal(run.rayJobId, raySubmissionId(runId, 1));
    assert.match(run.logTail, /NVARC_SFT_PROGRESS \{"step":4,/);
    assert.match(run.logTail, /"workers": 2/);
    const job = await rayJob(head!, run.rayJobId);
    assert.equal(job.status, "SUCCEEDED");
    assert.equal(job.metadata.nvarcSftRunId, runId);

    const expectedIds = [checkpointModelId(runId, 2), finalModelId(runId)];
    assert.deepEqual(run.models.map((model: any) => model.id).sort(), [...expectedIds].sort());
    for (const model of run.models) {
      assert.equal(model.sftRunId, runId);
      assert.equal(model.parentModelId, BASE_MODEL_ID);
      assert.equal(typeof model.metrics.loss, "number");
    }
    const final = run.models.find((model: any) => model.id === finalModelId(runId));
    assert.equal(final.step, RUN_STEPS);
    assert.equal(final.path, path.join(run.outputDir, runId, "final"));
    assert.ok((await stat(path.join(final.path, "model.safetensors"))).isFile());

    const loaded = await stack.worker!.deps.sidecar.loadModel({ modelPath: final.path }, { timeoutMs: 120_000 });
    assert.equal(loaded.modelPath, final.path);
    assert.ok(loaded.parameterCount > 0);

    const queued = await sftQueue.getJob(runId);
    assert.equal(queued?.returnvalue.outcome, "completed");
  });

  it("cancel stops the Ray job", { timeout: RUN_TIMEOUT_MS + 120_000 }, async () => {
    const response = await submit({ learningRate: 1e-3, maxSteps: 5000, checkpointEverySteps: 1000, microBatchSequences: 2, torchThreads: 1 });
    assert.equal(response.statusCode, 202, response.body);
    const runId = response.json().id;
    await waitForRun(stack, runId, (current) => (current.state === "running" && current.step >= 1) || isFinished(current));

    const cancelled = await stack.api.app.inject({ method: "DELETE", url: `/v1/sft-runs/${runId}` });
    assert.equal(cancelled.statusCode, 202);
    assert.equal(cancelled.json().previousState, "running");

    const deadline = Date.now() + 180_000;
    let queued = await sftQueue.getJob(runId);
    while (!queued?.returnvalue) {
      assert.ok(Date.now() < deadline, "the cancelled run's job never finished");
      await new Promise((resolve) => setTimeout(resolve, 500));
      queued = await sftQueue.getJob(runId);
    }
    assert.equal(queued.returnvalue.outcome, "cancelled");

    const run = (await stack.api.app.inject({ method: "GET", url: `/v1/sft-runs/${runId}` })).json();
    assert.equal(run.state, "cancelled");
    assert.ok(run.step < 5000);
    assert.ok(run.deviceSeconds > 0);
    assert.ok(!run.models.some((model: any) => model.id === finalModelId(runId)));
    const job = await rayJob(head!, run.rayJobId);
    assert.equal(job.status, "STOPPED");
  });

  it("ray run is rejected when the api has no Ray address", async () => {
    const bare = await startTestStack({ name: "sft_ray_unset" });
    try {
      const response = await bare.api.app.inject({
        method: "POST", url: "/v1/sft-runs",
        payload: { baseModelId: BASE_MODEL_ID, datasetId: "any", backend: "ray", hyperparameters: { learningRate: 1e-3 } },
      });
      assert.equal(response.statusCode, 400);
      const body = response.json();
      assert.equal(body.problems[0].path, "backend");
      assert.equal(body.problems[0].code, "ray_not_configured");
      assert.match(body.problems[0].hint, /NVARC_RAY_ADDRESS/);
    } finally {
      await bare.close();
    }
  });

  it("head leaves no process after stop", { timeout: 120_000 }, async () => {
    const stopped = head!;
    head = undefined;
    assert.ok((await stopped.processIds()).length > 0, "the head should be running before stop");

    await stopped.stop();

    assert.deepEqual(await stopped.processIds(), []);
  });
});
