import type { Candidate } from "./candidates.ts";
import type { Grid } from "./types.ts";

/** A candidate with its re-scoring result and selection score. */
export interface RankedCandidate extends Candidate {
  /** −mean NLL over the scoring augmentations, in nats; null when the candidate was not scored. */
  meanLogProb: number | null;
  /** count + meanLogProb; −Infinity when the candidate was not scored. */
  score: number;
}

/** Number of attempts submitted per test input. */
export const ATTEMPTS_PER_TEST_INPUT = 2;

/**
 * Returns the mean log-probability of a candidate from its NLLs (in nats)
 * under the scoring augmentations: −(Σ NLL) / n, the log of the geometric
 * mean of the augmented probabilities. Throws a RangeError on an empty list.
 */
export function meanLogProb(nlls: readonly number[]): number {
  if (nlls.length === 0) {
    throw new RangeError("meanLogProb needs at least one NLL");
  }
  return -nlls.reduce((sum, nll) => sum + nll, 0) / nlls.length;
}

function lookup(source: ReadonlyMap<string, number> | Readonly<Record<string, number>>, key: string): number | null {
  const value = source instanceof Map ? source.get(key) : (source as Record<string, number>)[key];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** Compares keys by UTF-16 code units, so the order does not depend on the locale. */
function compareKeys(a: string, b: string): number {
  if (a === b) {
    return 0;
  }
  return a < b ? -1 : 1;
}

/**
 * Ranks candidates by score = count + meanLogProb, best first. Ties go to the
 * higher count, then to the smaller key, so the order is deterministic.
 * Candidates missing from `meanLogProbByKey` (or with a non-finite value)
 * rank after all scored ones.
 */
export function rankCandidates(
  candidates: readonly Candidate[],
  meanLogProbByKey: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
): RankedCandidate[] {
  const ranked = candidates.map((candidate) => {
    const logProb = lookup(meanLogProbByKey, candidate.key);
    const score = logProb === null ? Number.NEGATIVE_INFINITY : candidate.count + logProb;
    return { ...candidate, meanLogProb: logProb, score };
  });
  return ranked.sort((a, b) => {
    if (a.score !== b.score) {
      return b.score - a.score;
    }
    if (a.count !== b.count) {
      return b.count - a.count;
    }
    return compareKeys(a.key, b.key);
  });
}

/** Returns the grids of the top two ranked candidates (fewer when fewer exist): attempt_1, attempt_2. */
export function selectAttempts(ranked: readonly RankedCandidate[]): Grid[] {
  return ranked.slice(0, ATTEMPTS_PER_TEST_INPUT).map((candidate) => candidate.grid);
}
