import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scoreBatch, validateTaskMap, type Grid, type ScoringTask } from "../src/index.ts";
import { readCase } from "./fixtures.ts";

interface AttemptPair {
  attempt_1: Grid;
  attempt_2: Grid;
}

function caseInput() {
  const body = readCase("BR-06.json");
  const { tasks, problems } = validateTaskMap(body.tasks);
  assert.deepEqual(problems, []);
  const scoringTasks: ScoringTask[] = Object.entries(tasks).map(([taskId, task]) => ({
    taskId,
    truths: task.test.map((test) => test.output),
  }));
  const attempts = new Map<string, Grid[][]>(
    Object.entries(body.attempts as Record<string, AttemptPair[]>).map(([taskId, entries]) => [
      taskId,
      entries.map((entry) => [entry.attempt_1, entry.attempt_2]),
    ]),
  );
  return { scoringTasks, attempts };
}

describe("batch scoring", () => {
  it("scores every test input, matched by index", () => {
    const { scoringTasks, attempts } = caseInput();
    const result = scoreBatch(scoringTasks, attempts);
    assert.deepEqual(
      result.perTask.map((t) => [t.taskId, t.correct, t.solvedFraction]),
      [
        ["d6000001", [true, false], 0.5],
        ["d6000002", [true], 1],
        ["d6000003", [true], 1],
      ],
    );
    assert.equal(result.taskScore, (0.5 + 1 + 1) / 3);
    assert.equal(result.score, 3 / 4);
    assert.equal(result.scoredTestInputs, 4);
    assert.equal(result.solvedTestInputs, 3);
    assert.equal(result.scoredTasks, 3);
    assert.equal(result.unscoredTasks, 0);
  });

  it("accepts attempts as a plain object too", () => {
    const { scoringTasks, attempts } = caseInput();
    const result = scoreBatch(scoringTasks, Object.fromEntries(attempts));
    assert.equal(result.score, 3 / 4);
  });

  it("counts a task without attempts as zero", () => {
    const tasks: ScoringTask[] = [
      { taskId: "solved", truths: [[[1]]] },
      { taskId: "failed", truths: [[[2]], [[3]]] },
    ];
    const result = scoreBatch(tasks, { solved: [[[[1]]]] });
    assert.equal(result.score, 1 / 3);
    assert.equal(result.taskScore, 0.5);
    assert.deepEqual(result.perTask[1].correct, [false, false]);
  });

  it("scores tasks of 1-3 test inputs", () => {
    const tasks: ScoringTask[] = [
      { taskId: "one", truths: [[[1]]] },
      { taskId: "two", truths: [[[1]], [[2]]] },
      { taskId: "three", truths: [[[1]], [[2]], [[3, 3]]] },
    ];
    const result = scoreBatch(tasks, {
      one: [[[[0]], [[1]]]],
      two: [[[[1]]], [[[1]], [[0]]]],
      three: [[[[1]]], [[[2]]], [[[3], [3]], [[3, 3]]]],
    });
    assert.deepEqual(result.perTask.map((t) => t.solvedFraction), [1, 0.5, 1]);
    assert.equal(result.score, 5 / 6);
    assert.equal(result.taskScore, 2.5 / 3);
  });

  it("excludes tasks without ground truth", () => {
    const tasks: ScoringTask[] = [
      { taskId: "known", truths: [[[1]]] },
      { taskId: "partly", truths: [[[1]], undefined] },
      { taskId: "unknown", truths: [undefined] },
    ];
    const result = scoreBatch(tasks, { known: [[[[0]]]], partly: [[[[1]]], [[[1]]]], unknown: [[[[1]]]] });
    assert.equal(result.score, 0);
    assert.equal(result.taskScore, 0);
    assert.equal(result.scoredTasks, 1);
    assert.equal(result.unscoredTasks, 2);
    assert.deepEqual(result.perTask[1], { taskId: "partly", correct: [null, null], solvedFraction: null });
  });

  it("returns null scores when no task has ground truth", () => {
    const result = scoreBatch([{ taskId: "x", truths: [undefined] }], {});
    assert.equal(result.score, null);
    assert.equal(result.taskScore, null);
    assert.equal(scoreBatch([], {}).score, null);
  });

  it("treats other shapes as unequal", () => {
    const tasks: ScoringTask[] = [{ taskId: "shape", truths: [[[1, 2, 3]]] }];
    const result = scoreBatch(tasks, { shape: [[[[1], [2], [3]], [] as unknown as Grid, null as unknown as Grid]] });
    assert.deepEqual(result.perTask[0].correct, [false]);
  });
});
