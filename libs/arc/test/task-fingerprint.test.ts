import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  copyGrid,
  deduplicateTasks,
  findLeaks,
  loadDataset,
  pairKey,
  taskContentKey,
  validateTaskMap,
  type ArcTask,
  type SourcedTask,
} from "../src/index.ts";
import { datasetsDir } from "./fixtures.ts";

async function sourced(name: string): Promise<SourcedTask[]> {
  const loaded = await loadDataset(datasetsDir, name);
  const { tasks, problems } = validateTaskMap(loaded.tasks);
  assert.deepEqual(problems, []);
  return loaded.taskIds.map((taskId) => ({ source: name, taskId, task: tasks[taskId] }));
}

/** Reads how many ARC-AGI-2 training ids come from each ARC-AGI-1 split, as the datasets README states them. */
function readmeOverlap(): { fromTraining: number; fromEvaluation: number } {
  const text = readFileSync(join(datasetsDir, "README.md"), "utf8").replace(/\s+/g, " ");
  const match = /\((\d+) from its training split, (\d+) from its evaluation split\)/.exec(text);
  assert.ok(match, "the datasets README states the ARC-AGI-1 overlap of ARC-AGI-2 training");
  return { fromTraining: Number(match[1]), fromEvaluation: Number(match[2]) };
}

function reversedPairs(task: ArcTask): ArcTask {
  const all = [...task.train, ...task.test.map((test) => ({ input: test.input, output: test.output! }))].reverse();
  return { train: all.slice(1), test: all.slice(0, 1) };
}

describe("task fingerprints", () => {
  it("pair key tells pairs apart", () => {
    assert.equal(pairKey({ input: [[1, 2]], output: [[3]] }), pairKey({ input: [[1, 2]], output: [[3]] }));
    assert.notEqual(pairKey({ input: [[1, 2]], output: [[3]] }), pairKey({ input: [[1], [2]], output: [[3]] }));
    assert.notEqual(pairKey({ input: [[1, 2]], output: [[3]] }), pairKey({ input: [[3]], output: [[1, 2]] }));
  });

  it("content key ignores pair order", async () => {
    const [first] = await sourced("arc-agi-1/evaluation");
    assert.equal(taskContentKey(reversedPairs(first.task)), taskContentKey(first.task));
  });

  it("reordered copy is caught by content", async () => {
    const excluded = (await sourced("arc-agi-1/evaluation")).slice(0, 5);
    const copy: SourcedTask = { source: "mine", taskId: "renamed0", task: reversedPairs(excluded[3].task) };
    const report = findLeaks([copy], excluded);
    assert.deepEqual(report.byContent, [{ task: "mine/renamed0", matches: `arc-agi-1/evaluation/${excluded[3].taskId}` }]);
    assert.deepEqual(report.byId, []);
  });

  it("changed cells under the same id are caught by id", async () => {
    const excluded = (await sourced("arc-agi-1/evaluation")).slice(0, 5);
    const target = excluded[2];
    const input = copyGrid(target.task.train[0].input);
    input[0][0] = (input[0][0] + 1) % 10;
    const changed: ArcTask = { ...target.task, train: [{ ...target.task.train[0], input }, ...target.task.train.slice(1)] };
    const report = findLeaks([{ source: "mine", taskId: target.taskId, task: changed }], excluded);
    assert.deepEqual(report.byContent, []);
    assert.deepEqual(report.byId, [{ task: `mine/${target.taskId}`, matches: `arc-agi-1/evaluation/${target.taskId}` }]);
  });

  it("excluded task ids are caught by id", async () => {
    const sources = (await sourced("arc-agi-2/evaluation")).slice(0, 3);
    const report = findLeaks(sources, [], [sources[1].taskId]);
    assert.deepEqual(report.byId, [{ task: `arc-agi-2/evaluation/${sources[1].taskId}`, matches: sources[1].taskId }]);
  });

  it("ARC-AGI-2 training leaks the README count of ARC-AGI-1 evaluation tasks", async () => {
    const training = await sourced("arc-agi-2/training");
    const evaluation = await sourced("arc-agi-1/evaluation");
    const report = findLeaks(training, evaluation);
    const leaked = [...report.byContent, ...report.byId];
    assert.equal(leaked.length, readmeOverlap().fromEvaluation);
    assert.equal(new Set(leaked.map((match) => match.task)).size, leaked.length);

    const evaluationIds = new Set(evaluation.map((task) => task.taskId));
    const sameIdContent = training.filter((task) => evaluationIds.has(task.taskId));
    assert.equal(report.byContent.length + report.byId.length, sameIdContent.length);
    for (const match of report.byId) {
      const id = match.task.split("/").at(-1)!;
      const source = training.find((task) => task.taskId === id)!;
      const original = evaluation.find((task) => task.taskId === id)!;
      assert.notEqual(taskContentKey(source.task), taskContentKey(original.task), `${id} differs in content`);
    }
  });

  it("shared ARC-AGI-1 and ARC-AGI-2 training tasks are kept once", async () => {
    const agi1 = await sourced("arc-agi-1/training");
    const agi2 = await sourced("arc-agi-2/training");
    const { kept, merges } = deduplicateTasks([...agi1, ...agi2]);
    const idOf = (name: string) => name.split("/").at(-1)!;
    const sameId = merges.filter((merge) => idOf(merge.kept) === idOf(merge.dropped));
    assert.equal(sameId.length, readmeOverlap().fromTraining);
    assert.equal(kept.length, agi1.length + agi2.length - merges.length);
    const byName = new Map([...agi1, ...agi2].map((task) => [`${task.source}/${task.taskId}`, task.task]));
    for (const merge of merges) {
      assert.match(merge.kept, /^arc-agi-1\/training\//);
      assert.match(merge.dropped, /^arc-agi-2\/training\//);
      assert.equal(merge.reason, "same_content");
      assert.equal(taskContentKey(byName.get(merge.dropped)!), taskContentKey(byName.get(merge.kept)!));
    }
    const keys = kept.map((task) => taskContentKey(task.task));
    assert.equal(new Set(keys).size, kept.length);
  });
});
