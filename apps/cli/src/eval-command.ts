import fs from "node:fs/promises";
import path from "node:path";
import { renderSummary, renderTaskTable, type TaskRow } from "./report.ts";

/** Options of `nvarc eval`. */
export interface EvalOptions {
  apiUrl: string;
  dataset?: string;
  tasksFile?: string;
  taskIds?: string[];
  limit?: number;
  preset?: string;
  modelId?: string;
  gpuType?: string;
  minProbability?: number;
  /** false skips TTFT; undefined keeps the preset's. */
  ttft?: boolean;
  out: string;
  /** Milliseconds between status polls. */
  pollMs: number;
  print: (line: string) => void;
}

/** Submits a batch over REST, follows it to the end, prints the table and writes submission.json. */
export async function runEval(options: EvalOptions): Promise<{ batch: any; tasks: TaskRow[] }> {
  const startedAt = Date.now();
  const body = await buildBody(options);
  const created = await request(options.apiUrl, "POST", "/v1/batches", body);
  options.print(`submitted batch ${created.id} with ${created.taskCount} task${created.taskCount === 1 ? "" : "s"}`);

  const batch = await followBatch(options, created.id);
  const tasks = await fetchAllTasks(options.apiUrl, created.id);
  const submission = await request(options.apiUrl, "GET", `/v1/batches/${created.id}/submission.json?partial=true`);

  const out = path.resolve(options.out);
  await fs.mkdir(path.dirname(out), { recursive: true });
  await fs.writeFile(out, JSON.stringify(submission));

  options.print("");
  options.print(renderTaskTable(tasks));
  options.print("");
  options.print(renderSummary(batch, (Date.now() - startedAt) / 1000, out));
  return { batch, tasks };
}

async function buildBody(options: EvalOptions): Promise<Record<string, unknown>> {
  const batchOptions: Record<string, unknown> = {};
  if (options.preset) batchOptions.preset = options.preset;
  if (options.modelId) batchOptions.modelId = options.modelId;
  if (options.gpuType) batchOptions.gpuType = options.gpuType;
  if (options.minProbability !== undefined) batchOptions.minProbability = options.minProbability;
  if (options.ttft !== undefined) batchOptions.ttft = options.ttft;

  if (options.tasksFile) {
    const tasks = JSON.parse(await fs.readFile(options.tasksFile, "utf8"));
    return { tasks: tasks.tasks ?? tasks, options: batchOptions };
  }
  return { dataset: options.dataset, taskIds: options.taskIds, limit: options.limit, options: batchOptions };
}

async function followBatch(options: EvalOptions, batchId: string): Promise<any> {
  let reported = -1;
  for (;;) {
    const batch = await request(options.apiUrl, "GET", `/v1/batches/${batchId}`);
    const done = (batch.progress.completed ?? 0) + (batch.progress.failed ?? 0) + (batch.progress.cancelled ?? 0);
    if (done !== reported) {
      options.print(`  ${batch.state}: ${done}/${batch.taskCount} tasks finished, $${batch.cost.usd.toFixed(6)} so far`);
      reported = done;
    }
    if (batch.state === "completed" || batch.state === "cancelled") return batch;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
}

/** Returns every task of a batch, following the API's pages. */
export async function fetchAllTasks(apiUrl: string, batchId: string): Promise<TaskRow[]> {
  const rows: TaskRow[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? "?limit=100" : `?limit=100&cursor=${cursor}`;
    const page = await request(apiUrl, "GET", `/v1/batches/${batchId}/tasks${query}`);
    rows.push(...page.tasks);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return rows;
}

/** Sends a JSON request and returns the parsed body; a non-2xx response throws with the API's message and problems. */
export async function request(apiUrl: string, method: string, route: string, body?: unknown): Promise<any> {
  const response = await fetch(new URL(route, apiUrl), {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const problems = (parsed?.problems ?? []).map((problem: any) => `  - ${problem.path}: ${problem.message}. ${problem.hint}`);
    throw new Error([`${method} ${route} failed with HTTP ${response.status}: ${parsed?.message ?? text}`, ...problems].join("\n"));
  }
  return parsed;
}
