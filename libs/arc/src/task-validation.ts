import { copyGrid } from "./grid.ts";
import { validateGrid } from "./grid-validation.ts";
import {
  describeValue,
  indexPath,
  jsonTypeName,
  keyPath,
  MAX_PROBLEMS_PER_TASK,
  MAX_PROBLEMS_TOTAL,
  ProblemCollector,
  type TaskProblem,
  type TaskProblemCode,
} from "./task-problems.ts";
import type { ArcTask, Grid, Pair, TestInput } from "./types.ts";

/**
 * Allowed task ids: 1-64 characters of letters, digits, '_', '.' and '-',
 * starting with a letter or digit. The ':' is excluded because queue job ids
 * are `<batchId>_<taskId>` and BullMQ rejects custom job ids containing ':'.
 */
export const TASK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Result of validating one task: the clean task when it has no problem, else null. */
export interface TaskValidation {
  task: ArcTask | null;
  problems: TaskProblem[];
}

/** Result of validating a task map: the valid tasks (unknown keys dropped) and every problem found. */
export interface TaskMapValidation {
  tasks: Record<string, ArcTask>;
  problems: TaskProblem[];
}

type Fields = Omit<TaskProblem, "taskId" | "path">;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function looksLikePair(value: unknown): boolean {
  return isPlainObject(value) && "input" in value && "output" in value;
}

/**
 * Validates a map of tasks keyed by task id, as sent in a batch body.
 * Every task is checked and every problem collected, up to
 * MAX_PROBLEMS_PER_TASK (100) per task and MAX_PROBLEMS_TOTAL (1000) in all;
 * a `problems_truncated` entry marks each cut. Tasks with problems are left
 * out of `tasks`; the caller decides whether one bad task rejects the batch.
 * `basePath` is the JSON path of the map in the request body.
 */
export function validateTaskMap(value: unknown, basePath = "tasks"): TaskMapValidation {
  const tasks: Record<string, ArcTask> = {};
  const all = new ProblemCollector(MAX_PROBLEMS_TOTAL, null, basePath);
  if (!isPlainObject(value)) {
    all.add({
      code: "tasks_not_object",
      taskId: null,
      path: basePath,
      value: describeValue(value),
      message: `expected an object keyed by task id, got ${jsonTypeName(value)}`,
      hint: 'Send tasks as {"<taskId>": {"train": [...], "test": [...]}}.',
    });
    return { tasks, problems: all.finish() };
  }

  const entries = Object.entries(value);
  if (entries.length === 0) {
    all.add({
      code: "tasks_empty",
      taskId: null,
      path: basePath,
      value: "0 tasks",
      message: "needs at least 1 task",
      hint: 'Add a task as {"<taskId>": {"train": [...], "test": [...]}}.',
    });
  }

  for (const [taskId, taskValue] of entries) {
    if (all.full) {
      all.markStoppedEarly();
      break;
    }
    const result = validateTask(taskId, taskValue, keyPath(basePath, taskId));
    result.problems.forEach((p) => all.add(p));
    if (result.task !== null) {
      tasks[taskId] = result.task;
    }
  }
  return { tasks, problems: all.finish() };
}

/**
 * Validates one task: the id, then `train` (at least one {input, output}
 * pair) and `test` (at least one {input, output?} item), and every grid in
 * them. Unknown keys are ignored and dropped from the returned task. At most
 * `maxProblems` problems are listed, plus one `problems_truncated` entry.
 */
