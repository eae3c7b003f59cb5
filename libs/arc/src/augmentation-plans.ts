import type { AugmentationSpec } from "./augmentation.ts";
import { D8_INDICES, swapsAxes } from "./d8.ts";
import { COLOR_COUNT } from "./grid.ts";
import { createRng } from "./rng.ts";

/** Color permutations per D8 element in TTFT: 8 × 16 = 128 training sequences per task. */
export const DEFAULT_TTFT_COLOR_PERMUTATIONS_PER_D8 = 16;

/** Color permutations per D8 element in DFS decoding: 8 × 2 = 16 decode prompts per test input. */
export const DEFAULT_DECODE_COLOR_PERMUTATIONS_PER_D8 = 2;

/** Options of the D8 × color plans. */
export interface AugmentationPlanOptions {
  /** Color permutations drawn per D8 element; an integer ≥ 1. */
  colorPermutationsPerD8?: number;
}

/**
 * Builds 8 × k specs: for each D8 element in index order, k specs, each with
 * its own random permutation of all 10 colors and its own random pair order.
 * The random stream is seeded by `<stage>/<seedName>`, so plans of different
 * stages with one seed name are independent, and one seed name replays.
 */
function buildPlan(stage: string, seedName: string, pairCount: number, perD8: number): AugmentationSpec[] {
  if (!Number.isInteger(perD8) || perD8 < 1) {
    throw new RangeError(`colorPermutationsPerD8 must be an integer ≥ 1, got ${perD8}`);
  }
  if (!Number.isInteger(pairCount) || pairCount < 1) {
    throw new RangeError(`pairCount must be an integer ≥ 1, got ${pairCount}`);
  }
  const rng = createRng(`${stage}/${seedName}`);
  const specs: AugmentationSpec[] = [];
  for (const d8 of D8_INDICES) {
    for (let k = 0; k < perD8; k++) {
      specs.push({ d8, colors: rng.permutation(COLOR_COUNT), pairOrder: rng.permutation(pairCount) });
    }
  }
  return specs;
}

/**
 * Returns the TTFT augmentations of a task: 8 D8 elements × k color
 * permutations (default 16), each with a shuffled pair order. Use the task id
 * (or another stable name) as `seedName`.
 */
export function ttftAugmentations(
  seedName: string,
  pairCount: number,
  options: AugmentationPlanOptions = {},
): AugmentationSpec[] {
  const perD8 = options.colorPermutationsPerD8 ?? DEFAULT_TTFT_COLOR_PERMUTATIONS_PER_D8;
  return buildPlan("ttft", seedName, pairCount, perD8);
}

/**
 * Returns the DFS decoding augmentations of one test input: 8 D8 elements ×
 * m color permutations (default 2), each with a shuffled pair order. Use
 * `<taskId>_<testIndex>` as `seedName`.
 */
export function decodeAugmentations(
  seedName: string,
  pairCount: number,
  options: AugmentationPlanOptions = {},
): AugmentationSpec[] {
  const perD8 = options.colorPermutationsPerD8 ?? DEFAULT_DECODE_COLOR_PERMUTATIONS_PER_D8;
  return buildPlan("decode", seedName, pairCount, perD8);
}

/**
 * Returns the 8 re-scoring augmentations of one test input: each D8 element
 * once, with one color permutation and pair order each. Every candidate of
 * the test input is scored under these same 8, so scores are comparable. Use
 * `<taskId>_<testIndex>` as `seedName`.
 */
export function scoreAugmentations(seedName: string, pairCount: number): AugmentationSpec[] {
  return buildPlan("score", seedName, pairCount, 1);
}

/**
 * Splits specs into groups whose augmented grids have identical shapes: the
 * elements that keep H×W (identity, rot180, both flips) and those that give
 * W×H (rot90, rot270, transpose, anti-transpose). Colors and pair order never
 * change token counts, so the un-shortened prompts of one group have equal
 * length and can share a batch. Pair dropping can still make lengths differ
 * when specs order pairs differently, so compare actual lengths before
 * batching. Groups keep the input order; empty groups are left out.
 */
export function groupByGridShape(specs: readonly AugmentationSpec[]): AugmentationSpec[][] {
  const keeping = specs.filter((spec) => !swapsAxes(spec.d8));
  const swapping = specs.filter((spec) => swapsAxes(spec.d8));
  return [keeping, swapping].filter((group) => group.length > 0);
}
