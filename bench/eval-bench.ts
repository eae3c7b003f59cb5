// Benchmark of the main job on the CPU: seconds per task for TTFT, decode and score,
// candidates found, and the orchestration overhead (time per task outside the sidecar).
//
//   npm run bench                          # 10 ARC-AGI-1 evaluation tasks, cpu preset, default model
//   npm run bench -- --limit 3 --preset test --model tiny-untrained
//
// It starts the embedded stack (as `npm run eval` does), runs one batch, and writes
// bench/out/eval-bench.json plus a Markdown table on stdout for bench/RESULTS.md.
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { createLogger } from "@nvarc/telemetry";
import { startEmbeddedStack } from "../apps/cli/src/embedded.ts";
import { runEval } from "../apps/cli/src/eval-command.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { dataset: { type: "string", default: "arc-agi-1/evaluation" }, limit: { type: "string", default: "10" }, preset: { type: "string", default: "cpu" }, model: { type: "string" } },
});

function mean(numbers: number[]): number {
  return numbers.length === 0 ? 0 : numbers.reduce((sum, value) => sum + value, 0) / numbers.length;
}

async function main(): Promise<void> {
  const logger = createLogger("bench", "warn");
  const stack = await startEmbeddedStack({ repoRoot: REPO_ROOT, logger, print: () => {} });
  const startedAt = Date.now();
  let result;
  try {
    result = await runEval({
      apiUrl: stack.apiUrl, dataset: values.dataset, limit: Number(values.limit), preset: values.preset, modelId: values.model,
      out: path.join(REPO_ROOT, "bench/out/submission.json"), pollMs: 500, print: () => {},
    });
  } finally {
    await stack.close();
  }
  const wallSeconds = (Date.now() - startedAt) / 1000;

  const rows = result.tasks.map((task: any) => {
    const timings = task.timings ?? { ttftSeconds: 0, decodeSeconds: 0, scoreSeconds: 0, wallSeconds: 0 };
    const device = timings.ttftSeconds + timings.decodeSeconds + timings.scoreSeconds;
    return {
      taskId: task.taskId, state: task.state, solved: task.solvedFraction === 1,
      ttftSeconds: timings.ttftSeconds, decodeSeconds: timings.decodeSeconds, scoreSeconds: timings.scoreSeconds,
      runWallSeconds: timings.wallSeconds, overheadSeconds: timings.wallSeconds - device,
      validCandidates: task.candidates.filter((candidate: any) => candidate.valid).length,
      invalidDecodes: task.candidates.filter((candidate: any) => !candidate.valid).reduce((sum: number, candidate: any) => sum + candidate.count, 0),
      costUsd: task.costUsd,
    };
  });
  const summary = {
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.type()} ${os.release()}` },
    dataset: values.dataset, preset: values.preset, tasks: rows.length, batchWallSeconds: wallSeconds,
    meanPerTask: {
      ttftSeconds: mean(rows.map((row) => row.ttftSeconds)), decodeSeconds: mean(rows.map((row) => row.decodeSeconds)),
      scoreSeconds: mean(rows.map((row) => row.scoreSeconds)), runWallSeconds: mean(rows.map((row) => row.runWallSeconds)),
      overheadSeconds: mean(rows.map((row) => row.overheadSeconds)), validCandidates: mean(rows.map((row) => row.validCandidates)),
      batchWallSeconds: wallSeconds / rows.length,
    },
    score: result.batch.score, taskScore: result.batch.taskScore, costUsd: result.batch.cost.usd, rows,
  };

  await fs.mkdir(path.join(REPO_ROOT, "bench/out"), { recursive: true });
  await fs.writeFile(path.join(REPO_ROOT, "bench/out/eval-bench.json"), JSON.stringify(summary, null, 2));
  console.log(JSON.stringify({ ...summary, rows: undefined }, null, 2));
  console.log("\n| task | state | TTFT s | decode s | score s | run wall s | overhead s | valid candidates | invalid decodes |");
  console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) {
    console.log(`| ${row.taskId} | ${row.state} | ${row.ttftSeconds.toFixed(1)} | ${row.decodeSeconds.toFixed(1)} | ${row.scoreSeconds.toFixed(2)} | ${row.runWallSeconds.toFixed(1)} | ${row.overheadSeconds.toFixed(2)} | ${row.validCandidates} | ${row.invalidDecodes} |`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
