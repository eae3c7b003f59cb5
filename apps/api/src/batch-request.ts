import { DatasetError, loadDataset, validateTaskMap, type ArcTask } from "@nvarc/arc";
import { PRESET_NAMES, clonePreset, isPresetName, type EvalPreset, type ProblemDetail } from "@nvarc/contracts";
import { KNOWN_GPU_TYPES } from "@nvarc/cost";

/** Options stored with a batch: the preset resolved once, so replays use the same settings. */
export interface ResolvedBatchOptions {
  preset: string;
  presetSettings: EvalPreset;
  gpuType: string;
  budgetUsd?: number;
  modelId?: string;
}

export interface NormalizedBatchRequest {
  tasks: Record<string, ArcTask>;
  dataset: string | null;
  options: ResolvedBatchOptions;
}

export interface BatchRequestDefaults {
  datasetsDir: string;
  defaultPreset: string;
  defaultGpuType: string;
}

const OPTION_KEYS = ["modelId", "preset", "maxSeqLen", "maxNewTokens", "minProbability", "ttft", "gpuType", "budgetUsd"];
const BODY_KEYS = ["tasks", "dataset", "taskIds", "limit", "options"];

/**
 * Checks a POST /v1/batches body and resolves its tasks and options. Every problem
 * found is returned, not only the first, so one round trip shows them all.
 */
export async function normalizeBatchRequest(body: unknown, defaults: BatchRequestDefaults): Promise<{ request?: NormalizedBatchRequest; problems: ProblemDetail[] }> {
  if (!isPlainObject(body)) {
    return { problems: [problem("invalid_body", "", body === null ? null : typeof body, "the body must be a JSON object", 'Send {"tasks": {...}} or {"dataset": "arc-agi-1/evaluation"}.')] };
  }

  const problems: ProblemDetail[] = [];
  for (const key of Object.keys(body)) {
    if (!BODY_KEYS.includes(key)) problems.push(problem("unknown_field", key, key, `unknown field "${key}"`, `Use only ${BODY_KEYS.join(", ")}.`));
  }

  const options = resolveOptions(body.options, defaults, problems);
  const tasks = await resolveTasks(body, defaults.datasetsDir, problems);
  if (problems.length > 0 || !tasks || !options) return { problems };

  return { request: { tasks, dataset: typeof body.dataset === "string" ? body.dataset : null, options }, problems };
}

async function resolveTasks(body: Record<string, unknown>, datasetsDir: string, problems: ProblemDetail[]): Promise<Record<string, ArcTask> | undefined> {
  const hasTasks = body.tasks !== undefined;
  const hasDataset = body.dataset !== undefined;
  if (hasTasks === hasDataset) {
    problems.push(problem("tasks_or_dataset_required", "", null, hasTasks ? "both tasks and dataset are set" : "neither tasks nor dataset is set", 'Send either inline "tasks" keyed by task id or a "dataset" name such as "arc-agi-1/evaluation".'));
    return undefined;
  }

  const raw = hasTasks ? body.tasks : await readDataset(body, datasetsDir, problems);
  if (raw === undefined) return undefined;
  if (hasTasks && (body.taskIds !== undefined || body.limit !== undefined)) {
    problems.push(problem("selection_needs_dataset", body.taskIds !== undefined ? "taskIds" : "limit", null, "taskIds and limit select tasks of a dataset", "Leave them out when sending inline tasks."));
  }

  const { tasks, problems: taskProblems } = validateTaskMap(raw, "tasks");
  problems.push(...taskProblems);
  if (taskProblems.length === 0 && Object.keys(tasks).length === 0) {
    problems.push(problem("no_tasks", "tasks", 0, "the batch has no tasks", "Add at least one task."));
  }
  return tasks;
}

async function readDataset(body: Record<string, unknown>, datasetsDir: string, problems: ProblemDetail[]): Promise<Record<string, unknown> | undefined> {
  const { dataset, taskIds, limit } = body;
  if (typeof dataset !== "string") {
    problems.push(problem("invalid_dataset", "dataset", dataset, "dataset must be a string", 'Use a folder name under NVARC_DATASETS_DIR, e.g. "arc-agi-1/evaluation".'));
    return undefined;
  }
  if (taskIds !== undefined && !(Array.isArray(taskIds) && taskIds.length > 0 && taskIds.every((id) => typeof id === "string"))) {
    problems.push(problem("invalid_task_ids", "taskIds", taskIds, "taskIds must be a non-empty list of strings", 'Example: ["00576224", "009d5c81"].'));
    return undefined;
  }
  if (limit !== undefined && !(Number.isInteger(limit) && (limit as number) >= 1)) {
    problems.push(problem("invalid_limit", "limit", limit, "limit must be an integer of at least 1", "Use e.g. 10, or leave it out for the whole dataset."));
    return undefined;
  }

  try {
    const loaded = await loadDataset(datasetsDir, dataset, { taskIds: taskIds as string[] | undefined, limit: limit as number | undefined });
    return loaded.tasks;
  } catch (error) {
    if (!(error instanceof DatasetError)) throw error;
    const onTaskIds = error.code === "task_not_found";
    problems.push(problem(error.code, onTaskIds ? "taskIds" : "dataset", onTaskIds ? taskIds : dataset, error.message, `Datasets are folders of task files under NVARC_DATASETS_DIR (${datasetsDir}).`));
    return undefined;
  }
}

