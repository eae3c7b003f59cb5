import { augmentPairs, type AugmentationSpec } from "./augmentation.ts";
import { fitPairs, minPairTokens, TaskExceedsContextError } from "./context-budget.ts";
import { encodeTurn, TURN_HEADER_TOKEN_COUNT } from "./dialog-format.ts";
import type { Pair } from "./types.ts";

/** One TTFT training sequence: an augmented demonstration dialog with its loss mask. */
export interface TtftSequence {
  /** The augmentation it was built under. */
  augmentation: AugmentationSpec;
  /** The dialog tokens: user and assistant turns of the kept pairs. */
  tokenIds: number[];
  /**
   * 1 where the loss counts (the grid tokens of every assistant turn and its
   * closing `<|im_end|>`), 0 elsewhere (user turns and assistant headers).
   * Same length as tokenIds.
   */
  lossMask: number[];
  /** Number of demonstration pairs kept after fitting to maxSeqLen. */
  pairsUsed: number;
}

/**
 * Builds one TTFT sequence per spec from the demonstration pairs: pairs
 * reordered and transformed by the spec, written as a dialog. A sequence
 * longer than `maxSeqLen` tokens loses whole pairs from the front (see
 * fitPairs); no grid is ever cut. Throws TaskExceedsContextError when not even
 * one pair fits.
 */
export function buildTtftSequences(
  train: readonly Pair[],
  specs: readonly AugmentationSpec[],
  maxSeqLen: number,
): TtftSequence[] {
  return specs.map((spec) => {
    const fitted = fitPairs(augmentPairs(spec, train), maxSeqLen);
    if (fitted === null) {
      throw new TaskExceedsContextError(minPairTokens(train), maxSeqLen);
    }
    const tokenIds: number[] = [];
    const lossMask: number[] = [];
    for (const pair of fitted.pairs) {
      const userTurn = encodeTurn("user", pair.input);
      const assistantTurn = encodeTurn("assistant", pair.output);
      tokenIds.push(...userTurn, ...assistantTurn);
      lossMask.push(...userTurn.map(() => 0));
      lossMask.push(...assistantTurn.map((_, i) => (i < TURN_HEADER_TOKEN_COUNT ? 0 : 1)));
    }
    return { augmentation: spec, tokenIds, lossMask, pairsUsed: fitted.pairs.length };
  });
}
