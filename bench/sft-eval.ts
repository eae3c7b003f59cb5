// Accuracy of a model on the fixed 100-task ARC-AGI-1 evaluation list, with or without
// TTFT, through the evaluation path (embedded stack, REST, worker, sidecar).
//
//   npm run bench:sft -- --name trained-ttft --model tiny-arc --preset test
//   npm run bench:sft -- --name trained-no-ttft --model tiny-arc --preset test --no-ttft
//
// Each finished task is appended to bench/results/<name>.jsonl as soon as the API
// reports it, so an interrupted run resumes: a rerun with the same name skips the ids
// already in the file and submits only the rest. A rerun must use the same model,
// preset and TTFT setting; the script rejects a mismatch. At the end it prints both
// scores and the seconds per task over every row in the file.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { createLogger } from "@nvarc/telemetry";
import { startEmbeddedStack } from "../apps/cli/src/embedded.ts";
import { fetchAllTasks, request } from "../apps/cli/src/eval-command.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const TASK_LIST = path.join(REPO_ROOT, "bench/arc-agi-1-eval-100.txt");
const DATASET = "arc-agi-1/evaluation";

/** One finished task, as stored in the results file. */
interface TaskResult {
  taskId: string;
  modelId: string;
  preset: string;
  ttft: boolean;
  state: string;
  testCount: number;
  solvedFraction: number | null;
  /** True when any decoded candidate, ranked or not, equals a test output. */
  anyCandidateCorrect: boolean;
  validCandidates: number;
  ttftSeconds: number;
  decodeSeconds: number;
  scoreSeconds: number;
  runWallSeconds: number;
  costUsd: number;
  failureCode: string | null;
  finishedAt: string;
}

interface BenchOptions {
  name: string;
  modelId: string;
  preset: string;
  ttft: boolean;
  /** Only the first N ids of the list (a smoke run); undefined runs all of them. */
  limit?: number;
  pollMs: number;
}

function readOptions(): BenchOptions {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      name: { type: "string" }, model: { type: "string" }, preset: { type: "string", default: "test" },
      "no-ttft": { type: "boolean", default: false }, limit: { type: "string" }, "poll-ms": { type: "string", default: "2000" },
    },
  });
  if (!values.name || !/^[a-z0-9][a-z0-9-]*$/.test(values.name) || !values.model) {
    throw new Error("missing or invalid --name or --model; usage: sft-eval.ts --name NAME (lowercase letters, digits, -) --model MODEL_ID [--preset test] [--no-ttft]");
  }
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) throw new Error(`--limit must be a positive integer, got "${values.limit}"`);
  return { name: values.name, modelId: values.model, preset: values.preset!, ttft: !values["no-ttft"], limit, pollMs: Number(values["poll-ms"]) };
}

async function readTaskIds(): Promise<string[]> {
  const text = await fs.readFile(TASK_LIST, "utf8");
  return text.split("\n").map((line) => line.trim()).filter((line) => line && !line.startsWith("#"));
}

async function readResults(file: string, options: BenchOptions): Promise<TaskResult[]> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const rows = text.split("\n").filter(Boolean).map((line) => JSON.parse(line) as TaskResult);
  const other = rows.find((row) => row.modelId !== options.modelId || row.preset !== options.preset || row.ttft !== options.ttft);
  if (other) {
    throw new Error(`${file} contains results of model ${other.modelId}, preset ${other.preset}, ttft ${other.ttft}; ` +
      "resume with those settings, or choose another --name");
  }
  return rows;
}

function toResult(task: any, options: BenchOptions): TaskResult {
  const timings = task.timings ?? { ttftSeconds: 0, decodeSeconds: 0, scoreSeconds: 0, wallSeconds: 0 };
  return {
    taskId: task.taskId, modelId: options.modelId, preset: options.preset, ttft: options.ttft,
    state: task.state, testCount: task.testCount, solvedFraction: task.solvedFraction,
    anyCandidateCorrect: task.candidates.some((candidate: any) => candidate.correct === true),
    validCandidates: task.candidates.filter((candidate: any) => candidate.valid).length,
    ttftSeconds: timings.ttftSeconds, decodeSeconds: timings.decodeSeconds, scoreSeconds: timings.scoreSeconds,
    runWallSeconds: timings.wallSeconds, costUsd: task.costUsd, failureCode: task.failureCode,
    finishedAt: new Date().toISOString(),
  };
}

