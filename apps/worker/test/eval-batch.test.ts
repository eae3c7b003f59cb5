import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { validateSubmission } from "@nvarc/arc";
import { CASES_DIR } from "../../../test/support/env.ts";
import { fetchAllTasks, startTestStack, waitForBatch, type TestStack } from "../../../test/support/stack.ts";

// Three small ARC-AGI-1 evaluation tasks; 6ea4a07e has two test inputs.
const TASK_IDS = ["66e6c45b", "00576224", "6ea4a07e"];

describe("evaluating a batch through api, queue, worker and sidecar", () => {
  let stack: TestStack;
  let batch: any;
  let tasks: any[];
  let submission: any;

  before(async () => {
    stack = await startTestStack({ name: "eval_batch", worker: true });
    const created = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { dataset: "arc-agi-1/evaluation", taskIds: TASK_IDS, options: { preset: "test" } } });
    assert.equal(created.statusCode, 202, created.body);

    batch = await waitForBatch(stack, created.json().id);
    tasks = await fetchAllTasks(stack, batch.id);
    submission = (await stack.api.app.inject({ method: "GET", url: `/v1/batches/${batch.id}/submission.json` })).json();
  });
  after(async () => {
    await stack.close();
  });

  it("completes the batch with both scores and a cost", () => {
    assert.equal(batch.state, "completed");
    assert.equal(batch.progress.completed, 3);
    assert.equal(typeof batch.score, "number");
    assert.equal(typeof batch.taskScore, "number");
    assert.equal(batch.scoredTestInputs, 4);
    assert.equal(batch.scoredTasks, 3);
    assert.ok(batch.cost.usd > 0, "device time is billed");
    assert.ok(batch.cost.deviceSeconds > 0);
  });

  it("pages through every task in dataset order", () => {
    assert.deepEqual(tasks.map((task) => task.taskId), [...TASK_IDS].sort(), "dataset tasks keep the id order");
  });

  it("records per-task attempts, correctness per test input, candidates, timings and cost", () => {
    for (const task of tasks) {
      assert.equal(task.state, "completed", `${task.taskId}: ${task.failureCode} ${task.failureMessage}`);
      assert.equal(task.attempts.length, task.testCount);
      assert.equal(task.correct.length, task.testCount);
      assert.ok(task.correct.every((value: unknown) => typeof value === "boolean"));
      assert.ok(task.candidates.length > 0, `${task.taskId} has candidates, valid or invalid`);
      assert.ok(task.timings.ttftSeconds > 0);
      assert.ok(task.timings.decodeSeconds > 0);
      assert.ok(task.costUsd > 0);
      assert.equal(task.runs.length, 1);
      assert.ok(task.details.ttftPairsUsed.length > 0, "pairs used per TTFT sequence are recorded");
    }
  });

  it("ranks valid candidates and submits the top two as attempts", () => {
    for (const task of tasks) {
      for (let testIndex = 0; testIndex < task.testCount; testIndex++) {
        const valid = task.candidates.filter((candidate: any) => candidate.valid && candidate.testIndex === testIndex);
        const ranked = [...valid].sort((a: any, b: any) => a.rank - b.rank);
        for (let index = 1; index < ranked.length; index++) assert.ok(ranked[index - 1].rankScore >= ranked[index].rankScore);
        if (ranked[0]) assert.deepEqual(task.attempts[testIndex].attempt_1, ranked[0].grid);
        if (ranked[1]) assert.deepEqual(task.attempts[testIndex].attempt_2, ranked[1].grid);
      }
    }
  });

  it("stores invalid decodes with their reason and counts them by reason", async () => {
    const invalid = tasks.flatMap((task) => task.candidates.filter((candidate: any) => !candidate.valid));
    for (const candidate of invalid) {
      assert.equal(candidate.grid, null);
      assert.equal(candidate.rank, null, "invalid decodes are never ranked");
      assert.ok(candidate.invalidReason.length > 0);
      assert.ok(candidate.count > 0);
    }
    const page = await stack.workerMetrics!.registry.metrics();
    const counted = [...page.matchAll(/^nvarc_invalid_candidates_total\{reason="[a-z_]+"\} (\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0);
    assert.equal(counted, invalid.reduce((sum, candidate) => sum + candidate.count, 0));
  });

  it("serves a valid Kaggle submission for every task and test input", () => {
    const problems = validateSubmission(submission, tasks.map((task) => ({ taskId: task.taskId, testCount: task.testCount })));
    assert.deepEqual(problems, []);
    assert.deepEqual(Object.keys(submission).sort(), [...TASK_IDS].sort());
    assert.equal(submission["6ea4a07e"].length, 2);
  });
});

