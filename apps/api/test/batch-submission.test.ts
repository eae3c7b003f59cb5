import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CASES_DIR, REPO_MODELS_DIR } from "../../../test/support/env.ts";
import { startTestStack, type TestStack } from "../../../test/support/stack.ts";

const parsingCase = JSON.parse(await fs.readFile(path.join(CASES_DIR, "BR-01.json"), "utf8"));

/** Expected first problem of each malformed body: its JSON path and a phrase of its message. */
const MALFORMED: Record<string, { path: string; code: string; phrase: RegExp }> = {
  tall_grid_31_rows: { path: "tasks.b1000001.train[0].input", code: "grid_rows_out_of_range", phrase: /31 rows/ },
  ragged_row: { path: "tasks.b1000002.train[0].input[2]", code: "ragged_row", phrase: /row has 2 cells, row 0 has 3/ },
  colour_10: { path: "tasks.b1000003.train[0].input[0][1]", code: "cell_out_of_range", phrase: /10 is not a colo/ },
  string_cell: { path: "tasks.b1000004.train[0].input[0][0]", code: "cell_not_integer", phrase: /string/ },
  negative_cell: { path: "tasks.b1000005.train[0].input[0][0]", code: "cell_out_of_range", phrase: /-1 is not a colo/ },
  empty_train: { path: "tasks.b1000006.train", code: "train_empty", phrase: /at least 1 pair/ },
  empty_test: { path: "tasks.b1000007.test", code: "test_empty", phrase: /at least 1 test input/ },
  zero_rows: { path: "tasks.b1000008.train[0].input", code: "grid_rows_out_of_range", phrase: /0 rows/ },
  zero_columns: { path: "tasks.b1000009.train[0].input[0]", code: "row_cells_out_of_range", phrase: /0 cells/ },
  pair_list_instead_of_task: { path: "tasks.b100000a", code: "task_not_object", phrase: /list of 2/ },
  one_good_one_bad: { path: "tasks.b100000c.train[0].output[0][1]", code: "cell_out_of_range", phrase: /10 is not a colo/ },
};

