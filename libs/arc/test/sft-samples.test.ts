import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyGrid,
  ASSISTANT_TOKEN_ID,
  buildSftSamples,
  COLOR_COUNT,
  decodeTurns,
  gridsEqual,
  loadDataset,
  pairTokenCount,
  passesPairFilter,
  taskPairs,
  validateTaskMap,
  type ArcTask,
  type Grid,
  type Pair,
} from "../src/index.ts";
import { datasetsDir } from "./fixtures.ts";

const SPLIT = "arc-agi-2/training";
const TASK_LIMIT = 60;

async function loadTasks(): Promise<[string, ArcTask][]> {
  const loaded = await loadDataset(datasetsDir, SPLIT, { limit: TASK_LIMIT });
  const { tasks, problems } = validateTaskMap(loaded.tasks);
  assert.deepEqual(problems, []);
  return loaded.taskIds.map((id) => [id, tasks[id]]);
}

function colorHistogram(grid: Grid): number[] {
  const counts = new Array<number>(COLOR_COUNT).fill(0);
  grid.forEach((row) => row.forEach((cell) => counts[cell]++));
  return counts;
}

/** Returns the turns of a sample as pairs, failing when a turn is cut or roles do not alternate. */
function decodePairs(tokenIds: number[]): Pair[] {
  const turns = decodeTurns(tokenIds);
  assert.equal(turns.length % 2, 0, "a sample has whole user/assistant pairs");
  const pairs: Pair[] = [];
  for (let i = 0; i < turns.length; i += 2) {
    assert.equal(turns[i].role, "user");
    assert.equal(turns[i + 1].role, "assistant");
    pairs.push({ input: turns[i].grid, output: turns[i + 1].grid });
  }
  return pairs;
}

