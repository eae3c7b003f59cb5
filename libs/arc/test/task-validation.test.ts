import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  loadDataset,
  MAX_PROBLEMS_PER_TASK,
  MAX_PROBLEMS_TOTAL,
  TASK_PROBLEM_CODES,
  validateTaskMap,
  type TaskProblem,
} from "../src/index.ts";
import { DATASET_SPLITS, datasetsDir, readCase } from "./fixtures.ts";

interface ExpectedProblem {
  code: string;
  path: string;
  message: string;
  value?: unknown;
}

const malformedVariants: Record<string, ExpectedProblem[]> = {
  tall_grid_31_rows: [
    { code: "grid_rows_out_of_range", path: "tasks.b1000001.train[0].input", message: "31 rows; a grid has 1–30 rows", value: "31 rows" },
  ],
  ragged_row: [
    { code: "ragged_row", path: "tasks.b1000002.train[0].input[2]", message: "row has 2 cells, row 0 has 3", value: "2 cells" },
  ],
  colour_10: [
    { code: "cell_out_of_range", path: "tasks.b1000003.train[0].input[0][1]", message: "10 is not a color; cells are integers 0–9", value: 10 },
  ],
  string_cell: [
    { code: "cell_not_integer", path: "tasks.b1000004.train[0].input[0][0]", message: '"1" is a string; cells are integers 0–9 (no silent conversion)', value: "1" },
    { code: "cell_not_integer", path: "tasks.b1000004.train[0].input[0][1]", message: '"2" is a string; cells are integers 0–9 (no silent conversion)', value: "2" },
  ],
  negative_cell: [
    { code: "cell_out_of_range", path: "tasks.b1000005.train[0].input[0][0]", message: "-1 is not a color; cells are integers 0–9", value: -1 },
  ],
  empty_train: [{ code: "train_empty", path: "tasks.b1000006.train", message: "needs at least 1 pair" }],
  empty_test: [{ code: "test_empty", path: "tasks.b1000007.test", message: "needs at least 1 test input" }],
  zero_rows: [
    { code: "grid_rows_out_of_range", path: "tasks.b1000008.train[0].input", message: "0 rows; a grid has 1–30 rows", value: "0 rows" },
  ],
  zero_columns: [
    { code: "row_cells_out_of_range", path: "tasks.b1000009.train[0].input[0]", message: "0 cells; a row has 1–30 cells", value: "0 cells" },
  ],
  pair_list_instead_of_task: [
    {
      code: "task_not_object",
      path: "tasks.b100000a",
      message: "expected an object with `train` and `test`, got a list of 2 input/output pairs",
    },
  ],
  one_good_one_bad: [
    { code: "cell_out_of_range", path: "tasks.b100000c.train[0].output[0][1]", message: "10 is not a color; cells are integers 0–9", value: 10 },
  ],
};

function assertProblems(actual: TaskProblem[], expected: ExpectedProblem[]): void {
  assert.equal(actual.length, expected.length, `problems: ${JSON.stringify(actual, null, 1)}`);
  expected.forEach((want, i) => {
    const got = actual[i];
    assert.equal(got.code, want.code);
    assert.ok(got.code in TASK_PROBLEM_CODES, `${got.code} is documented`);
    assert.equal(got.path, want.path);
    assert.equal(got.message, want.message);
    assert.equal(got.taskId, want.path.split(".")[1]);
    assert.ok(got.hint.length > 0, "every problem carries a hint");
    if ("value" in want) {
      assert.deepEqual(got.value, want.value);
    }
  });
}

function singleTask(task: unknown, taskId = "t1"): unknown {
  return { [taskId]: task };
}

const grid1x1 = [[1]];