function resolveOptions(raw: unknown, defaults: BatchRequestDefaults, problems: ProblemDetail[]): ResolvedBatchOptions | undefined {
  if (raw !== undefined && !isPlainObject(raw)) {
    problems.push(problem("invalid_options", "options", raw, "options must be an object", `Use keys ${OPTION_KEYS.join(", ")}.`));
    return undefined;
  }
  const options = (raw ?? {}) as Record<string, unknown>;
  const before = problems.length;

  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) problems.push(problem("unknown_option", `options.${key}`, key, `unknown option "${key}"`, `Use only ${OPTION_KEYS.join(", ")}.`));
  }
  const presetName = options.preset ?? defaults.defaultPreset;
  if (!isPresetName(presetName)) {
    problems.push(problem("unknown_preset", "options.preset", presetName, `unknown preset "${String(presetName)}"`, `Use one of ${PRESET_NAMES.join(", ")}.`));
  }
  checkNumber(options, "maxSeqLen", problems, (value) => Number.isInteger(value) && value >= 64 && value <= 131072, "an integer from 64 to 131072 tokens");
  checkNumber(options, "maxNewTokens", problems, (value) => Number.isInteger(value) && value >= 2 && value <= 4096, "an integer from 2 to 4096 tokens (a 30x30 grid needs 930)");
  checkNumber(options, "minProbability", problems, (value) => value > 0 && value < 1, "a number between 0 and 1, e.g. 0.2");
  checkNumber(options, "budgetUsd", problems, (value) => value > 0, "a positive amount in USD");
  const gpuType = options.gpuType ?? defaults.defaultGpuType;
  if (typeof gpuType !== "string" || !(KNOWN_GPU_TYPES as readonly string[]).includes(gpuType)) {
    problems.push(problem("unknown_gpu_type", "options.gpuType", gpuType, `unknown GPU type "${String(gpuType)}"`, `Use one of ${KNOWN_GPU_TYPES.join(", ")}.`));
  }
  if (options.ttft !== undefined && typeof options.ttft !== "boolean") {
    problems.push(problem("invalid_ttft", "options.ttft", options.ttft, "ttft must be true or false", "Set false to decode and score with the model as it is, or leave it out to fine-tune per task."));
  }
  if (options.modelId !== undefined && typeof options.modelId !== "string") {
    problems.push(problem("invalid_model_id", "options.modelId", options.modelId, "modelId must be a string", "Use an id listed by GET /v1/models, or leave it out for the default model."));
  }
  if (problems.length > before || !isPresetName(presetName)) return undefined;

  const presetSettings = clonePreset(presetName);
  if (options.maxSeqLen !== undefined) presetSettings.maxSeqLen = options.maxSeqLen as number;
  if (options.minProbability !== undefined) presetSettings.decode.minProbability = options.minProbability as number;
  if (options.maxNewTokens !== undefined) presetSettings.decode.maxNewTokens = options.maxNewTokens as number;
  // A stored preset with zero TTFT epochs means "no per-task adapter".
  if (options.ttft === false) presetSettings.ttft.epochs = 0;
  return { preset: presetName, presetSettings, gpuType: gpuType as string, budgetUsd: options.budgetUsd as number | undefined, modelId: options.modelId as string | undefined };
}

function checkNumber(options: Record<string, unknown>, key: string, problems: ProblemDetail[], valid: (value: number) => boolean, rule: string): void {
  const value = options[key];
  if (value === undefined) return;
  if (typeof value !== "number" || !valid(value)) {
    problems.push(problem(`invalid_${key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)}`, `options.${key}`, value, `${key} must be ${rule}`, `Set ${key} to ${rule}, or leave it out for the preset's value.`));
  }
}

function problem(code: string, path: string, value: unknown, message: string, hint: string): ProblemDetail {
  return { code, taskId: null, path, value, message, hint };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