describe("tasks that cannot fit the context", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ name: "eval_context", worker: true });
  });
  after(async () => {
    await stack.close();
  });

  it("long task fails before any device time", async () => {
    const promptCase = JSON.parse(await fs.readFile(path.join(CASES_DIR, "BR-03.json"), "utf8"));
    const variant = promptCase.variant_B_cannot_fit;
    const created = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { tasks: variant.tasks, options: { preset: "test", maxSeqLen: 2048 } } });
    assert.equal(created.statusCode, 202, created.body);

    const batch = await waitForBatch(stack, created.json().id);
    const tasks = await fetchAllTasks(stack, batch.id);
    const long = tasks.find((task) => task.taskId === "c3000002");
    const short = tasks.find((task) => task.taskId === "c3000003");

    assert.equal(long.state, "failed");
    assert.equal(long.failureCode, "task_exceeds_context");
    assert.match(long.failureMessage, /needs at least [\d,]+ tokens, limit 2,048/);
    assert.equal(long.runs[0].deviceSeconds, 0);
    assert.equal(long.costUsd, 0);
    assert.equal(short.state, "completed");
    assert.equal(batch.state, "completed");
    assert.equal(batch.scoredTasks, 2, "the failed task counts as zero, not as unscored");

    const submission = (await stack.api.app.inject({ method: "GET", url: `/v1/batches/${batch.id}/submission.json` })).json();
    assert.deepEqual(submission.c3000002, [{ attempt_1: [[0]], attempt_2: [[0]] }], "a failed task is listed with placeholder attempts");
  });

  it("ttft false decodes with the model alone and bills no TTFT time", async () => {
    const created = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { dataset: "arc-agi-1/evaluation", taskIds: ["66e6c45b"], options: { preset: "test", ttft: false } } });
    assert.equal(created.statusCode, 202, created.body);

    const batch = await waitForBatch(stack, created.json().id);
    const [task] = await fetchAllTasks(stack, batch.id);

    assert.equal(task.state, "completed", `${task.failureCode} ${task.failureMessage}`);
    assert.equal(task.timings.ttftSeconds, 0);
    assert.deepEqual(task.details.ttftPairsUsed, []);
    assert.ok(task.timings.decodeSeconds > 0);
    assert.ok(task.candidates.length > 0, "the test input was decoded");
    assert.equal(batch.options?.presetSettings?.ttft?.epochs ?? 0, 0);
  });

  it("reports a task without test outputs as unscored", async () => {
    const parsingCase = JSON.parse(await fs.readFile(path.join(CASES_DIR, "BR-01.json"), "utf8"));
    const tasks = { b100000d: parsingCase.variants.valid_edges_control.tasks.b100000d };
    const created = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { tasks, options: { preset: "test" } } });
    const batch = await waitForBatch(stack, created.json().id);
    const [task] = await fetchAllTasks(stack, batch.id);

    assert.equal(task.state, "completed");
    assert.equal(task.solved, null);
    assert.deepEqual(task.correct, [null]);
    assert.equal(batch.unscoredTasks, 1);
    assert.equal(batch.score, null);
    assert.equal(batch.taskScore, null);
  });
});
