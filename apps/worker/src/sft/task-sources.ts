import { loadDataset, validateTaskMap, type SourcedTask } from "@nvarc/arc";

/** Most task problems quoted in the error about an invalid dataset. */
const QUOTED_PROBLEMS = 5;

/**
 * Loads and validates every task of the named datasets, in the given
 * dataset order and sorted task id order within each. `limitPerSource` keeps
 * only the first N task ids of each dataset. Throws when a dataset is
 * missing or a task file is invalid, quoting the first problems.
 */
export async function loadSourcedTasks(
  datasetsDir: string,
  names: readonly string[],
  limitPerSource?: number,
): Promise<SourcedTask[]> {
  const tasks: SourcedTask[] = [];
  for (const name of names) {
    const loaded = await loadDataset(datasetsDir, name, limitPerSource === undefined ? {} : { limit: limitPerSource });
    const { tasks: valid, problems } = validateTaskMap(loaded.tasks, name);
    if (problems.length > 0) {
      const quoted = problems.slice(0, QUOTED_PROBLEMS).map((p) => `${p.path}: ${p.message}`);
      throw new Error(`dataset ${name} has ${problems.length} invalid task entries: ${quoted.join("; ")}`);
    }
    for (const taskId of loaded.taskIds) {
      tasks.push({ source: name, taskId, task: valid[taskId] });
    }
  }
  return tasks;
}

/** Throws when a dataset is named twice or is both a source and an excluded dataset. */
export function checkDatasetLists(sources: readonly string[], excluded: readonly string[]): void {
  if (sources.length === 0) {
    throw new Error("no source dataset given; name at least one, for example arc-agi-1/training");
  }
  const seen = new Set<string>();
  for (const name of [...sources, ...excluded]) {
    if (seen.has(name)) {
      throw new Error(`dataset ${name} is named twice among the sources and exclusions; name it once`);
    }
    seen.add(name);
  }
}