describe("SFT samples", () => {
  it("sample 0 is the untransformed task", async () => {
    const [[taskId, task]] = await loadTasks();
    const pairs = taskPairs(task);
    const { samples } = buildSftSamples(taskId, pairs, { samplesPerTask: 3, maxSeqLen: 8192, seedName: "s" });
    const first = samples[0];
    assert.equal(first.sampleIndex, 0);
    assert.equal(first.augmentation.d8, 0);
    assert.deepEqual(first.augmentation.colors, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const decoded = decodePairs(first.tokenIds);
    const expected = first.augmentation.pairOrder.map((index) => pairs[index]);
    assert.deepEqual(first.augmentation.pairOrder, [...first.augmentation.pairOrder].sort((a, b) => a - b));
    assert.deepEqual(decoded, expected);
  });

  it("pairs include test pairs with outputs", async () => {
    const [[, task]] = await loadTasks();
    const pairs = taskPairs(task);
    assert.equal(pairs.length, task.train.length + task.test.filter((test) => test.output !== undefined).length);
    assert.deepEqual(pairs.at(-1)?.input, task.test.at(-1)?.input);
  });

  it("samples respect maxPairs, maxSeqLen and whole grids", async () => {
    const maxSeqLen = 2048;
    for (const [taskId, task] of await loadTasks()) {
      const pairs = taskPairs(task);
      const { samples, skippedSamples } = buildSftSamples(taskId, pairs, { samplesPerTask: 4, maxSeqLen, seedName: taskId });
      assert.equal(samples.length + skippedSamples, 4);
      for (const sample of samples) {
        assert.ok(sample.tokenIds.length <= maxSeqLen, `${taskId}#${sample.sampleIndex} fits maxSeqLen`);
        const decoded = decodePairs(sample.tokenIds);
        assert.ok(decoded.length >= 1 && decoded.length <= 7, `${taskId}#${sample.sampleIndex} has 1..7 pairs`);
        const expected = sample.augmentation.pairOrder.map((index) => ({
          input: applyGrid(sample.augmentation, pairs[index].input),
          output: applyGrid(sample.augmentation, pairs[index].output),
        }));
        assert.deepEqual(decoded, expected);
      }
    }
  });

  it("loss mask covers assistant grids and their end token", async () => {
    const [[taskId, task]] = await loadTasks();
    const { samples } = buildSftSamples(taskId, taskPairs(task), { samplesPerTask: 2, maxSeqLen: 8192, seedName: "m" });
    for (const sample of samples) {
      assert.equal(sample.lossMask.length, sample.tokenIds.length);
      const turns = decodeTurns(sample.tokenIds);
      let position = 0;
      for (const turn of turns) {
        const length = pairTokenCount({ input: turn.grid, output: turn.grid }) / 2;
        const mask = sample.lossMask.slice(position, position + length);
        const expected = turn.role === "assistant" ? [0, 0, 0, ...new Array(length - 3).fill(1)] : new Array(length).fill(0);
        assert.deepEqual(mask, expected);
        assert.equal(sample.tokenIds[position + 1] === ASSISTANT_TOKEN_ID, turn.role === "assistant");
        position += length;
      }
    }
  });

  it("drops leading pairs to fit and skips samples that cannot fit", async () => {
    const tasks = await loadTasks();
    const [taskId, task] = tasks.find(([, t]) => taskPairs(t).length >= 4)!;
    const pairs = taskPairs(task);
    const costs = pairs.map(pairTokenCount);
    const budget = Math.max(...costs);
    const { samples } = buildSftSamples(taskId, pairs, { samplesPerTask: 3, maxSeqLen: budget, seedName: "fit" });
    const original = samples[0];
    const kept = original.augmentation.pairOrder;
    assert.equal(kept.at(-1), Math.min(pairs.length, 7) - 1, "the last pair of the original order stays");
    assert.ok(original.tokenIds.length <= budget);

    const tooSmall = Math.min(...costs) - 1;
    const none = buildSftSamples(taskId, pairs, { samplesPerTask: 3, maxSeqLen: tooSmall, seedName: "fit" });
    assert.equal(none.samples.length, 0);
    assert.equal(none.skippedSamples, 3);
  });

  it("color augmentation is a bijection", async () => {
    for (const [taskId, task] of (await loadTasks()).slice(0, 20)) {
      const pairs = taskPairs(task);
      const { samples } = buildSftSamples(taskId, pairs, { samplesPerTask: 6, maxSeqLen: 8192, seedName: taskId });
      for (const sample of samples.slice(1)) {
        const colors = sample.augmentation.colors;
        assert.deepEqual([...colors].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        const decoded = decodePairs(sample.tokenIds);
        sample.augmentation.pairOrder.forEach((index, k) => {
          const before = colorHistogram(pairs[index].input);
          const after = colorHistogram(decoded[k].input);
          before.forEach((count, color) => assert.equal(after[colors[color]], count, `${taskId} color ${color} keeps its count`));
        });
      }
    }
  });

  it("same seed name gives the same samples", async () => {
    const [[taskId, task]] = await loadTasks();
    const options = { samplesPerTask: 8, maxSeqLen: 8192, seedName: "same" };
    const first = buildSftSamples(taskId, taskPairs(task), options);
    const second = buildSftSamples(taskId, taskPairs(task), options);
    const other = buildSftSamples(taskId, taskPairs(task), { ...options, seedName: "other" });
    assert.deepEqual(first, second);
    assert.notDeepEqual(first.samples.slice(1), other.samples.slice(1));
    assert.deepEqual(first.samples[0], other.samples[0]);
  });

  it("augmented samples use varied D8 elements", async () => {
    const [[taskId, task]] = await loadTasks();
    const { samples } = buildSftSamples(taskId, taskPairs(task), { samplesPerTask: 64, maxSeqLen: 8192, seedName: "d8" });
    const elements = new Set(samples.slice(1).map((sample) => sample.augmentation.d8));
    assert.equal(elements.size, 8);
  });
});

describe("pair filter", () => {
  const a: Grid = [[1, 2], [3, 4]];
  const b: Grid = [[4, 3], [2, 1]];
  const c: Grid = [[5, 5], [6, 6]];

  it("passes real tasks", async () => {
    for (const [taskId, task] of await loadTasks()) {
      assert.ok(passesPairFilter(taskPairs(task)), taskId);
    }
  });

  it("rejects repeated input grids", () => {
    assert.equal(passesPairFilter([{ input: a, output: b }, { input: a, output: c }]), false);
  });

  it("rejects identical outputs", () => {
    assert.equal(passesPairFilter([{ input: a, output: c }, { input: b, output: c }]), false);
  });

  it("rejects one-color one-shape outputs", () => {
    const outputs: Grid[] = [[[7, 7]], [[7, 7]]];
    assert.equal(passesPairFilter([{ input: a, output: outputs[0] }, { input: b, output: [[7, 7, 7]] }]), true);
    assert.equal(passesPairFilter([{ input: a, output: outputs[0] }, { input: b, output: outputs[1] }]), false);
  });

  it("accepts one-color inputs of several shapes", () => {
    assert.equal(passesPairFilter([{ input: [[0, 0]], output: a }, { input: [[0, 0, 0]], output: b }]), true);
  });

  it("rejects a single pair", () => {
    assert.equal(passesPairFilter([{ input: a, output: b }]), false);
  });

  it("keeps distinct pairs", () => {
    assert.ok(passesPairFilter([{ input: a, output: b }, { input: b, output: a }]));
    assert.ok(gridsEqual(a, a));
  });
});
