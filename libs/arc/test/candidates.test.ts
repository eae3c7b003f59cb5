import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyGrid,
  buildDecodePrompt,
  buildScoreItems,
  decodeAugmentations,
  encodeReply,
  gridKey,
  loadDataset,
  meanLogProb,
  poolCandidates,
  rankCandidates,
  scoreAugmentations,
  selectAttempts,
  validateTaskMap,
  type Candidate,
  type DecodeResult,
  type Grid,
} from "../src/index.ts";
import { datasetsDir } from "./fixtures.ts";

function candidate(key: string, count: number): Candidate {
  const grid = key.split("/").map((row) => Array.from(row, Number));
  return { key, grid, count, dfsNlls: new Array(count).fill(0.1), greedy: false };
}

async function firstEvaluationTask() {
  const dataset = await loadDataset(datasetsDir, "arc-agi-1/evaluation", { limit: 1 });
  const { tasks } = validateTaskMap(dataset.tasks);
  const [taskId, task] = Object.entries(tasks)[0];
  return { taskId, task };
}

describe("candidate pooling", () => {
  it("keys grids by rows joined with slashes", () => {
    assert.equal(gridKey([[0, 1, 2], [3, 4, 0]]), "012/340");
    assert.notEqual(gridKey([[1, 2]]), gridKey([[1], [2]]));
  });

  it("pools equal grids across augmentations", async () => {
    const { taskId, task } = await firstEvaluationTask();
    const truth = task.test[0].output as Grid;
    const other = truth.map((row) => row.map((cell) => (cell + 1) % 10));
    const specs = decodeAugmentations(`${taskId}_0`, task.train.length);

    const decodes: DecodeResult[] = specs.map((spec, i) => ({
      augmentation: spec,
      tokenIds: encodeReply(applyGrid(spec, i < 12 ? truth : other)),
      stopReason: "eos",
      nll: i / 10,
      greedy: i === 0,
    }));
    decodes.push(
      { augmentation: specs[0], tokenIds: [1, 2, 10], stopReason: "max_tokens", nll: 5, greedy: true },
      { augmentation: specs[1], tokenIds: [1, 2, 10], stopReason: "max_tokens", nll: 6, greedy: false },
      { augmentation: specs[2], tokenIds: [1, 11, 2, 15], stopReason: "eos", nll: 7, greedy: false },
    );

    const pool = poolCandidates(decodes);
    assert.equal(pool.candidates.length, 2);
    const [found, second] = pool.candidates;
    assert.deepEqual(found.grid, truth);
    assert.equal(found.key, gridKey(truth));
    assert.equal(found.count, 12);
    assert.deepEqual(found.dfsNlls, Array.from({ length: 12 }, (_, i) => i / 10));
    assert.equal(found.greedy, false, "greedy only when every occurrence was greedy");
    assert.deepEqual(second.grid, other);
    assert.equal(second.count, 4);
    assert.deepEqual(
      pool.invalid.map((group) => [group.code, group.count]),
      [
        ["stopped_on_token_budget", 2],
        ["unexpected_token", 1],
      ],
    );
  });

  it("marks all-greedy candidates greedy", () => {
    const spec = decodeAugmentations("greedy", 1)[3];
    const pool = poolCandidates([
      { augmentation: spec, tokenIds: encodeReply(applyGrid(spec, [[4, 2]])), stopReason: "eos", nll: 2.5, greedy: true },
    ]);
    assert.deepEqual(pool.candidates[0].grid, [[4, 2]]);
    assert.equal(pool.candidates[0].greedy, true);
  });
});

describe("candidate ranking", () => {
  it("takes mean log-probability as minus mean NLL", () => {
    assert.equal(meanLogProb([1, 2, 3]), -2);
    assert.throws(() => meanLogProb([]), RangeError);
  });

  it("ranks by count plus mean log-probability", () => {
    const ranked = rankCandidates([candidate("1", 2), candidate("2", 1), candidate("3", 3)], {
      "1": -1.5,
      "2": -0.2,
      "3": -4,
    });
    assert.deepEqual(ranked.map((c) => c.key), ["2", "1", "3"]);
    assert.deepEqual(ranked.map((c) => c.score), [0.8, 0.5, -1]);
    assert.equal(ranked[0].meanLogProb, -0.2);
  });

  it("breaks ties by count, then by key", () => {
    const ranked = rankCandidates(
      [candidate("9", 1), candidate("5", 2), candidate("7", 1)],
      new Map([
        ["9", -0.5],
        ["5", -1.5],
        ["7", -0.5],
      ]),
    );
    assert.deepEqual(ranked.map((c) => c.key), ["5", "7", "9"]);
  });

  it("ranks unscored candidates last", () => {
    const ranked = rankCandidates([candidate("1", 9), candidate("2", 1)], { "2": -3 });
    assert.deepEqual(ranked.map((c) => [c.key, c.meanLogProb]), [["2", -3], ["1", null]]);
  });

  it("selects at most two attempts", () => {
    const ranked = rankCandidates([candidate("1", 1), candidate("2", 2), candidate("3", 3)], { "1": 0, "2": 0, "3": 0 });
    assert.deepEqual(selectAttempts(ranked), [[[3]], [[2]]]);
    assert.deepEqual(selectAttempts(ranked.slice(0, 1)), [[[3]]]);
    assert.deepEqual(selectAttempts([]), []);
  });
});

describe("score items", () => {
  it("pair prompts with augmented candidates", async () => {
    const { taskId, task } = await firstEvaluationTask();
    const specs = scoreAugmentations(`${taskId}_0`, task.train.length);
    const truth = task.test[0].output as Grid;
    const items = buildScoreItems(task.train, task.test[0].input, truth, specs, 7261);
    assert.equal(items.length, 8);
    items.forEach((item, j) => {
      assert.deepEqual(item.completionTokenIds, encodeReply(applyGrid(specs[j], truth)));
      assert.deepEqual(item.promptTokenIds, buildDecodePrompt(task.train, task.test[0].input, specs[j], 7261).tokenIds);
    });
  });

  it("share prompts across candidates", async () => {
    const { taskId, task } = await firstEvaluationTask();
    const specs = scoreAugmentations(`${taskId}_0`, task.train.length);
    const first = buildScoreItems(task.train, task.test[0].input, [[1]], specs, 7261);
    const second = buildScoreItems(task.train, task.test[0].input, [[2, 3]], specs, 7261);
    assert.deepEqual(first.map((item) => item.promptTokenIds), second.map((item) => item.promptTokenIds));
    assert.notDeepEqual(first.map((item) => item.completionTokenIds), second.map((item) => item.completionTokenIds));
  });
});
