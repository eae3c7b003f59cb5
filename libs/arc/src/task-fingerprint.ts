import { gridKey } from "./grid.ts";
import { taskPairs } from "./sft-samples.ts";
import type { ArcTask, Pair } from "./types.ts";

/** A task with where it came from, for leakage checks and de-duplication. */
export interface SourcedTask {
  /** Dataset name, for example "arc-agi-2/training". */
  source: string;
  taskId: string;
  task: ArcTask;
}

/** A source task that matches an excluded task. */
export interface LeakMatch {
  /** `<source>/<taskId>` of the source task. */
  task: string;
  /** `<source>/<taskId>` of the excluded task it matches, or the bare id excluded by the caller. */
  matches: string;
}

/** Source tasks to drop: `byContent` match an excluded task's pairs, `byId` only its id. */
export interface LeakReport {
  byContent: LeakMatch[];
  byId: LeakMatch[];
}

/** Two tasks with the same content; the later one is dropped. */
export interface TaskMerge {
  /** `<source>/<taskId>` of the task kept. */
  kept: string;
  /** `<source>/<taskId>` of the task dropped. */
  dropped: string;
  reason: "same_content";
}

/** Returns `<source>/<taskId>`, the name of a task across datasets. */
export function qualifiedTaskId(task: Pick<SourcedTask, "source" | "taskId">): string {
  return `${task.source}/${task.taskId}`;
}

/** Returns the canonical key of a pair: input and output grid keys joined by ">". Equal pairs have equal keys. */
export function pairKey(pair: Pair): string {
  return `${gridKey(pair.input)}>${gridKey(pair.output)}`;
}

/**
 * Returns the content key of a task: the sorted keys of all its pairs (train
 * pairs and test pairs with a known output) joined by "|". The key ignores
 * pair order and whether a pair is a train or a test pair, so a task with
 * reordered pairs has the same key.
 */
export function taskContentKey(task: ArcTask): string {
  return taskPairs(task).map(pairKey).sort().join("|");
}

/**
 * Finds the source tasks that leak an excluded task. A source task matches by
 * content when its content key equals an excluded task's, whatever the ids.
 * Otherwise it matches by id when its id equals an excluded task's id or one
 * of `excludedTaskIds`, which catches a task whose cells were corrected.
 * Each source task is reported once, in source order.
 */
export function findLeaks(
  sourceTasks: readonly SourcedTask[],
  excludedTasks: readonly SourcedTask[],
  excludedTaskIds: readonly string[] = [],
): LeakReport {
  const byKey = new Map<string, string>();
  const byTaskId = new Map<string, string>();
  for (const excluded of excludedTasks) {
    const key = taskContentKey(excluded.task);
    if (!byKey.has(key)) {
      byKey.set(key, qualifiedTaskId(excluded));
    }
    if (!byTaskId.has(excluded.taskId)) {
      byTaskId.set(excluded.taskId, qualifiedTaskId(excluded));
    }
  }
  for (const taskId of excludedTaskIds) {
    byTaskId.set(taskId, taskId);
  }

  const report: LeakReport = { byContent: [], byId: [] };
  for (const source of sourceTasks) {
    const contentMatch = byKey.get(taskContentKey(source.task));
    const idMatch = byTaskId.get(source.taskId);
    if (contentMatch !== undefined) {
      report.byContent.push({ task: qualifiedTaskId(source), matches: contentMatch });
    } else if (idMatch !== undefined) {
      report.byId.push({ task: qualifiedTaskId(source), matches: idMatch });
    }
  }
  return report;
}

/**
 * Keeps one task per content key: the first in the given order. Every later
 * task with the same key is dropped and recorded as a merge into the kept one.
 */
export function deduplicateTasks(tasks: readonly SourcedTask[]): { kept: SourcedTask[]; merges: TaskMerge[] } {
  const firstByKey = new Map<string, SourcedTask>();
  const kept: SourcedTask[] = [];
  const merges: TaskMerge[] = [];
  for (const task of tasks) {
    const key = taskContentKey(task.task);
    const first = firstByKey.get(key);
    if (first === undefined) {
      firstByKey.set(key, task);
      kept.push(task);
    } else {
      merges.push({ kept: qualifiedTaskId(first), dropped: qualifiedTaskId(task), reason: "same_content" });
    }
  }
  return { kept, merges };
}
