import type { AugmentationSpec } from "./augmentation.ts";
import { fitPairs } from "./context-budget.ts";
import { D8_INDICES, type D8Index } from "./d8.ts";
import { COLOR_COUNT, gridKey } from "./grid.ts";
import { createRng } from "./rng.ts";
import { buildTtftSequences } from "./training-sequences.ts";
import type { ArcTask, Grid, Pair } from "./types.ts";

/** Default maximum pairs in one SFT sample: NVARC trains on dialogs of up to 7 pairs. */
export const DEFAULT_SFT_MAX_PAIRS = 7;

/** Options of buildSftSamples. */
export interface SftSampleOptions {
  /** Samples to draw per task, an integer ≥ 1; sample 0 is the untransformed task. */
  samplesPerTask: number;
  /** Maximum pairs per sample, an integer ≥ 1 (default 7). */
  maxPairs?: number;
  /** Maximum tokens per sample. Pairs are dropped from the front until a sample fits. */
  maxSeqLen: number;
  /** Names the random stream, so the same name always gives the same samples. */
  seedName: string;
}

/** One SFT training dialog of a task, with its loss mask. */
export interface SftSample {
  taskId: string;
  /** 0 for the original task, 1.. for augmented copies. */
  sampleIndex: number;
  /** D8 element and color permutation applied; `pairOrder` lists the pairs kept, as indices into the task's pairs. */
  augmentation: AugmentationSpec;
  /** Dialog tokens: a user turn and an assistant turn per kept pair. */
  tokenIds: number[];
  /** 1 on the grid tokens and closing `<|im_end|>` of every assistant turn, else 0. */
  lossMask: number[];
}

/** Samples of one task and the count of samples skipped because not even one pair fit maxSeqLen. */
export interface SftTaskSamples {
  samples: SftSample[];
  skippedSamples: number;
}

/** Returns the pairs an SFT sample may use: every train pair, then every test pair with a known output. */
export function taskPairs(task: ArcTask): Pair[] {
  const testPairs: Pair[] = [];
  for (const test of task.test) {
    if (test.output !== undefined) {
      testPairs.push({ input: test.input, output: test.output });
    }
  }
  return [...task.train, ...testPairs];
}

/**
 * Plans the augmentations of a task's samples. Sample 0 keeps the original
 * order and frame. Every later sample draws, in this order, a pair order, a
 * D8 element (identity allowed) and a permutation of all 10 colors from one
 * stream seeded by `sft/<seedName>`. `pairOrder` keeps the first maxPairs
 * indices of the shuffled order.
 */
export function planSftAugmentations(seedName: string, pairCount: number, samplesPerTask: number, maxPairs: number): AugmentationSpec[] {
  checkPositiveInteger(samplesPerTask, "samplesPerTask");
  checkPositiveInteger(maxPairs, "maxPairs");
  checkPositiveInteger(pairCount, "pairCount");
  const rng = createRng(`sft/${seedName}`);
  const identityColors = Array.from({ length: COLOR_COUNT }, (_, c) => c);
  const specs: AugmentationSpec[] = [
    { d8: 0, colors: identityColors, pairOrder: Array.from({ length: Math.min(pairCount, maxPairs) }, (_, i) => i) },
  ];
  for (let k = 1; k < samplesPerTask; k++) {
    const pairOrder = rng.permutation(pairCount).slice(0, maxPairs);
    const d8: D8Index = D8_INDICES[rng.nextInt(D8_INDICES.length)];
    specs.push({ d8, colors: rng.permutation(COLOR_COUNT), pairOrder });
  }
  return specs;
}

/**
 * Builds the SFT samples of one task from its pairs (see taskPairs). Each
 * sample is a dialog of at most maxPairs pairs under its planned
 * augmentation, encoded by buildTtftSequences, so a sample over maxSeqLen
 * loses whole pairs from the front and no grid is cut. A sample whose every
 * pair alone exceeds maxSeqLen is skipped and counted. Deterministic in
 * seedName.
 */
export function buildSftSamples(taskId: string, pairs: readonly Pair[], options: SftSampleOptions): SftTaskSamples {
  checkPositiveInteger(options.maxSeqLen, "maxSeqLen");
  const maxPairs = options.maxPairs ?? DEFAULT_SFT_MAX_PAIRS;
  const specs = planSftAugmentations(options.seedName, pairs.length, options.samplesPerTask, maxPairs);
  const samples: SftSample[] = [];
  let skippedSamples = 0;
  specs.forEach((spec, sampleIndex) => {
    const chosen = spec.pairOrder.map((index) => pairs[index]);
    // D8 and color maps keep token counts, so fitting the original pairs fits the augmented ones.
    const fitted = fitPairs(chosen, options.maxSeqLen);
    if (fitted === null) {
      skippedSamples++;
      return;
    }
    const kept = fitted.pairs.map((pair) => spec.pairOrder[chosen.indexOf(pair)]);
    const inOrder = { ...spec, pairOrder: kept.map((_, i) => i) };
    const [sequence] = buildTtftSequences(fitted.pairs, [inOrder], options.maxSeqLen);
    samples.push({
      taskId,
      sampleIndex,
      augmentation: { ...spec, pairOrder: kept },
      tokenIds: sequence.tokenIds,
      lossMask: sequence.lossMask,
    });
  });
  return { samples, skippedSamples };
}

/**
 * Returns true when a task's pairs are fit for SFT. Every input grid must be
 * distinct and the outputs must not all be identical. The inputs must not
 * all share one shape while using a single color over all of them, and the
 * same holds for the outputs. A single pair fails, because its outputs are
 * trivially all identical. A failing real task contributes no samples.
 */
export function passesPairFilter(pairs: readonly Pair[]): boolean {
  if (pairs.length === 0) {
    return false;
  }
  const inputKeys = new Set(pairs.map((pair) => gridKey(pair.input)));
  const outputKeys = new Set(pairs.map((pair) => gridKey(pair.output)));
  if (inputKeys.size !== pairs.length || outputKeys.size === 1) {
    return false;
  }
  const inputs = pairs.map((pair) => pair.input);
  const outputs = pairs.map((pair) => pair.output);
  return !isOneColorOneShape(inputs) && !isOneColorOneShape(outputs);
}

function isOneColorOneShape(grids: readonly Grid[]): boolean {
  const colors = new Set<number>();
  const shapes = new Set<string>();
  for (const grid of grids) {
    shapes.add(`${grid.length}x${grid[0].length}`);
    for (const row of grid) {
      row.forEach((cell) => colors.add(cell));
    }
  }
  return colors.size === 1 && shapes.size === 1;
}

function checkPositiveInteger(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be an integer ≥ 1, got ${value}`);
  }
}
