import { gridsEqual, isValidGrid } from "./grid.ts";
import type { Grid } from "./types.ts";

/** A task of a batch with the ground truth of each test input, in test order; undefined where unknown. */
export interface ScoringTask {
  taskId: string;
  truths: (Grid | undefined)[];
}

/** Attempts of one task: per test input (by index) its attempts, attempt_1 first. */
export type TaskAttempts = readonly (readonly (Grid | null | undefined)[] | null | undefined)[];

/** Attempts of a batch keyed by task id; a missing or undefined entry means the task produced none. */
export type AttemptsByTask =
  | ReadonlyMap<string, TaskAttempts | undefined>
  | Readonly<Record<string, TaskAttempts | undefined>>;

/** Score of one task. */
export interface TaskScore {
  taskId: string;
  /** Per test input whether an attempt equals the truth; all null when the task is unscored. */
  correct: (boolean | null)[];
  /** Solved test inputs / test inputs; null when the task is unscored. */
  solvedFraction: number | null;
}

/** Score of a batch. */
export interface BatchScore {
  /** Kaggle metric: mean over scored test inputs of "either attempt equals the truth"; null when nothing is scored. */
  score: number | null;
  /** Mean over scored tasks of their solvedFraction; null when nothing is scored. */
  taskScore: number | null;
  scoredTasks: number;
  /** Tasks without ground truth for every test input (or without test inputs); excluded from both means. */
  unscoredTasks: number;
  scoredTestInputs: number;
  solvedTestInputs: number;
  perTask: TaskScore[];
}

/** Returns the attempts stored for a task, from a Map or a plain object. */
export function attemptsFor(attemptsByTask: AttemptsByTask, taskId: string): TaskAttempts | undefined {
  if (attemptsByTask instanceof Map) {
    return attemptsByTask.get(taskId) ?? undefined;
  }
  const record = attemptsByTask as Readonly<Record<string, TaskAttempts | undefined>>;
  return Object.hasOwn(record, taskId) ? record[taskId] : undefined;
}

/** Returns whether any attempt is a valid grid exactly equal to the truth; other shapes compare unequal. */
function isSolved(truth: Grid, attempts: readonly (Grid | null | undefined)[] | null | undefined): boolean {
  return (attempts ?? []).some((attempt) => isValidGrid(attempt) && gridsEqual(attempt, truth));
}

/**
 * Scores a batch. A task is scored only when every test input has ground
 * truth; other tasks are counted as unscored and excluded from both means.
 * Attempts match test inputs by index only. A scored task without attempts
 * (failed or missing) counts as zero.
 */
export function scoreBatch(tasks: readonly ScoringTask[], attemptsByTask: AttemptsByTask): BatchScore {
  const perTask: TaskScore[] = [];
  let scoredTasks = 0;
  let fractionSum = 0;
  let scoredTestInputs = 0;
  let solvedTestInputs = 0;

  for (const task of tasks) {
    const hasTruth = task.truths.length > 0 && task.truths.every((truth) => truth !== undefined);
    if (!hasTruth) {
      perTask.push({ taskId: task.taskId, correct: task.truths.map(() => null), solvedFraction: null });
      continue;
    }
    const attempts = attemptsFor(attemptsByTask, task.taskId) ?? [];
    const correct = task.truths.map((truth, index) => isSolved(truth as Grid, attempts[index]));
    const solved = correct.filter(Boolean).length;
    const solvedFraction = solved / correct.length;

    perTask.push({ taskId: task.taskId, correct, solvedFraction });
    scoredTasks += 1;
    fractionSum += solvedFraction;
    scoredTestInputs += correct.length;
    solvedTestInputs += solved;
  }

  return {
    score: scoredTestInputs > 0 ? solvedTestInputs / scoredTestInputs : null,
    taskScore: scoredTasks > 0 ? fractionSum / scoredTasks : null,
    scoredTasks,
    unscoredTasks: tasks.length - scoredTasks,
    scoredTestInputs,
    solvedTestInputs,
    perTask,
  };
}
