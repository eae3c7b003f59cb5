import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  augmentPairs,
  buildDecodePrompt,
  buildTtftSequences,
  checkTaskFitsContext,
  createRng,
  decodeAugmentations,
  decodeTurns,
  DEFAULT_MAX_NEW_TOKENS,
  gridsEqual,
  identitySpec,
  maxPromptTokens,
  pairTokenCount,
  requiredContextTokens,
  TaskExceedsContextError,
  ttftAugmentations,
  turnTokenCount,
  applyGrid,
  validateTaskMap,
  type ArcTask,
  type Grid,
  type Pair,
  type Rng,
} from "../src/index.ts";
import { readCase, thrownBy } from "./fixtures.ts";

function caseTasks(variant: string): Record<string, ArcTask> {
  const { tasks, problems } = validateTaskMap(readCase("BR-03.json")[variant].tasks);
  assert.deepEqual(problems, []);
  return tasks;
}

function randomGrid(rng: Rng): Grid {
  const rows = 1 + rng.nextInt(30);
  const columns = 1 + rng.nextInt(30);
  return Array.from({ length: rows }, () => Array.from({ length: columns }, () => rng.nextInt(10)));
}

function randomTrain(rng: Rng): Pair[] {
  return Array.from({ length: 1 + rng.nextInt(6) }, () => ({ input: randomGrid(rng), output: randomGrid(rng) }));
}

/** Reads a dialog of complete turns back into pairs, failing when any turn is cut or out of order. */
function dialogPairs(tokenIds: number[]): Pair[] {
  const turns = decodeTurns(tokenIds);
  assert.equal(turns.length % 2, 0);
  const pairs: Pair[] = [];
  for (let i = 0; i < turns.length; i += 2) {
    assert.equal(turns[i].role, "user");
    assert.equal(turns[i + 1].role, "assistant");
    pairs.push({ input: turns[i].grid, output: turns[i + 1].grid });
  }
  return pairs;
}

function samePair(a: Pair, b: Pair): boolean {
  return gridsEqual(a.input, b.input) && gridsEqual(a.output, b.output);
}

/**
 * Asserts that `kept` follows the fitting rule on `augmented`: pairs too large
 * on their own are left out, and of the others exactly the longest suffix
 * that fits `budget` is kept.
 */
function assertFittedSuffix(kept: Pair[], augmented: Pair[], budget: number): void {
  const candidates = augmented.filter((pair) => pairTokenCount(pair) <= budget);
  const suffix = candidates.slice(candidates.length - kept.length);
  assert.equal(kept.length, suffix.length);
  kept.forEach((pair, i) => assert.ok(samePair(pair, suffix[i]), `kept pair ${i} is the augmented one`));
  const used = kept.reduce((sum, pair) => sum + pairTokenCount(pair), 0);
  const next = candidates[candidates.length - kept.length - 1];
  if (next !== undefined) {
    assert.ok(used + pairTokenCount(next) > budget, "no further pair would have fit");
  }
}

