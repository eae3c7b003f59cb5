import { readdir, readFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";

/** Environment variable naming the folder that contains the ARC dataset splits. */
export const DATASETS_DIR_ENV = "NVARC_DATASETS_DIR";

/** Options of loadDataset. */
export interface LoadDatasetOptions {
  /** Load only these task ids; an id without a file is an error. */
  taskIds?: readonly string[];
  /** Load at most this many tasks, the first by sorted id (after the taskIds filter). */
  limit?: number;
}

/** Raw task files of one dataset split, not yet validated. */
export interface LoadedDataset {
  /** Dataset name, for example "arc-agi-1/evaluation". */
  name: string;
  /** Folder the files were read from. */
  dir: string;
  /** Task ids in ascending code-unit order; the order to process tasks in. */
  taskIds: string[];
  /** Parsed JSON of each task file, keyed by task id. */
  tasks: Record<string, unknown>;
}

/** Error of loadDataset, with a stable code. */
export class DatasetError extends Error {
  constructor(
    readonly code: "invalid_dataset_name" | "dataset_not_found" | "task_not_found" | "invalid_task_file",
    message: string,
  ) {
    super(message);
    this.name = "DatasetError";
  }
}

const NAME_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Throws DatasetError unless `name` is a relative path of plain segments (no "..", no absolute path). */
export function checkDatasetName(name: string): void {
  const segments = name.split("/");
  const valid =
    name.length > 0 &&
    !isAbsolute(name) &&
    segments.every((segment) => NAME_SEGMENT.test(segment) && segment !== "." && segment !== "..");
  if (!valid) {
    throw new DatasetError(
      "invalid_dataset_name",
      `invalid dataset name ${JSON.stringify(name)}; use a relative folder such as "arc-agi-1/evaluation" without "..".`,
    );
  }
}

async function listTaskIds(dir: string, name: string): Promise<string[]> {
  try {
    const files = await readdir(dir);
    return files
      .filter((file) => file.endsWith(".json"))
      .map((file) => file.slice(0, -".json".length))
      .sort(); // The default sort compares UTF-16 code units, independent of the locale.
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    const root = dir.slice(0, dir.length - name.length);
    const known = await listDatasetNames(root);
    const hint = known.length > 0
      ? `Datasets found there: ${known.join(", ")}`
      : `Set ${DATASETS_DIR_ENV} to the folder that contains arc-agi-1/ and arc-agi-2/`;
    throw new DatasetError(
      "dataset_not_found",
      `dataset ${JSON.stringify(name)} not found: cannot read folder ${dir} (${reason}). ${hint}.`,
    );
  }
}

/** Lists the two-level folder names under `root` (e.g. "arc-agi-1/evaluation"); empty when unreadable. */
async function listDatasetNames(root: string): Promise<string[]> {
  try {
    const names: string[] = [];
    for (const entry of await readdir(root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const splits = await readdir(join(root, entry.name), { withFileTypes: true });
      names.push(...splits.filter((split) => split.isDirectory()).map((split) => `${entry.name}/${split.name}`));
    }
    return names.sort();
  } catch {
    // An unreadable root is reported by the caller's message, which then names the variable.
    return [];
  }
}

function chooseTaskIds(available: string[], name: string, options: LoadDatasetOptions): string[] {
  let chosen = available;
  if (options.taskIds !== undefined) {
    const known = new Set(available);
    const unknown = options.taskIds.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new DatasetError(
        "task_not_found",
        `dataset ${JSON.stringify(name)} has no task ${unknown.map((id) => JSON.stringify(id)).join(", ")}`,
      );
    }
    const requested = new Set(options.taskIds);
    chosen = available.filter((id) => requested.has(id));
  }
  if (options.limit !== undefined) {
    if (!Number.isInteger(options.limit) || options.limit < 0) {
      throw new RangeError(`limit must be a non-negative integer, got ${options.limit}`);
    }
    chosen = chosen.slice(0, options.limit);
  }
  return chosen;
}

/**
 * Reads the task files `<datasetsDir>/<name>/<taskId>.json` of one dataset
 * split, sorted by task id, and returns their parsed JSON unvalidated (run
 * validateTaskMap on `tasks`). Throws DatasetError when the name is not a
 * plain relative path, the folder is missing, a requested id has no file, or
 * a file is not JSON.
 */
export async function loadDataset(
  datasetsDir: string,
  name: string,
  options: LoadDatasetOptions = {},
): Promise<LoadedDataset> {
  checkDatasetName(name);
  const dir = join(datasetsDir, name);
  const taskIds = chooseTaskIds(await listTaskIds(dir, name), name, options);

  const tasks: Record<string, unknown> = {};
  for (const taskId of taskIds) {
    const file = join(dir, `${taskId}.json`);
    const text = await readFile(file, "utf8");
    try {
      // defineProperty keeps an id such as "__proto__" an ordinary own key.
      Object.defineProperty(tasks, taskId, { value: JSON.parse(text), enumerable: true, writable: true, configurable: true });
    } catch (error) {
      throw new DatasetError("invalid_task_file", `task file ${file} is not valid JSON: ${(error as Error).message}`);
    }
  }
  return { name, dir, taskIds, tasks };
}
