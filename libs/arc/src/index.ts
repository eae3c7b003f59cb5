/**
 * ARC domain library: tasks and their validation, the 16-token dialog format
 * (the only encoder and decoder of grids), augmentations and their inverses,
 * TTFT sequences and prompts, candidate pooling and ranking, batch scoring and
 * the Kaggle submission file.
 */
export type { ArcTask, Grid, Pair, TestInput } from "./types.ts";
export * from "./grid.ts";
export {
  MAX_PROBLEMS_PER_TASK,
  MAX_PROBLEMS_TOTAL,
  TASK_PROBLEM_CODES,
  type TaskProblem,
  type TaskProblemCode,
} from "./task-problems.ts";
export * from "./task-validation.ts";
export * from "./tokens.ts";
export * from "./dialog-format.ts";
export * from "./completion-parser.ts";
export * from "./d8.ts";
export * from "./augmentation.ts";
export * from "./rng.ts";
export * from "./augmentation-plans.ts";
export * from "./context-budget.ts";
export * from "./training-sequences.ts";
export * from "./prompts.ts";
export * from "./candidates.ts";
export * from "./candidate-ranking.ts";
export * from "./scoring.ts";
export * from "./submission.ts";
export * from "./dataset.ts";
export * from "./sft-samples.ts";
export * from "./packing.ts";
export * from "./task-fingerprint.ts";