export function validateTask(
  taskId: string,
  value: unknown,
  path: string,
  maxProblems = MAX_PROBLEMS_PER_TASK,
): TaskValidation {
  const collector = new ProblemCollector(maxProblems, taskId, path);
  const add = (at: string, fields: Fields) => collector.add({ taskId, path: at, ...fields });

  if (!TASK_ID_PATTERN.test(taskId)) {
    add(path, {
      code: "invalid_task_id",
      value: describeValue(taskId),
      message: `${JSON.stringify(describeValue(taskId))} is not a valid task id; ids are 1–64 letters, digits, '_', '.' or '-' and start with a letter or digit`,
      hint: "Rename the task, for example replace ':' and spaces with '_'.",
    });
  }
  if (!isPlainObject(value)) {
    add(path, {
      code: "task_not_object",
      value: describeValue(value),
      message: `expected an object with \`train\` and \`test\`, got ${describeNonTask(value)}`,
      hint: 'Write the task as {"train": [{"input": ..., "output": ...}], "test": [{"input": ...}]}.',
    });
    return { task: null, problems: collector.finish() };
  }

  const train = validatePairList(value.train, keyPath(path, "train"), "train", collector, taskId);
  const test = validatePairList(value.test, keyPath(path, "test"), "test", collector, taskId);
  if (collector.found > 0) {
    return { task: null, problems: collector.finish() };
  }
  return { task: { train: train as Pair[], test }, problems: [] };
}

function describeNonTask(value: unknown): string {
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every(looksLikePair)) {
      return `a list of ${value.length} input/output pairs`;
    }
    return `a list of ${value.length} items`;
  }
  return jsonTypeName(value);
}

const LIST_RULES = {
  train: {
    missing: "train_missing",
    notArray: "train_not_array",
    empty: "train_empty",
    itemNotObject: "pair_not_object",
    noun: "pair",
    example: '[{"input": [[0]], "output": [[1]]}]',
  },
  test: {
    missing: "test_missing",
    notArray: "test_not_array",
    empty: "test_empty",
    itemNotObject: "test_input_not_object",
    noun: "test input",
    example: '[{"input": [[0]]}]',
  },
} as const;

/** Checks a `train` or `test` list and its items; returns the items' grids copied. */
function validatePairList(
  value: unknown,
  path: string,
  kind: "train" | "test",
  collector: ProblemCollector,
  taskId: string,
): TestInput[] {
  const rules = LIST_RULES[kind];
  const add = (at: string, fields: Fields) => collector.add({ taskId, path: at, ...fields });
  const hint = `Give \`${kind}\` as a list of ${rules.noun}s, e.g. ${rules.example}.`;
  if (value === undefined) {
    add(path, { code: rules.missing, value: null, message: `\`${kind}\` is missing`, hint });
    return [];
  }
  if (!Array.isArray(value)) {
    const message = `expected a list of ${rules.noun}s, got ${jsonTypeName(value)}`;
    add(path, { code: rules.notArray, value: describeValue(value), message, hint });
    return [];
  }
  if (value.length === 0) {
    add(path, { code: rules.empty, value: "0 items", message: `needs at least 1 ${rules.noun}`, hint });
    return [];
  }

  const items: TestInput[] = [];
  value.forEach((item, index) => {
    const itemPath = indexPath(path, index);
    if (!isPlainObject(item)) {
      const message = `expected a ${rules.noun} object with \`input\`${kind === "train" ? " and `output`" : ""}, got ${jsonTypeName(item)}`;
      add(itemPath, { code: rules.itemNotObject, value: describeValue(item), message, hint });
      return;
    }
    const input = checkGridField(item, "input", itemPath, true, collector, taskId);
    const output = checkGridField(item, "output", itemPath, kind === "train", collector, taskId);
    // A missing input is already a problem, so the placeholder never reaches a caller.
    const inputGrid = input ?? [];
    items.push(output === undefined ? { input: inputGrid } : { input: inputGrid, output });
  });
  return items;
}

/** Checks one grid field of a pair; returns a copy of the grid, or undefined when the field is absent. */
function checkGridField(
  item: Record<string, unknown>,
  field: "input" | "output",
  itemPath: string,
  required: boolean,
  collector: ProblemCollector,
  taskId: string,
): Grid | undefined {
  const value = item[field];
  const path = keyPath(itemPath, field);
  if (value === undefined) {
    if (required) {
      const code: TaskProblemCode = field === "input" ? "input_missing" : "output_missing";
      collector.add({
        code,
        taskId,
        path,
        value: null,
        message: `\`${field}\` grid is missing`,
        hint: `Add the \`${field}\` grid, a list of rows of integers 0–9.`,
      });
    }
    return undefined;
  }
  const before = collector.found;
  validateGrid(value, { taskId, path, collector });
  return collector.found === before ? copyGrid(value as Grid) : [];
}