describe("TTFT sequences", () => {
  it("mask the loss to assistant grids and their EOS", () => {
    const train = [{ input: [[1, 2, 3], [4, 5, 6]], output: [[7, 8], [9, 0]] }];
    const [sequence] = buildTtftSequences(train, [identitySpec(1)], 8192);
    assert.deepEqual(sequence.tokenIds, [14, 11, 10, 1, 2, 3, 10, 4, 5, 6, 15, 14, 12, 10, 7, 8, 10, 9, 0, 15]);
    assert.deepEqual(sequence.lossMask, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    assert.equal(sequence.pairsUsed, 1);
  });

  it("fit large pairs by whole pairs", () => {
    const task = caseTasks("variant_A_fits_with_fewer_pairs").c3000001;
    const specs = ttftAugmentations("c3000001", task.train.length);
    for (const maxSeqLen of [8192, 4000]) {
      for (const sequence of buildTtftSequences(task.train, specs, maxSeqLen)) {
        assert.ok(sequence.tokenIds.length <= maxSeqLen);
        assert.equal(sequence.lossMask.length, sequence.tokenIds.length);
        // A 30x30 pair costs 2 × (929 + 4) = 1866 tokens: 4 fit in 8192, 2 in 4000.
        assert.equal(sequence.pairsUsed, maxSeqLen === 8192 ? 4 : 2);
        assertFittedSuffix(dialogPairs(sequence.tokenIds), augmentPairs(sequence.augmentation, task.train), maxSeqLen);
      }
    }
  });

  it("throw when no pair fits", () => {
    const task = caseTasks("variant_B_cannot_fit").c3000002;
    const error = thrownBy(() => buildTtftSequences(task.train, [identitySpec(1)], 1000));
    assert.ok(error instanceof TaskExceedsContextError);
    assert.equal(error.code, "task_exceeds_context");
    assert.equal(error.neededTokens, 1866);
    assert.equal(error.limitTokens, 1000);
    assert.equal(error.message, "task_exceeds_context: needs at least 1,866 tokens, limit 1,000");
  });

  it("never cut a grid", () => {
    const rng = createRng("no-cut-property");
    for (let trial = 0; trial < 60; trial++) {
      const train = randomTrain(rng);
      const maxSeqLen = 200 + rng.nextInt(6000);
      const specs = ttftAugmentations(`trial-${trial}`, train.length, { colorPermutationsPerD8: 1 });
      let sequences;
      try {
        sequences = buildTtftSequences(train, specs, maxSeqLen);
      } catch (error) {
        assert.ok(error instanceof TaskExceedsContextError);
        assert.ok(train.every((pair) => pairTokenCount(pair) > maxSeqLen));
        continue;
      }
      for (const sequence of sequences) {
        assert.ok(sequence.tokenIds.length <= maxSeqLen);
        const kept = dialogPairs(sequence.tokenIds);
        assert.equal(kept.length, sequence.pairsUsed);
        assertFittedSuffix(kept, augmentPairs(sequence.augmentation, train), maxSeqLen);
        const maskedTokens = sequence.lossMask.reduce((sum, bit) => sum + bit, 0);
        const assistantTokens = kept.reduce((sum, pair) => sum + turnTokenCount(pair.output) - 3, 0);
        assert.equal(maskedTokens, assistantTokens);
      }
    }
  });
});

describe("decode prompts", () => {
  const limits = { maxSeqLen: 8192, maxNewTokens: DEFAULT_MAX_NEW_TOKENS };

  it("fit by dropping whole pairs", () => {
    const task = caseTasks("variant_A_fits_with_fewer_pairs").c3000001;
    assert.equal(checkTaskFitsContext(task, limits), null);
    const maxPromptLen = maxPromptTokens(limits);
    for (const spec of decodeAugmentations("c3000001_0", task.train.length)) {
      const prompt = buildDecodePrompt(task.train, task.test[0].input, spec, maxPromptLen);
      assert.ok(prompt.tokenIds.length <= maxPromptLen);
      assert.ok(prompt.tokenIds.length + limits.maxNewTokens <= limits.maxSeqLen);
      // 3 pairs (5598) + test turn (933) + generation prompt (3) = 6534 ≤ 7261; 4 pairs would need 8400.
      assert.equal(prompt.pairsUsed, 3);
      assert.deepEqual(prompt.tokenIds.slice(-3), [14, 12, 10]);
      const turns = decodeTurns(prompt.tokenIds.slice(0, -3));
      assert.deepEqual(turns.at(-1), { role: "user", grid: applyGrid(spec, task.test[0].input) });
      assertFittedSuffix(
        dialogPairs(prompt.tokenIds.slice(0, -(3 + turnTokenCount(task.test[0].input)))),
        augmentPairs(spec, task.train),
        maxPromptLen - turnTokenCount(task.test[0].input) - 3,
      );
    }
  });

  it("reject only the oversized task", () => {
    const tasks = caseTasks("variant_B_cannot_fit");
    const small = { maxSeqLen: 2048, maxNewTokens: DEFAULT_MAX_NEW_TOKENS };
    const problem = checkTaskFitsContext(tasks.c3000002, small);
    // One 30x30 pair (1866) + 30x30 test turn (933) + generation prompt (3) + reply budget (931).
    assert.deepEqual(problem, {
      code: "task_exceeds_context",
      neededTokens: 3733,
      limitTokens: 2048,
      message: "task_exceeds_context: needs at least 3,733 tokens, limit 2,048",
    });
    assert.equal(requiredContextTokens(tasks.c3000002, 931), 3733);
    assert.equal(checkTaskFitsContext(tasks.c3000003, small), null);
    assert.throws(
      () => buildDecodePrompt(tasks.c3000002.train, tasks.c3000002.test[0].input, identitySpec(1), maxPromptTokens(small)),
      TaskExceedsContextError,
    );
    const prompt = buildDecodePrompt(tasks.c3000003.train, tasks.c3000003.test[0].input, identitySpec(1), maxPromptTokens(small));
    assert.equal(prompt.pairsUsed, 1);
  });

  it("skip a pair too large alone", () => {
    const big = Array.from({ length: 30 }, () => new Array(30).fill(1));
    const train = [{ input: [[1]], output: [[2]] }, { input: big, output: big }];
    const prompt = buildDecodePrompt(train, [[3]], identitySpec(2), 1000);
    assert.equal(prompt.pairsUsed, 1);
    assert.deepEqual(dialogPairs(prompt.tokenIds.slice(0, -(3 + 5))), [train[0]]);
  });
});
