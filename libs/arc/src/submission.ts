import { isValidGrid } from "./grid.ts";
import { attemptsFor, type AttemptsByTask } from "./scoring.ts";
import type { Grid } from "./types.ts";

/** Grid submitted for any attempt that does not exist, as in the Kaggle sample submission. */
export const PLACEHOLDER_GRID: readonly (readonly number[])[] = Object.freeze([Object.freeze([0])]);

/** The two attempts for one test input. */
export interface SubmissionEntry {
  attempt_1: Grid;
  attempt_2: Grid;
}

/** Kaggle submission: per task id, one entry per test input in test order. */
export type Submission = Record<string, SubmissionEntry[]>;

/** A task of a batch as the submission needs it. */
export interface SubmissionTask {
  taskId: string;
  /** Number of test inputs; the task's entry list has this length. */
  testCount: number;
}

/** One thing wrong with a submission object. */
export interface SubmissionProblem {
  /** JSON path, for example `f8000001[1].attempt_2`. */
  path: string;
  message: string;
}

function placeholder(): Grid {
  return PLACEHOLDER_GRID.map((row) => row.slice());
}

function attemptOrPlaceholder(attempt: unknown): Grid {
  return isValidGrid(attempt) ? attempt.map((row) => row.slice()) : placeholder();
}

/**
 * Builds the Kaggle submission of a batch. Every task id is a key, failed
 * tasks included. Each list has one entry per test input, in test order, and
 * every entry has both attempts. A missing attempt, or one that is not a
 * valid grid, becomes PLACEHOLDER_GRID ([[0]]), never null or [].
 */
export function buildSubmission(tasks: readonly SubmissionTask[], attemptsByTask: AttemptsByTask): Submission {
  const submission: Submission = {};
  for (const { taskId, testCount } of tasks) {
    const attempts = attemptsFor(attemptsByTask, taskId) ?? [];
    submission[taskId] = Array.from({ length: testCount }, (_, index) => {
      const forInput = attempts[index] ?? [];
      return { attempt_1: attemptOrPlaceholder(forInput[0]), attempt_2: attemptOrPlaceholder(forInput[1]) };
    });
  }
  return submission;
}

const ATTEMPT_KEYS = ["attempt_1", "attempt_2"];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Checks a submission object against its task list and returns every problem
 * found, so an empty list means the submission is well-formed. The object must
 * have exactly the task ids as keys. Each task needs a list of testCount
 * entries, and each entry exactly attempt_1 and attempt_2, both valid grids.
 */
export function validateSubmission(value: unknown, tasks: readonly SubmissionTask[]): SubmissionProblem[] {
  if (!isPlainObject(value)) {
    return [{ path: "", message: "submission is not an object keyed by task id" }];
  }
  const problems: SubmissionProblem[] = [];
  const expected = new Set(tasks.map((task) => task.taskId));
  for (const key of Object.keys(value)) {
    if (!expected.has(key)) {
      problems.push({ path: key, message: `unexpected task id ${JSON.stringify(key)}` });
    }
  }
  for (const { taskId, testCount } of tasks) {
    const entries = Object.hasOwn(value, taskId) ? value[taskId] : undefined;
    problems.push(...validateTaskEntries(entries, taskId, testCount));
  }
  return problems;
}

function validateTaskEntries(entries: unknown, taskId: string, testCount: number): SubmissionProblem[] {
  if (entries === undefined) {
    return [{ path: taskId, message: "task id is missing" }];
  }
  if (!Array.isArray(entries)) {
    return [{ path: taskId, message: "expected a list of attempt objects" }];
  }
  const problems: SubmissionProblem[] = [];
  if (entries.length !== testCount) {
    problems.push({ path: taskId, message: `has ${entries.length} entries, the task has ${testCount} test inputs` });
  }
  entries.forEach((entry, index) => {
    const path = `${taskId}[${index}]`;
    if (!isPlainObject(entry)) {
      problems.push({ path, message: "expected an object with attempt_1 and attempt_2" });
      return;
    }
    for (const key of Object.keys(entry)) {
      if (!ATTEMPT_KEYS.includes(key)) {
        problems.push({ path: `${path}.${key}`, message: "unexpected key; an entry contains only attempt_1 and attempt_2" });
      }
    }
    for (const key of ATTEMPT_KEYS) {
      if (!isValidGrid(entry[key])) {
        problems.push({ path: `${path}.${key}`, message: "missing or not a valid grid (1–30 rows of 1–30 integers 0–9)" });
      }
    }
  });
  return problems;
}
