import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildSubmission,
  PLACEHOLDER_GRID,
  validateSubmission,
  type Grid,
  type SubmissionTask,
} from "../src/index.ts";
import { readCase } from "./fixtures.ts";

interface StoredTask {
  job: string;
  attempts: { attempt_1: Grid | null; attempt_2: Grid | null }[];
}

function caseInput() {
  const body = readCase("BR-08.json");
  const tasks: SubmissionTask[] = Object.entries(body.tasks as Record<string, { test_inputs: number }>).map(
    ([taskId, task]) => ({ taskId, testCount: task.test_inputs }),
  );
  const attempts = Object.fromEntries(
    Object.entries(body.stored_state as Record<string, StoredTask>).map(([taskId, stored]) => [
      taskId,
      stored.attempts.map((entry) => [entry.attempt_1, entry.attempt_2]),
    ]),
  );
  return { tasks, attempts };
}

describe("submission", () => {
  it("lists every task and attempt", () => {
    const { tasks, attempts } = caseInput();
    const submission = buildSubmission(tasks, attempts);
    assert.deepEqual(submission, {
      f8000001: [
        { attempt_1: [[1, 1]], attempt_2: [[2, 2]] },
        { attempt_1: [[3]], attempt_2: [[0]] },
      ],
      f8000002: [{ attempt_1: [[0]], attempt_2: [[0]] }],
      f8000003: [{ attempt_1: [[0, 5], [5, 0]], attempt_2: [[5, 0], [0, 5]] }],
    });
    assert.deepEqual(validateSubmission(submission, tasks), []);
    assert.deepEqual(validateSubmission(JSON.parse(JSON.stringify(submission)), tasks), []);
  });

  it("uses [[0]] as the placeholder", () => {
    assert.deepEqual(PLACEHOLDER_GRID, [[0]]);
  });

  it("fills missing and malformed attempts", () => {
    const tasks = [
      { taskId: "a", testCount: 2 },
      { taskId: "b", testCount: 1 },
    ];
    const submission = buildSubmission(tasks, new Map([["a", [[[] as unknown as Grid, [[1, 10]]]]]]));
    assert.deepEqual(submission, {
      a: [
        { attempt_1: [[0]], attempt_2: [[0]] },
        { attempt_1: [[0]], attempt_2: [[0]] },
      ],
      b: [{ attempt_1: [[0]], attempt_2: [[0]] }],
    });
  });

  it("copies the placeholder per entry", () => {
    const submission = buildSubmission([{ taskId: "a", testCount: 2 }], {});
    submission.a[0].attempt_1[0][0] = 7;
    assert.deepEqual(submission.a[1].attempt_1, [[0]]);
    assert.deepEqual(PLACEHOLDER_GRID, [[0]]);
  });

  it("reports shape problems of a submission", () => {
    const tasks = [
      { taskId: "a", testCount: 2 },
      { taskId: "b", testCount: 1 },
    ];
    const problems = validateSubmission(
      {
        a: [{ attempt_1: [[1]], attempt_2: null }],
        c: [],
      },
      tasks,
    );
    assert.deepEqual(
      problems.map((p) => p.path),
      ["c", "a", "a[0].attempt_2", "b"],
    );
    assert.match(problems[1].message, /has 1 entries, the task has 2 test inputs/);
    assert.deepEqual(
      validateSubmission({ a: [{ attempt_1: [[1]], attempt_2: [[1]], attempt_3: [[1]] }] }, [{ taskId: "a", testCount: 1 }]).map(
        (p) => p.path,
      ),
      ["a[0].attempt_3"],
    );
    assert.equal(validateSubmission([], tasks).length, 1);
  });

  it("reports an inherited key name as missing", () => {
    const problems = validateSubmission({}, [{ taskId: "constructor", testCount: 1 }]);
    assert.deepEqual(problems, [{ path: "constructor", message: "task id is missing" }]);
  });
});