/** Submits the remaining ids as one batch and appends each task to `file` as it finishes. */
async function runRemaining(apiUrl: string, file: string, taskIds: string[], options: BenchOptions): Promise<void> {
  const batchOptions: Record<string, unknown> = { preset: options.preset, modelId: options.modelId, gpuType: "cpu" };
  if (!options.ttft) batchOptions.ttft = false;
  const batch = await request(apiUrl, "POST", "/v1/batches", { dataset: DATASET, taskIds, options: batchOptions });
  console.log(`submitted batch ${batch.id} with ${taskIds.length} tasks`);

  const written = new Set<string>();
  while (written.size < taskIds.length) {
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
    for (const task of await finishedTasks(apiUrl, batch.id)) {
      if (written.has(task.taskId)) continue;
      const row = toResult(task, options);
      await fs.appendFile(file, `${JSON.stringify(row)}\n`);
      written.add(task.taskId);
      console.log(`${written.size}/${taskIds.length} ${row.taskId} ${row.state} solved ${row.solvedFraction} wall ${row.runWallSeconds.toFixed(1)} s`);
    }
  }
}

async function finishedTasks(apiUrl: string, batchId: string): Promise<any[]> {
  const tasks = await fetchAllTasks(apiUrl, batchId);
  return tasks.filter((task: any) => ["completed", "failed", "cancelled"].includes(task.state));
}

function mean(numbers: number[]): number {
  return numbers.length === 0 ? 0 : numbers.reduce((sum, value) => sum + value, 0) / numbers.length;
}

/** Prints score (over test inputs), taskScore (over tasks) and seconds per task of every stored row. */
function summarize(rows: TaskResult[], options: BenchOptions): void {
  const testInputs = rows.reduce((sum, row) => sum + row.testCount, 0);
  const solvedInputs = rows.reduce((sum, row) => sum + (row.solvedFraction ?? 0) * row.testCount, 0);
  const summary = {
    name: options.name, model: options.modelId, preset: options.preset, ttft: options.ttft, tasks: rows.length,
    failed: rows.filter((row) => row.state !== "completed").length,
    score: testInputs === 0 ? 0 : solvedInputs / testInputs,
    taskScore: mean(rows.map((row) => row.solvedFraction ?? 0)),
    tasksWithACorrectCandidate: rows.filter((row) => row.anyCandidateCorrect).length,
    secondsPerTask: {
      ttft: mean(rows.map((row) => row.ttftSeconds)), decode: mean(rows.map((row) => row.decodeSeconds)),
      score: mean(rows.map((row) => row.scoreSeconds)), runWall: mean(rows.map((row) => row.runWallSeconds)),
    },
    costUsd: rows.reduce((sum, row) => sum + row.costUsd, 0),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  };
  console.log(JSON.stringify(summary, null, 2));
}

async function main(): Promise<void> {
  const options = readOptions();
  const file = path.join(REPO_ROOT, "bench/results", `${options.name}.jsonl`);
  await fs.mkdir(path.dirname(file), { recursive: true });
  const taskIds = (await readTaskIds()).slice(0, options.limit);
  const done = new Set((await readResults(file, options)).map((row) => row.taskId));
  const remaining = taskIds.filter((id) => !done.has(id));

  if (remaining.length > 0) {
    console.log(`${done.size} of ${taskIds.length} tasks already in ${file}; running ${remaining.length}`);
    const stack = await startEmbeddedStack({ repoRoot: REPO_ROOT, logger: createLogger("bench", "warn"), print: (line) => console.log(line) });
    try {
      await runRemaining(stack.apiUrl, file, remaining, options);
    } finally {
      await stack.close();
    }
  }

  const rows = (await readResults(file, options)).filter((row) => taskIds.includes(row.taskId));
  summarize(rows, options);
}

main().catch((error) => {
  console.error(`sft-eval: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