describe("POST /v1/batches", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ name: "api_submission" });
  });
  after(async () => {
    await stack.close();
  });

  async function storedCounts() {
    const [batches] = await stack.database.query("SELECT count(*)::int AS n FROM batches");
    const [tasks] = await stack.database.query("SELECT count(*)::int AS n FROM batch_tasks");
    return { batches: batches.n, tasks: tasks.n, queueKeys: await stack.countQueueKeys() };
  }

  for (const [variant, expected] of Object.entries(MALFORMED)) {
    it(`rejects ${variant} with 400, its path and a hint, storing nothing`, async () => {
      const before = await storedCounts();
      const response = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: parsingCase.variants[variant] });

      assert.equal(response.statusCode, 400);
      const body = response.json();
      assert.equal(body.error, "invalid_batch");
      const problem = body.problems.find((entry: any) => entry.path === expected.path);
      assert.ok(problem, `no problem at ${expected.path}: ${JSON.stringify(body.problems)}`);
      assert.equal(problem.code, expected.code);
      assert.match(problem.message, expected.phrase);
      assert.ok(problem.hint.length > 0, "the problem has a fix hint");
      assert.ok(problem.taskId, "the problem names the task");
      assert.ok("value" in problem, "the problem carries the bad value");
      assert.deepEqual(await storedCounts(), before);
    });
  }

  it("accepts the edge-size control batch and stores it unchanged", async () => {
    const body = parsingCase.variants.valid_edges_control;
    const response = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: body });

    assert.equal(response.statusCode, 202, response.body);
    const { id } = response.json();
    const rows = await stack.database.query("SELECT task_id, task, has_ground_truth FROM batch_tasks WHERE batch_id = $1 ORDER BY position", [id]);
    assert.deepEqual(rows.map((row) => row.task_id), Object.keys(body.tasks));
    const big = rows.find((row) => row.task_id === "b100000e");
    assert.deepEqual(big.task.train, body.tasks.b100000e.train);
    const small = rows.find((row) => row.task_id === "b100000d");
    assert.equal(small.has_ground_truth, false);
  });

  it("lists every problem of a body with several bad tasks", async () => {
    const payload = { tasks: { ...parsingCase.variants.colour_10.tasks, ...parsingCase.variants.ragged_row.tasks, ...parsingCase.variants.empty_test.tasks } };
    const response = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload });

    assert.equal(response.statusCode, 400);
    const taskIds = new Set(response.json().problems.map((problem: any) => problem.taskId));
    assert.deepEqual([...taskIds].sort(), ["b1000002", "b1000003", "b1000007"]);
  });

  const badRequests: [string, unknown, string, string][] = [
    ["an unknown option", { dataset: "arc-agi-1/evaluation", limit: 1, options: { decode: { maxSeqLen: 8192 } } }, "unknown_option", "options.decode"],
    ["a ttft option that is not a boolean", { dataset: "arc-agi-1/evaluation", limit: 1, options: { ttft: "no" } }, "invalid_ttft", "options.ttft"],
    ["an unknown preset", { dataset: "arc-agi-1/evaluation", limit: 1, options: { preset: "huge" } }, "unknown_preset", "options.preset"],
    ["a threshold outside (0, 1)", { dataset: "arc-agi-1/evaluation", limit: 1, options: { minProbability: 1.5 } }, "invalid_min_probability", "options.minProbability"],
    ["an unknown GPU type", { dataset: "arc-agi-1/evaluation", limit: 1, options: { gpuType: "tpu" } }, "unknown_gpu_type", "options.gpuType"],
    ["an unknown dataset", { dataset: "arc-agi-9/evaluation" }, "dataset_not_found", "dataset"],
    ["a dataset name leaving the folder", { dataset: "../etc" }, "invalid_dataset_name", "dataset"],
    ["a task id missing from the dataset", { dataset: "arc-agi-1/evaluation", taskIds: ["ffffffff"] }, "task_not_found", "taskIds"],
    ["both tasks and dataset", { dataset: "arc-agi-1/evaluation", tasks: {} }, "tasks_or_dataset_required", ""],
    ["neither tasks nor dataset", { options: {} }, "tasks_or_dataset_required", ""],
    ["an unknown model", { dataset: "arc-agi-1/evaluation", limit: 1, options: { modelId: "no-such-model" } }, "model_not_found", "options.modelId"],
    ["a task id with a colon", { tasks: { "a:b": { train: [{ input: [[1]], output: [[1]] }], test: [{ input: [[1]] }] } } }, "invalid_task_id", 'tasks["a:b"]'],
  ];
  for (const [what, payload, code, problemPath] of badRequests) {
    it(`rejects ${what} with code ${code}`, async () => {
      const before = await storedCounts();
      const response = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: payload as object });

      assert.equal(response.statusCode, 400, response.body);
      const problem = response.json().problems.find((entry: any) => entry.code === code);
      assert.ok(problem, `expected ${code} in ${response.body}`);
      assert.equal(problem.path, problemPath);
      assert.deepEqual(await storedCounts(), before);
    });
  }

  it("rejects a body over the limit with 413 and names the setting", async () => {
    const huge = "x".repeat(33 * 1024 * 1024);
    const response = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: `{"tasks":{},"pad":"${huge}"}`, headers: { "content-type": "application/json" } });

    assert.equal(response.statusCode, 413);
    assert.match(response.json().hint, /NVARC_API_BODY_LIMIT_BYTES/);
  });

  it("accepts a dataset selection and enqueues one job per task", async () => {
    const response = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { dataset: "arc-agi-1/evaluation", limit: 3 } });

    assert.equal(response.statusCode, 202, response.body);
    const { id, taskCount } = response.json();
    assert.equal(taskCount, 3);
    const batch = (await stack.api.app.inject({ method: "GET", url: `/v1/batches/${id}` })).json();
    assert.equal(batch.state, "queued");
    assert.equal(batch.dataset, "arc-agi-1/evaluation");
    assert.equal(batch.modelTrained, false);
    assert.match(batch.note, /untrained/);
  });

  it("unknown batch 404, unfinished submission 409", async () => {
    const missing = await stack.api.app.inject({ method: "GET", url: "/v1/batches/00000000-0000-4000-8000-000000000000" });
    assert.equal(missing.statusCode, 404);

    const created = (await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { dataset: "arc-agi-1/evaluation", limit: 2 } })).json();
    const running = await stack.api.app.inject({ method: "GET", url: `/v1/batches/${created.id}/submission.json` });
    assert.equal(running.statusCode, 409);
    assert.equal(running.json().tasksLeft, 2);

    const partial = await stack.api.app.inject({ method: "GET", url: `/v1/batches/${created.id}/submission.json?partial=true` });
    assert.equal(partial.statusCode, 200);
    for (const attempts of Object.values(partial.json()) as any[]) {
      assert.deepEqual(attempts[0], { attempt_1: [[0]], attempt_2: [[0]] });
    }
  });

  it("serves the OpenAPI document at /docs", async () => {
    const response = await stack.api.app.inject({ method: "GET", url: "/docs/json" });
    assert.equal(response.statusCode, 200);
    assert.ok(response.json().paths["/v1/batches"]);
  });
});

