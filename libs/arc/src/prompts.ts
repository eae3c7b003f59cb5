import { applyGrid, augmentPairs, type AugmentationSpec } from "./augmentation.ts";
import { fitPairs, minPairTokens, TaskExceedsContextError } from "./context-budget.ts";
import { encodePrompt, encodeReply, GENERATION_PROMPT_TOKEN_IDS, turnTokenCount } from "./dialog-format.ts";
import type { Grid, Pair } from "./types.ts";

/** A decode prompt for one test input under one augmentation. */
export interface DecodePrompt {
  /** Prompt tokens, ending with the generation prompt `14 12 10`. */
  tokenIds: number[];
  /** Number of demonstration pairs kept after fitting to maxPromptLen. */
  pairsUsed: number;
}

/**
 * Builds the decode prompt of a test input (a grid in the original frame)
 * under `spec`: the augmented demonstrations, the augmented test input turn,
 * then the generation prompt. A prompt longer than `maxPromptLen` tokens
 * loses whole pairs from the front (see fitPairs). Throws
 * TaskExceedsContextError when not even one pair fits.
 */
export function buildDecodePrompt(
  train: readonly Pair[],
  testInput: Grid,
  spec: AugmentationSpec,
  maxPromptLen: number,
): DecodePrompt {
  const augmentedTest = applyGrid(spec, testInput);
  const fixedTokens = turnTokenCount(augmentedTest) + GENERATION_PROMPT_TOKEN_IDS.length;
  const fitted = fitPairs(augmentPairs(spec, train), maxPromptLen - fixedTokens);
  if (fitted === null) {
    throw new TaskExceedsContextError(minPairTokens(train) + fixedTokens, maxPromptLen);
  }
  return { tokenIds: encodePrompt(fitted.pairs, augmentedTest), pairsUsed: fitted.pairs.length };
}

/** One teacher-forced scoring sequence of a candidate under one augmentation. */
export interface ScoreItem {
  /** The augmentation it was built under. */
  augmentation: AugmentationSpec;
  /** The decode prompt under that augmentation. */
  promptTokenIds: number[];
  /** The candidate in the augmented frame, as a reply: grid tokens then EOS. */
  completionTokenIds: number[];
  /** Number of demonstration pairs kept in the prompt. */
  pairsUsed: number;
}

/**
 * Builds one scoring item per spec for a candidate grid (original frame):
 * the decode prompt under the spec and the candidate transformed by it as the
 * completion. Pass the test input's fixed scoreAugmentations so every
 * candidate is scored under the same 8 views.
 */
export function buildScoreItems(
  train: readonly Pair[],
  testInput: Grid,
  candidateGrid: Grid,
  scoreSpecs: readonly AugmentationSpec[],
  maxPromptLen: number,
): ScoreItem[] {
  return scoreSpecs.map((spec) => {
    const prompt = buildDecodePrompt(train, testInput, spec, maxPromptLen);
    return {
      augmentation: spec,
      promptTokenIds: prompt.tokenIds,
      completionTokenIds: encodeReply(applyGrid(spec, candidateGrid)),
      pairsUsed: prompt.pairsUsed,
    };
  });
}
