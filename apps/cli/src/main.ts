#!/usr/bin/env node
// The `nvarc` command.
//
//   nvarc eval --dataset arc-agi-1/evaluation --limit 10
//   nvarc eval --tasks my-tasks.json --preset cpu --out out/submission.json
//   nvarc eval --api http://127.0.0.1:8080 --dataset arc-agi-2/evaluation
//   nvarc models
//   nvarc dataset build --source arc-agi-2/training --exclude-dataset arc-agi-1/evaluation
//   nvarc sft run --dataset-dir data/sft/ID --base-model tiny-untrained --hyperparameters '{"learningRate":2e-3}'
import { parseArgs } from "node:util";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "@nvarc/telemetry";
import { runEval, request } from "./eval-command.ts";
import { startEmbeddedStack } from "./embedded.ts";
import { runDatasetCommand } from "./dataset-command.ts";
import { runSft } from "./sft-command.ts";

const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

const USAGE = `usage:
  nvarc eval [--dataset NAME] [--tasks FILE] [--task-ids ID,ID] [--limit N] [--preset cpu|test|full]
             [--model ID] [--gpu-type TYPE] [--min-probability P] [--no-ttft] [--out FILE] [--api URL]
             [--poll-ms N]
  nvarc models --api URL
  nvarc dataset build --source NAME ... (see nvarc dataset build --help)
  nvarc sft run --dataset-dir DIR --base-model ID --hyperparameters JSON [--export DIR] [--api URL]
                [--poll-ms N]

eval submits a batch, follows it to the end, prints a per-task table with both scores
and the cost, and writes the Kaggle submission file (default submission.json).
Without --api (or NVARC_API_URL) it runs api, worker and sidecar itself: Postgres from
DATABASE_URL, else an embedded PGlite in .nvarc/pglite; Redis from REDIS_URL, else a
private redis-server; the tiny model from models/.

--dataset NAME        a folder of task files under NVARC_DATASETS_DIR, e.g. arc-agi-1/evaluation
--tasks FILE          a JSON file of tasks keyed by task id (or {"tasks": {...}})
--task-ids ID,ID      only these task ids of the dataset
--limit N             only the first N tasks of the dataset, in id order
--preset NAME         recipe settings: cpu, test or full (default cpu for the embedded stack,
                      else the api's NVARC_DEFAULT_PRESET)
--model ID            a model registry id (default: the latest promoted model, else the newest
                      trained model from the models folder, else the newest model)
--gpu-type TYPE       price table key used for the cost: cpu, l4, a100, h100, h200
--min-probability P   DFS threshold between 0 and 1 (default 0.2)
--no-ttft             skip test-time fine-tuning; decode and re-score with the model as it is
--out FILE            where to write submission.json
--api URL             use a running api instead of starting one
--poll-ms N           milliseconds between status polls (default 1000)

models lists the registry of a running api (--api URL or NVARC_API_URL).

sft run starts an SFT run of the base model with the local backend, prints the loss
curve and, with --export DIR, copies the final model there. Without --api it runs the
embedded stack, as eval does, and records the dataset built in DIR there. With --api,
record the dataset first with \`nvarc dataset build\` and DATABASE_URL. A run on Ray
needs POST /v1/sft-runs with "backend": "ray".

--dataset-dir DIR        an artifact folder written by \`nvarc dataset build\`
--base-model ID          a model registry id, e.g. tiny-untrained
--hyperparameters JSON   TrainHyperparameters as JSON in camelCase, or @FILE naming a JSON
                         file; learningRate is required (README: Offline stage lists the rest)
--export DIR             copy the final model to DIR, e.g. models/my-model; a folder in
                         models/ is registered when the api next starts
--api URL                use a running api instead of starting one
--poll-ms N              milliseconds between status polls (default 5000)`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === "dataset") {
    const datasetsDir = process.env.NVARC_DATASETS_DIR ?? path.join(REPO_ROOT, "data/datasets");
    return runDatasetCommand(rest, datasetsDir);
  }

  if (command === "sft") return sft(rest);

  const { values } = parseArgs({
    args: rest,
    options: {
      dataset: { type: "string" }, tasks: { type: "string" }, "task-ids": { type: "string" },
      limit: { type: "string" }, preset: { type: "string" }, model: { type: "string" },
      "gpu-type": { type: "string" }, "min-probability": { type: "string" }, "no-ttft": { type: "boolean" }, out: { type: "string" },
      api: { type: "string" }, "poll-ms": { type: "string" }, help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }

  if (command === "models") return listModels(values.api ?? process.env.NVARC_API_URL);
  if (command !== "eval") {
    console.error(`unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  return evaluate(values);
}

async function evaluate(values: Record<string, string | boolean | undefined>): Promise<number> {
  if (!values.dataset && !values.tasks) {
    console.error(`eval needs --dataset NAME or --tasks FILE\n\n${USAGE}`);
    return 2;
  }
  const limit = parsePositiveInteger(values.limit as string | undefined, "--limit");
  const minProbability = values["min-probability"] === undefined ? undefined : Number(values["min-probability"]);
  const apiUrl = (values.api as string | undefined) ?? process.env.NVARC_API_URL;
  const logger = createLogger("nvarc-cli", process.env.NVARC_LOG_LEVEL ?? "warn");

  const stack = apiUrl ? undefined : await startEmbeddedStack({ repoRoot: REPO_ROOT, logger, print: (line) => console.log(line) });
  try {
    await runEval({
      apiUrl: apiUrl ?? stack!.apiUrl,
      dataset: values.dataset as string | undefined,
      tasksFile: values.tasks as string | undefined,
      taskIds: (values["task-ids"] as string | undefined)?.split(",").map((id) => id.trim()).filter(Boolean),
      limit,
      preset: (values.preset as string | undefined) ?? (stack ? "cpu" : undefined),
      modelId: values.model as string | undefined,
      gpuType: values["gpu-type"] as string | undefined,
      minProbability,
      ttft: values["no-ttft"] ? false : undefined,
      out: path.resolve(invocationFolder(), (values.out as string | undefined) ?? "submission.json"),
      pollMs: parsePositiveInteger(values["poll-ms"] as string | undefined, "--poll-ms") ?? 1000,
      print: (line) => console.log(line),
    });
    return 0;
  } finally {
    await stack?.close();
  }
}

async function sft(argv: string[]): Promise<number> {
  const [subcommand, ...rest] = argv;
  if (subcommand === "--help" || subcommand === "-h" || rest.includes("--help") || rest.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      "dataset-dir": { type: "string" }, "base-model": { type: "string" }, hyperparameters: { type: "string" },
      export: { type: "string" }, api: { type: "string" }, "poll-ms": { type: "string" },
    },
  });
  if (subcommand !== "run" || !values["dataset-dir"] || !values["base-model"] || !values.hyperparameters) {
    console.error(`sft needs: run --dataset-dir DIR --base-model ID --hyperparameters JSON\n\n${USAGE}`);
    return 2;
  }
  const hyperparameters = await readHyperparameters(values.hyperparameters);
  const apiUrl = values.api ?? process.env.NVARC_API_URL;
  const logger = createLogger("nvarc-cli", process.env.NVARC_LOG_LEVEL ?? "warn");

  const stack = apiUrl ? undefined : await startEmbeddedStack({ repoRoot: REPO_ROOT, logger, print: (line) => console.log(line) });
  try {
    await runSft({
      apiUrl: apiUrl ?? stack!.apiUrl,
      datasetDir: path.resolve(invocationFolder(), values["dataset-dir"]),
      baseModelId: values["base-model"],
      hyperparameters,
      exportDir: values.export === undefined ? undefined : path.resolve(invocationFolder(), values.export),
      prisma: stack?.prisma,
      pollMs: parsePositiveInteger(values["poll-ms"], "--poll-ms") ?? 5000,
      print: (line) => console.log(line),
    });
    return 0;
  } finally {
    await stack?.close();
  }
}

/** Parses --hyperparameters: inline JSON, or @FILE naming a JSON file. */
async function readHyperparameters(raw: string): Promise<Record<string, number | string>> {
  const text = raw.startsWith("@") ? await fs.readFile(path.resolve(invocationFolder(), raw.slice(1)), "utf8") : raw;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`--hyperparameters is not valid JSON (${(error as Error).message}); example: '{"learningRate": 2e-3, "epochs": 1}'`);
  }
}

async function listModels(apiUrl: string | undefined): Promise<number> {
  if (!apiUrl) {
    console.error("models needs --api URL or NVARC_API_URL");
    return 2;
  }
  const { models } = await request(apiUrl, "GET", "/v1/models");
  for (const model of models) console.log(`${model.id}\t${model.trained ? "trained" : "untrained"}\t${model.parameters} parameters\t${model.path}`);
  return 0;
}

/**
 * Returns the folder the user ran the command from. `npm run eval` and `npm run nvarc`
 * change the working folder to the repository and keep the original one in INIT_CWD;
 * any other parent (a test run under `npm test`, say) leaves the working folder as is.
 */
function invocationFolder(): string {
  const viaNpmScript = ["eval", "nvarc"].includes(process.env.npm_lifecycle_event ?? "");
  return viaNpmScript && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd();
}

function parsePositiveInteger(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} must be a positive integer, got "${raw}"`);
  return value;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (error) => {
    console.error(`nvarc: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);

