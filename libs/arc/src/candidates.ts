import { invertGrid, type AugmentationSpec } from "./augmentation.ts";
import { decodeCompletion, type CompletionProblemCode, type StopReason } from "./completion-parser.ts";
import { gridKey } from "./grid.ts";
import type { Grid } from "./types.ts";

/** One completion returned by the decoder for one augmented prompt. */
export interface DecodeResult {
  /** The augmentation the prompt was built under. */
  augmentation: AugmentationSpec;
  /** Generated token ids, with or without the final EOS. */
  tokenIds: number[];
  stopReason: StopReason;
  /** Negative log-likelihood of the completion (the DFS beam score), in nats. */
  nll: number;
  /** Whether it is the greedy fallback, kept because DFS found nothing above its threshold. */
  greedy: boolean;
}

/** A distinct grid in the original frame with everything known about its occurrences. */
export interface Candidate {
  /** gridKey of the grid; the candidate's identity. */
  key: string;
  grid: Grid;
  /** Number of decode results that produced this grid. */
  count: number;
  /** The NLL of each occurrence, in nats, in input order. */
  dfsNlls: number[];
  /** True only when every occurrence was a greedy fallback. */
  greedy: boolean;
}

/** Invalid decode results with one code, pooled. */
export interface InvalidDecodeGroup {
  code: CompletionProblemCode;
  count: number;
  /** Reason of the first result with this code, as an example. */
  exampleReason: string;
}

/** Candidates and invalid results pooled from the decode results of one test input. */
export interface CandidatePool {
  /** Distinct valid grids, in order of first occurrence. */
  candidates: Candidate[];
  /** Invalid results grouped by code, in order of first occurrence; stored and counted, never scored. */
  invalid: InvalidDecodeGroup[];
}

/**
 * Parses every decode result strictly, maps each valid grid back to the
 * original frame with its augmentation's inverse, and pools equal grids into
 * one candidate with its count. Grids from different augmentations that
 * invert to the same grid are the same candidate.
 */
export function poolCandidates(decodes: readonly DecodeResult[]): CandidatePool {
  const candidates = new Map<string, Candidate>();
  const invalid = new Map<CompletionProblemCode, InvalidDecodeGroup>();

  for (const decode of decodes) {
    const parsed = decodeCompletion(decode.tokenIds, decode.stopReason);
    if (!parsed.ok) {
      const group = invalid.get(parsed.code);
      if (group === undefined) {
        invalid.set(parsed.code, { code: parsed.code, count: 1, exampleReason: parsed.reason });
      } else {
        group.count += 1;
      }
      continue;
    }

    const grid = invertGrid(decode.augmentation, parsed.grid);
    const key = gridKey(grid);
    const existing = candidates.get(key);
    if (existing === undefined) {
      candidates.set(key, { key, grid, count: 1, dfsNlls: [decode.nll], greedy: decode.greedy });
    } else {
      existing.count += 1;
      existing.dfsNlls.push(decode.nll);
      existing.greedy = existing.greedy && decode.greedy;
    }
  }
  return { candidates: [...candidates.values()], invalid: [...invalid.values()] };
}