describe("task validation", () => {
  it("accepts every dataset task file", async () => {
    for (const split of DATASET_SPLITS) {
      const dataset = await loadDataset(datasetsDir, split);
      assert.ok(dataset.taskIds.length > 0, `${split} has task files`);
      const { tasks, problems } = validateTaskMap(dataset.tasks);
      assert.deepEqual(problems, [], `${split}: ${JSON.stringify(problems.slice(0, 3))}`);
      assert.equal(Object.keys(tasks).length, dataset.taskIds.length);
    }
  });

  for (const [variant, expected] of Object.entries(malformedVariants)) {
    it(`rejects ${variant} with code and path`, () => {
      const body = readCase("BR-01.json").variants[variant];
      const { problems } = validateTaskMap(body.tasks);
      assertProblems(problems, expected);
    });
  }

  it("keeps problems with their task", () => {
    const body = readCase("BR-01.json").variants.one_good_one_bad;
    const { tasks, problems } = validateTaskMap(body.tasks);
    assert.deepEqual(Object.keys(tasks), ["b100000b"]);
    assert.ok(problems.every((p) => p.taskId === "b100000c"));
  });

  it("accepts edge sizes and missing test output", () => {
    const body = readCase("BR-01.json").variants.valid_edges_control;
    const { tasks, problems } = validateTaskMap(body.tasks);
    assert.deepEqual(problems, []);
    assert.deepEqual(Object.keys(tasks).sort(), ["b100000d", "b100000e"]);
    assert.equal("output" in tasks.b100000d.test[0], false);
    assert.deepEqual(tasks.b100000e, body.tasks.b100000e);
    assert.equal(tasks.b100000e.train[0].input.length, 30);
  });

  const extraCases: { name: string; task: unknown; expected: ExpectedProblem[] }[] = [
    {
      name: "fractional cell",
      task: { train: [{ input: [[1.5]], output: grid1x1 }], test: [{ input: grid1x1 }] },
      expected: [{ code: "cell_not_integer", path: "tasks.t1.train[0].input[0][0]", message: "1.5 is not an integer; cells are integers 0–9", value: 1.5 }],
    },
    {
      name: "null cell",
      task: { train: [{ input: [[0, null]], output: grid1x1 }], test: [{ input: grid1x1 }] },
      expected: [{ code: "cell_not_integer", path: "tasks.t1.train[0].input[0][1]", message: "null is not a color; cells are integers 0–9", value: null }],
    },
    {
      name: "boolean cell",
      task: { train: [{ input: [[true]], output: grid1x1 }], test: [{ input: grid1x1 }] },
      expected: [{ code: "cell_not_integer", path: "tasks.t1.train[0].input[0][0]", message: "boolean is not a color; cells are integers 0–9", value: true }],
    },
    {
      name: "train pair without output",
      task: { train: [{ input: grid1x1 }], test: [{ input: grid1x1 }] },
      expected: [{ code: "output_missing", path: "tasks.t1.train[0].output", message: "`output` grid is missing" }],
    },
    {
      name: "test item without input",
      task: { train: [{ input: grid1x1, output: grid1x1 }], test: [{ output: grid1x1 }] },
      expected: [{ code: "input_missing", path: "tasks.t1.test[0].input", message: "`input` grid is missing" }],
    },
    {
      name: "grid that is a string",
      task: { train: [{ input: "012", output: grid1x1 }], test: [{ input: grid1x1 }] },
      expected: [{ code: "grid_not_array", path: "tasks.t1.train[0].input", message: "expected a grid (a list of rows), got string", value: "012" }],
    },
    {
      name: "null test output",
      task: { train: [{ input: grid1x1, output: grid1x1 }], test: [{ input: grid1x1, output: null }] },
      expected: [{ code: "grid_not_array", path: "tasks.t1.test[0].output", message: "expected a grid (a list of rows), got null", value: null }],
    },
    {
      name: "row of 31 cells",
      task: { train: [{ input: [new Array(31).fill(0)], output: grid1x1 }], test: [{ input: grid1x1 }] },
      expected: [{ code: "row_cells_out_of_range", path: "tasks.t1.train[0].input[0]", message: "31 cells; a row has 1–30 cells", value: "31 cells" }],
    },
    {
      name: "row that is a number",
      task: { train: [{ input: [[1], 2], output: grid1x1 }], test: [{ input: grid1x1 }] },
      expected: [{ code: "row_not_array", path: "tasks.t1.train[0].input[1]", message: "expected a row (a list of cells), got number", value: 2 }],
    },
    {
      name: "missing train",
      task: { test: [{ input: grid1x1 }] },
      expected: [{ code: "train_missing", path: "tasks.t1.train", message: "`train` is missing" }],
    },
    {
      name: "test that is an object",
      task: { train: [{ input: grid1x1, output: grid1x1 }], test: { input: grid1x1 } },
      expected: [{ code: "test_not_array", path: "tasks.t1.test", message: "expected a list of test inputs, got object" }],
    },
    {
      name: "train item that is a grid",
      task: { train: [grid1x1], test: [{ input: grid1x1 }] },
      expected: [{ code: "pair_not_object", path: "tasks.t1.train[0]", message: "expected a pair object with `input` and `output`, got list" }],
    },
    {
      name: "task that is a string",
      task: "train",
      expected: [{ code: "task_not_object", path: "tasks.t1", message: "expected an object with `train` and `test`, got string" }],
    },
  ];

  for (const { name, task, expected } of extraCases) {
    it(`rejects ${name}`, () => {
      assertProblems(validateTaskMap(singleTask(task)).problems, expected);
    });
  }

  it("collects every problem of a task", () => {
    const task = { train: [{ input: [[1, 10], [2], ["3", -4]], output: [] }], test: [] };
    const { problems } = validateTaskMap(singleTask(task));
    assert.deepEqual(
      problems.map((p) => [p.code, p.path]),
      [
        ["cell_out_of_range", "tasks.t1.train[0].input[0][1]"],
        ["ragged_row", "tasks.t1.train[0].input[1]"],
        ["cell_not_integer", "tasks.t1.train[0].input[2][0]"],
        ["cell_out_of_range", "tasks.t1.train[0].input[2][1]"],
        ["grid_rows_out_of_range", "tasks.t1.train[0].output"],
        ["test_empty", "tasks.t1.test"],
      ],
    );
  });

  it("rejects task ids with a colon", () => {
    const task = { train: [{ input: grid1x1, output: grid1x1 }], test: [{ input: grid1x1 }] };
    const { tasks, problems } = validateTaskMap({ "batch:1": task, ["x".repeat(65)]: task, "ok_id.v-2": task });
    assert.deepEqual(
      problems.map((p) => [p.code, p.path]),
      [
        ["invalid_task_id", 'tasks["batch:1"]'],
        ["invalid_task_id", `tasks.${"x".repeat(65)}`],
      ],
    );
    assert.deepEqual(Object.keys(tasks), ["ok_id.v-2"]);
  });

  it("drops unknown keys", () => {
    const task = { name: "x", train: [{ input: grid1x1, output: grid1x1, note: 1 }], test: [{ input: grid1x1, id: 7 }] };
    const { tasks, problems } = validateTaskMap(singleTask(task));
    assert.deepEqual(problems, []);
    assert.deepEqual(tasks.t1, { train: [{ input: grid1x1, output: grid1x1 }], test: [{ input: grid1x1 }] });
  });

  it("rejects non-object or empty tasks", () => {
    assert.deepEqual(validateTaskMap([1, 2]).problems.map((p) => p.code), ["tasks_not_object"]);
    assert.deepEqual(validateTaskMap(null).problems.map((p) => p.code), ["tasks_not_object"]);
    assert.deepEqual(validateTaskMap({}).problems.map((p) => [p.code, p.path]), [["tasks_empty", "tasks"]]);
  });

  it("caps problems per task and marks the cut", () => {
    const badGrid = Array.from({ length: 30 }, () => new Array(30).fill("x"));
    const task = { train: [{ input: badGrid, output: grid1x1 }], test: [{ input: grid1x1 }] };
    const { problems } = validateTaskMap(singleTask(task));
    assert.equal(problems.length, MAX_PROBLEMS_PER_TASK + 1);
    assert.equal(problems.at(-1)?.code, "problems_truncated");
    assert.equal(problems.at(-1)?.taskId, "t1");
  });

  it("caps problems overall and marks the cut", () => {
    const badGrid = Array.from({ length: 30 }, () => new Array(30).fill(-1));
    const task = { train: [{ input: badGrid, output: grid1x1 }], test: [{ input: grid1x1 }] };
    const taskMap = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`t${i}`, task]));
    const { problems } = validateTaskMap(taskMap);
    assert.equal(problems.length, MAX_PROBLEMS_TOTAL + 1);
    assert.equal(problems.at(-1)?.code, "problems_truncated");
    assert.equal(problems.at(-1)?.taskId, null);
  });

  it("reports sizes, not large values", () => {
    const tall = Array.from({ length: 500 }, () => [1]);
    const { problems } = validateTaskMap(singleTask({ train: [{ input: tall, output: grid1x1 }], test: [{ input: grid1x1 }] }));
    assert.equal(problems[0].value, "500 rows");
    assert.ok(JSON.stringify(problems).length < 1000);
  });

  it("documents every problem code", () => {
    for (const [code, description] of Object.entries(TASK_PROBLEM_CODES)) {
      assert.match(code, /^[a-z]+(_[a-z]+)*$/);
      assert.ok(description.length > 10, `${code} has a description`);
    }
  });

  it("spells color the American way", () => {
    const body = readCase("BR-01.json").variants.colour_10;
    for (const problem of validateTaskMap(body.tasks).problems) {
      assert.doesNotMatch(`${problem.message} ${problem.hint}`, /colour/);
    }
  });
});