describe("the model registry", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ name: "api_models" });
  });
  after(async () => {
    await stack.close();
  });

  it("lists the local tiny model as untrained and as the default", async () => {
    const body = (await stack.api.app.inject({ method: "GET", url: "/v1/models" })).json();
    const tiny = body.models.find((model: any) => model.id === "tiny-untrained");
    assert.ok(tiny, JSON.stringify(body));
    assert.equal(tiny.trained, false);
    assert.equal(tiny.architecture, "Qwen3ForCausalLM");
    assert.ok(tiny.parameters > 0);
    assert.equal(body.default, "tiny-untrained");
  });

  it("makes the committed trained model the default over tiny-untrained", async () => {
    const models = await fs.mkdtemp(path.join(os.tmpdir(), "nvarc-models-"));
    for (const name of ["tiny-untrained", "tiny-arc"]) await fs.symlink(path.join(REPO_MODELS_DIR, name), path.join(models, name), "dir");
    const both = await startTestStack({ name: "api_models_trained", env: { NVARC_MODELS_DIR: models } });
    try {
      const body = (await both.api.app.inject({ method: "GET", url: "/v1/models" })).json();
      const trained = body.models.find((model: any) => model.id === "tiny-arc");

      assert.equal(trained?.trained, true, JSON.stringify(body));
      assert.equal(body.default, "tiny-arc");
    } finally {
      await both.close();
      await fs.rm(models, { recursive: true, force: true });
    }
  });

  it("makes the latest promoted model the default of new batches", async () => {
    await stack.database.repos.upsertModel({ id: "other-model", name: "other", path: "/models/other", architecture: "Qwen3ForCausalLM", parameters: 1, trained: true, description: "" });
    const promoted = await stack.api.app.inject({ method: "POST", url: "/v1/models/other-model/promote" });
    assert.equal(promoted.statusCode, 200);
    assert.ok(promoted.json().promotedAt);

    const created = (await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { dataset: "arc-agi-1/evaluation", limit: 1 } })).json();
    const batch = (await stack.api.app.inject({ method: "GET", url: `/v1/batches/${created.id}` })).json();
    assert.equal(batch.modelId, "other-model");
    assert.equal(batch.modelTrained, true);
    assert.equal(batch.note, undefined, "a trained model gets no untrained-model note");
  });

  it("answers 404 when promoting an unknown model", async () => {
    const response = await stack.api.app.inject({ method: "POST", url: "/v1/models/no-such-model/promote" });
    assert.equal(response.statusCode, 404);
    assert.equal(response.json().error, "model_not_found");
  });
});
