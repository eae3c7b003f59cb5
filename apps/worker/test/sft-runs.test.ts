import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Queue } from "bullmq";
import { SFT_QUEUE } from "@nvarc/queues";
import { DATASETS_DIR, TEST_REDIS_URL } from "../../../test/support/env.ts";
import { startPrivateSidecar } from "../../../test/support/sidecar.ts";
import { startTestStack, type TestStack } from "../../../test/support/stack.ts";
import { buildSftDataset, sftDatasetDir } from "../src/sft/dataset-build.ts";
import { checkpointModelId, finalModelId } from "../src/sft/run-progress.ts";

const BASE_MODEL_ID = "tiny-untrained";
const RUN_STEPS = 6;
const CHECKPOINT_EVERY_STEPS = 2;

/** Builds the tiny dataset of these tests: one sample of each of 5 arc-agi-1 training tasks. */
function buildTinyDataset(outRoot: string) {
  return buildSftDataset({
    datasetsDir: DATASETS_DIR,
    sources: ["arc-agi-1/training"],
    excludeDatasets: [],
    samplesPerTask: 1,
    maxSeqLen: 4096,
    packMaxTokens: 4096,
    seed: 0,
    outRoot,
    limitPerSource: 5,
  });
}

async function waitForRun(stack: TestStack, id: string, done: (run: any) => boolean, timeoutMs = 300_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = (await stack.api.app.inject({ method: "GET", url: `/v1/sft-runs/${id}` })).json();
    if (done(run)) return run;
    assert.ok(Date.now() < deadline, `SFT run ${id} still ${run.state} at step ${run.step} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const isFinished = (run: any) => ["completed", "failed", "cancelled"].includes(run.state);

describe("SFT runs", () => {
  let stack: TestStack;
  let scratch: string;
  let datasetId: string;
  let sftQueue: Queue;

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "nvarc-sft-runs-"));
    const outRoot = path.join(scratch, "datasets");
    const manifest = await buildTinyDataset(outRoot);
    datasetId = manifest.datasetId;
    stack = await startTestStack({ name: "sft_runs", worker: true, env: { NVARC_SFT_OUTPUT_DIR: path.join(scratch, "runs") } });
    await stack.database.repos.recordSftDataset(manifest, sftDatasetDir(outRoot, datasetId));
    sftQueue = new Queue(SFT_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: stack.queuePrefix });
  });

  after(async () => {
    await sftQueue?.close();
    await stack?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  const submit = (body: unknown) => stack.api.app.inject({ method: "POST", url: "/v1/sft-runs", payload: body as object });
  const getRun = async (id: string) => (await stack.api.app.inject({ method: "GET", url: `/v1/sft-runs/${id}` })).json();
  const countRuns = async () => (await stack.database.query("SELECT id FROM sft_runs")).length;

  it("unknown dataset is rejected naming datasetId", async () => {
    const response = await submit({ baseModelId: BASE_MODEL_ID, datasetId: "no-such-dataset", hyperparameters: { learningRate: 1e-3 } });
    assert.equal(response.statusCode, 400);
    const body = response.json();
    assert.equal(body.problems.length, 1);
    assert.equal(body.problems[0].path, "datasetId");
    assert.equal(body.problems[0].code, "dataset_not_found");
    assert.equal(await countRuns(), 0);
  });

  it("unknown base model is rejected naming baseModelId", async () => {
    const response = await submit({ baseModelId: "no-such-model", datasetId, hyperparameters: { learningRate: 1e-3 } });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json().problems.map((problem: any) => problem.path), ["baseModelId"]);
  });

  it("ray backend without NVARC_RAY_ADDRESS is rejected", async () => {
    const response = await submit({ baseModelId: BASE_MODEL_ID, datasetId, backend: "ray", hyperparameters: { learningRate: 1e-3 } });
    assert.equal(response.statusCode, 400);
    const body = response.json();
    assert.equal(body.error, "backend_not_configured");
    assert.equal(body.problems[0].path, "backend");
    assert.match(body.hint, /NVARC_RAY_ADDRESS/);
    assert.equal(await countRuns(), 0);
  });

  it("bad hyperparameters are listed together", async () => {
    const response = await submit({
      baseModelId: BASE_MODEL_ID, datasetId,
      hyperparameters: { learningRate: -1, maxSteps: 2.5, checkpointEverySteps: "2", warmup: 3, dtype: "int8" },
    });
    assert.equal(response.statusCode, 400);
    const paths = response.json().problems.map((problem: any) => problem.path).sort();
    assert.deepEqual(paths, [
      "hyperparameters.checkpointEverySteps", "hyperparameters.dtype", "hyperparameters.learningRate",
      "hyperparameters.maxSteps", "hyperparameters.warmup",
    ]);
    assert.equal(response.json().problems.find((problem: any) => problem.path === "hyperparameters.warmup").code, "unknown_hyperparameter");
    assert.equal(await countRuns(), 0);
  });

  it("unknown body field is rejected", async () => {
    const response = await submit({ baseModelId: BASE_MODEL_ID, datasetId, hyperparameters: { learningRate: 1e-3 }, gpus: 8 });
    assert.equal(response.statusCode, 400);
    assert.deepEqual(response.json().problems.map((problem: any) => problem.code), ["unknown_field"]);
  });

  it("pruned checkpoints are marked and refused", async () => {
    const response = await submit({
      baseModelId: BASE_MODEL_ID, datasetId,
      hyperparameters: { learningRate: 1e-3, maxSteps: RUN_STEPS, checkpointEverySteps: CHECKPOINT_EVERY_STEPS, keepCheckpoints: 1, torchThreads: 1, seed: 0 },
    });
    const runId = response.json().id;
    const run = await waitForRun(stack, runId, isFinished);
    assert.equal(run.state, "completed", JSON.stringify(run.error));

    const pruned = run.models.find((model: any) => model.id === checkpointModelId(runId, 2));
    const kept = run.models.find((model: any) => model.id === checkpointModelId(runId, 4));
    assert.ok(pruned.prunedAt, "checkpoint 2 is marked pruned");
    assert.equal(kept.prunedAt, null);
    await assert.rejects(stat(pruned.path), "the pruned checkpoint's folder is gone");
    assert.ok((await stat(kept.path)).isDirectory());

    const batch = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { dataset: "arc-agi-1/evaluation", limit: 1, options: { modelId: pruned.id } } });
    assert.equal(batch.statusCode, 400);
    assert.equal(batch.json().problems[0].code, "model_pruned");
    assert.equal(batch.json().problems[0].path, "options.modelId");
    const promote = await stack.api.app.inject({ method: "POST", url: `/v1/models/${pruned.id}/promote` });
    assert.equal(promote.statusCode, 409);
    assert.equal(promote.json().error, "model_pruned");
  });

  it("local run completes and registers its models", async () => {
    const response = await submit({
      baseModelId: BASE_MODEL_ID, datasetId,
      hyperparameters: { learningRate: 1e-3, maxSteps: RUN_STEPS, checkpointEverySteps: CHECKPOINT_EVERY_STEPS, torchThreads: 1, seed: 0 },
    });
    assert.equal(response.statusCode, 202);
    const runId = response.json().id;

    const run = await waitForRun(stack, runId, isFinished);
    assert.equal(run.state, "completed", JSON.stringify(run.error));
    assert.equal(run.step, RUN_STEPS);
    assert.equal(run.totalSteps, RUN_STEPS);
    assert.equal(run.lossCurve.length, RUN_STEPS);
    assert.deepEqual(run.lossCurve.map((point: any) => point.step), [1, 2, 3, 4, 5, 6]);
    for (const point of run.lossCurve) {
      assert.ok(Number.isFinite(point.loss), `loss at step ${point.step}: ${point.loss}`);
      assert.ok(point.loss > 0, `loss at step ${point.step}: ${point.loss}`);
      // The schedule decays linearly to minLearningRate (0 here) at the last step.
      assert.ok(point.learningRate >= 0, `learning rate at step ${point.step}: ${point.learningRate}`);
      assert.ok(point.learningRate <= 1e-3, `learning rate at step ${point.step}: ${point.learningRate}`);
    }
    assert.ok(run.lossCurve[0].learningRate > 0);
    assert.ok(run.deviceSeconds > 0);
    assert.ok(run.cost.usd > 0);
    assert.equal(run.cost.gpuType, "cpu");
    assert.ok(run.startedAt);
    assert.ok(run.finishedAt);

    // The last step writes the final model in place of a checkpoint.
    const expectedIds = [2, 4].map((step) => checkpointModelId(runId, step)).concat(finalModelId(runId));
    assert.deepEqual(run.models.map((model: any) => model.id).sort(), [...expectedIds].sort());
    for (const model of run.models) {
      assert.equal(model.trained, true);
      assert.equal(model.parentModelId, BASE_MODEL_ID);
      assert.equal(model.sftDatasetId, datasetId);
      assert.equal(model.sftRunId, runId);
      assert.equal(typeof model.metrics.loss, "number");
      assert.ok((await stat(model.path)).isDirectory(), `model folder ${model.path}`);
    }
    const final = run.models.find((model: any) => model.id === finalModelId(runId));
    assert.equal(final.step, RUN_STEPS);
    assert.equal(final.path, path.join(run.outputDir, runId, "final"));
    assert.ok((await stat(path.join(final.path, "config.json"))).isFile());
    assert.equal(run.models.find((model: any) => model.id === checkpointModelId(runId, 4)).step, 4);

    const registry = (await stack.api.app.inject({ method: "GET", url: "/v1/models" })).json();
    assert.ok(registry.models.some((model: any) => model.id === final.id && model.sftRunId === runId));
    const promoted = await stack.api.app.inject({ method: "POST", url: `/v1/models/${final.id}/promote` });
    assert.equal(promoted.statusCode, 200);
    assert.equal((await stack.api.app.inject({ method: "GET", url: "/v1/models" })).json().default, final.id);

    const job = await sftQueue.getJob(runId);
    assert.equal(job?.returnvalue.outcome, "completed");
  });

  it("cancel stops a running run", async () => {
    const response = await submit({
      baseModelId: BASE_MODEL_ID, datasetId,
      hyperparameters: { learningRate: 1e-3, maxSteps: 5000, checkpointEverySteps: 1000, torchThreads: 1 },
    });
    const runId = response.json().id;
    await waitForRun(stack, runId, (current) => current.state === "running" && current.step >= 1);

    const cancelled = await stack.api.app.inject({ method: "DELETE", url: `/v1/sft-runs/${runId}` });
    assert.equal(cancelled.statusCode, 202);
    assert.equal(cancelled.json().previousState, "running");

    const deadline = Date.now() + 120_000;
    let job = await sftQueue.getJob(runId);
    while (!job?.returnvalue) {
      assert.ok(Date.now() < deadline, "the cancelled run's job never finished");
      await new Promise((resolve) => setTimeout(resolve, 250));
      job = await sftQueue.getJob(runId);
    }
    assert.equal(job.returnvalue.outcome, "cancelled");
    const run = await getRun(runId);
    assert.equal(run.state, "cancelled");
    assert.ok(run.step < 5000);
    assert.ok(run.deviceSeconds > 0);
    assert.ok(!run.models.some((model: any) => model.id === finalModelId(runId)));

    const again = await stack.api.app.inject({ method: "DELETE", url: `/v1/sft-runs/${runId}` });
    assert.equal(again.json().previousState, "cancelled");
  });

  it("unknown run id is not found", async () => {
    const response = await stack.api.app.inject({ method: "GET", url: "/v1/sft-runs/00000000-0000-4000-8000-000000000000" });
    assert.equal(response.statusCode, 404);
    assert.equal((await stack.api.app.inject({ method: "DELETE", url: "/v1/sft-runs/not-a-uuid" })).statusCode, 404);
  });
});

describe("SFT run whose sidecar dies", () => {
  let stack: TestStack;
  let scratch: string;
  let datasetId: string;
  let sidecar: Awaited<ReturnType<typeof startPrivateSidecar>>;

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "nvarc-sft-restart-"));
    const outRoot = path.join(scratch, "datasets");
    const manifest = await buildTinyDataset(outRoot);
    datasetId = manifest.datasetId;
    sidecar = await startPrivateSidecar({});
    // The retry waits long enough for a new sidecar process to start.
    stack = await startTestStack({
      name: "sft_restart", worker: true, sidecarAddress: sidecar.address,
      env: { NVARC_SFT_OUTPUT_DIR: path.join(scratch, "runs"), NVARC_RETRY_BACKOFF_MS: "8000", NVARC_SFT_ATTEMPTS: "3" },
    });
    await stack.database.repos.recordSftDataset(manifest, sftDatasetDir(outRoot, datasetId));
  });

  after(async () => {
    await stack?.close();
    await sidecar?.process.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it("resumes from its checkpoint after a retry", async () => {
    const totalSteps = 40;
    const response = await stack.api.app.inject({
      method: "POST", url: "/v1/sft-runs",
      payload: { baseModelId: BASE_MODEL_ID, datasetId, hyperparameters: { learningRate: 1e-3, maxSteps: totalSteps, checkpointEverySteps: 5, torchThreads: 1 } },
    });
    const runId = response.json().id;
    const beforeKill = await waitForRun(stack, runId, (current) => current.step >= 12 || isFinished(current));
    assert.equal(beforeKill.state, "running", "the run ended before the sidecar could be killed; raise totalSteps");

    sidecar.process.child.kill("SIGKILL");
    await sidecar.process.stop();
    sidecar = await startPrivateSidecar({ NVARC_SIDECAR_ADDRESS: sidecar.address });

    // Without `resume` the sidecar rejects a run directory that has checkpoints, so
    // completing after the retry shows the retry continued from a checkpoint.
    const run = await waitForRun(stack, runId, isFinished);
    assert.equal(run.state, "completed", JSON.stringify(run.error));
    assert.equal(run.error, null);
    assert.equal(run.step, totalSteps);
    const steps = run.lossCurve.map((point: any) => point.step);
    assert.deepEqual(steps, Array.from({ length: totalSteps }, (_, index) => index + 1), "each step appears once, in order");
    assert.ok(run.deviceSeconds >= beforeKill.deviceSeconds);
    assert.ok(run.models.some((model: any) => model.id === checkpointModelId(runId, 10)));
    assert.ok(run.models.some((model: any) => model.id === finalModelId(runId)));

    const sftQueue = new Queue(SFT_QUEUE, { connection: { url: TEST_REDIS_URL }, prefix: stack.queuePrefix });
    try {
      const job = await sftQueue.getJob(runId);
      assert.equal(job?.attemptsMade, 2, "one failed attempt and one completed attempt");
    } finally {
      await sftQueue.close();
    }
  });
});
