import { gridKey, gridsEqual, type Grid } from "@nvarc/arc";
import type { TestInputResult } from "./task-pipeline.ts";

/** Attempt rows of a task: up to two per test input, with correctness when known. */
export function buildAttemptRows(attempts: Grid[][], truths: (Grid | undefined)[]) {
  return attempts.flatMap((grids, testIndex) =>
    grids.map((grid, index) => ({
      testIndex,
      attempt: index + 1,
      grid,
      correct: truths[testIndex] === undefined ? null : gridsEqual(grid, truths[testIndex]!),
    })),
  );
}

/** Candidate rows of a task: ranked valid grids, then invalid decodes pooled by reason. */
export function buildCandidateRows(tests: TestInputResult[], truths: (Grid | undefined)[]) {
  return tests.flatMap((test) => {
    const truth = truths[test.testIndex];
    const valid = test.ranked.map((candidate, index) => ({
      testIndex: test.testIndex,
      candidateKey: gridKey(candidate.grid),
      valid: true,
      grid: candidate.grid,
      invalidReason: null,
      count: candidate.count,
      greedy: candidate.greedy,
      meanLogProb: candidate.meanLogProb,
      rankScore: candidate.score,
      rank: index + 1,
      correct: truth === undefined ? null : gridsEqual(candidate.grid, truth),
    }));
    const invalid = test.invalid.map((candidate) => ({
      testIndex: test.testIndex,
      candidateKey: `invalid:${candidate.code}`,
      valid: false,
      grid: null,
      invalidReason: candidate.exampleReason,
      count: candidate.count,
      greedy: false,
      meanLogProb: null,
      rankScore: null,
      rank: null,
      correct: null,
    }));
    return [...valid, ...invalid];
  });
}
