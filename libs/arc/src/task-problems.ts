/**
 * Stable codes of task validation problems, each with what it means.
 * Codes are never renamed or reused, so clients can match on them.
 */
export const TASK_PROBLEM_CODES = {
  tasks_not_object: "The tasks value is not an object keyed by task id.",
  tasks_empty: "The tasks object holds no task.",
  invalid_task_id:
    "A task id is not 1-64 characters of letters, digits, '_', '.' or '-' starting with a letter or digit.",
  task_not_object: "A task is not an object with `train` and `test`.",
  train_missing: "A task has no `train` list.",
  train_not_array: "A task's `train` is not a list of pairs.",
  train_empty: "A task's `train` list holds no pair.",
  test_missing: "A task has no `test` list.",
  test_not_array: "A task's `test` is not a list of test inputs.",
  test_empty: "A task's `test` list holds no test input.",
  pair_not_object: "A `train` item is not an object with `input` and `output`.",
  test_input_not_object: "A `test` item is not an object with `input` (and an optional `output`).",
  input_missing: "A pair or test item has no `input` grid.",
  output_missing: "A `train` pair has no `output` grid.",
  grid_not_array: "A grid is not a list of rows.",
  grid_rows_out_of_range: "A grid has fewer than 1 or more than 30 rows.",
  row_not_array: "A grid row is not a list of cells.",
  row_cells_out_of_range: "A grid row has fewer than 1 or more than 30 cells.",
  ragged_row: "A grid row has a different number of cells than the grid's first row.",
  cell_not_integer: "A cell is not a JSON integer (strings, null, booleans and fractions are rejected).",
  cell_out_of_range: "A cell is an integer outside the colors 0-9.",
  problems_truncated: "More problems were found than the report lists; the rest were left out.",
} as const;

/** One of the stable task problem codes. */
export type TaskProblemCode = keyof typeof TASK_PROBLEM_CODES;

/** One thing wrong with submitted tasks, addressed by task id and JSON path. */
export interface TaskProblem {
  /** Stable machine-readable code, a key of TASK_PROBLEM_CODES. */
  code: TaskProblemCode;
  /** Id of the task the problem belongs to; null when it concerns the whole tasks value. */
  taskId: string | null;
  /** JSON path of the bad value, for example `tasks.b1000003.train[0].input[0][1]`. */
  path: string;
  /** The bad value when it is small, else a measured size or a short description ("31 rows"). */
  value: unknown;
  /** Description of the fault with the rule it breaks, for example "31 rows; a grid has 1–30 rows". */
  message: string;
  /** How to fix it. */
  hint: string;
}

/** Maximum problems listed per task; one `problems_truncated` entry follows when more exist. */
export const MAX_PROBLEMS_PER_TASK = 100;

/** Maximum problems listed in one report; one `problems_truncated` entry follows when more exist. */
export const MAX_PROBLEMS_TOTAL = 1000;

const MAX_STRING_VALUE_CHARS = 64;
const MAX_LISTED_KEYS = 5;
const IDENTIFIER_KEY = /^[A-Za-z0-9_]+$/;

/** Returns a JSON path extended by an object key: `a.key`, or `a["odd key"]` when the key is not a plain word. */
export function keyPath(base: string, key: string): string {
  return IDENTIFIER_KEY.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

/** Returns a JSON path extended by a list index: `a[3]`. */
export function indexPath(base: string, index: number): string {
  return `${base}[${index}]`;
}

/**
 * Returns a small JSON-safe stand-in for a bad value: numbers, booleans and
 * null as they are, strings cut to 64 characters, lists and objects as a
 * short description, so a report never repeats a large input.
 */
export function describeValue(value: unknown): unknown {
  if (value === null || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  if (typeof value === "string") {
    return value.length > MAX_STRING_VALUE_CHARS ? `${value.slice(0, MAX_STRING_VALUE_CHARS)}…` : value;
  }
  if (Array.isArray(value)) {
    return `list of ${value.length} items`;
  }
  if (typeof value === "object") {
    const keys = Object.keys(value as object);
    const listed = keys.slice(0, MAX_LISTED_KEYS).join(", ");
    const more = keys.length > MAX_LISTED_KEYS ? `, … (${keys.length} keys)` : "";
    return keys.length === 0 ? "empty object" : `object with keys ${listed}${more}`;
  }
  return typeof value;
}

/** Returns the JSON type name of a value for messages: list, object, string, number, boolean or null. */
export function jsonTypeName(value: unknown): string {
  if (value === null) {
    return "null";
  }
  if (Array.isArray(value)) {
    return "list";
  }
  return typeof value;
}

/**
 * Collects problems up to a cap. Once the cap is reached, further problems
 * are counted but not stored, and `finish` appends one `problems_truncated` entry.
 */
export class ProblemCollector {
  readonly problems: TaskProblem[] = [];
  private omitted = 0;

  constructor(
    private readonly maxProblems: number,
    private readonly taskId: string | null,
    private readonly path: string,
  ) {}

  /** Whether the cap is reached, so callers can stop scanning a large input early. */
  get full(): boolean {
    return this.problems.length >= this.maxProblems;
  }

  /** Number of problems found so far, stored or not. */
  get found(): number {
    return this.problems.length + this.omitted;
  }

  /** Stores a problem, or counts it as omitted when the cap is reached. */
  add(problem: TaskProblem): void {
    if (this.full) {
      this.omitted += 1;
      return;
    }
    this.problems.push(problem);
  }

  /** Records that scanning stopped early with problems possibly left unfound. */
  markStoppedEarly(): void {
    this.omitted = Math.max(this.omitted, 1);
  }

  /** Returns the stored problems plus a `problems_truncated` entry when any were left out. */
  finish(): TaskProblem[] {
    if (this.omitted === 0) {
      return this.problems;
    }
    return [
      ...this.problems,
      {
        code: "problems_truncated",
        taskId: this.taskId,
        path: this.path,
        value: `${this.maxProblems} problems listed`,
        message: `more than ${this.maxProblems} problems; the rest are not listed`,
        hint: "Fix the listed problems and submit again to see the rest.",
      },
    ];
  }
}
