import fs from "node:fs/promises";
import path from "node:path";
import { recordSftDataset, type DbClient } from "@nvarc/db";
import { request } from "./eval-command.ts";

/** Options of `nvarc sft run`. */
export interface SftRunOptions {
  apiUrl: string;
  /** Artifact folder written by `nvarc dataset build`, with its manifest.json. */
  datasetDir: string;
  baseModelId: string;
  hyperparameters: Record<string, number | string>;
  /** Destination folder of the final model's copy, which the models folder registers; no copy when undefined. */
  exportDir?: string;
  /** Database of the embedded stack, used to record the dataset; with --api it must already be recorded. */
  prisma?: DbClient;
  /** Milliseconds between status polls. */
  pollMs: number;
  print: (line: string) => void;
}

/**
 * Starts an SFT run over REST, prints its loss curve as it grows and, when it
 * completes, copies the final model to `exportDir`. Returns the finished run.
 */
export async function runSft(options: SftRunOptions): Promise<any> {
  const manifest = await readManifest(options.datasetDir);
  if (options.prisma) {
    await recordSftDataset(options.prisma, manifest, path.resolve(options.datasetDir));
    options.print(`recorded SFT dataset ${manifest.datasetId} (${manifest.tokens.total} tokens)`);
  }

  const created = await request(options.apiUrl, "POST", "/v1/sft-runs", {
    baseModelId: options.baseModelId, datasetId: manifest.datasetId, hyperparameters: options.hyperparameters,
  });
  options.print(`started SFT run ${created.id} of ${options.baseModelId} on ${manifest.datasetId}`);

  const run = await followRun(options, created.id);
  if (run.state !== "completed") {
    throw new Error(`SFT run ${run.id} ended ${run.state}${run.error ? `: ${run.error.code}: ${run.error.message}` : ""}`);
  }
  const final = run.models.find((model: any) => model.trained && !/-step-\d+$/.test(model.id)) ?? run.models.at(-1);
  options.print(`SFT run ${run.id} completed: ${run.step} steps, ${run.deviceSeconds.toFixed(0)} device seconds, $${run.cost.usd.toFixed(4)}`);
  options.print(`final model ${final.id} at ${final.path}`);
  if (options.exportDir) await exportModel(final.path, options.exportDir, run, options.print);
  return run;
}

async function readManifest(datasetDir: string): Promise<any> {
  const file = path.join(datasetDir, "manifest.json");
  try {
    return JSON.parse(await fs.readFile(file, "utf8"));
  } catch (error) {
    throw new Error(`cannot read ${file} (${(error as Error).message}); pass the folder that \`nvarc dataset build\` printed`);
  }
}

async function followRun(options: SftRunOptions, runId: string): Promise<any> {
  let printedPoints = 0;
  for (;;) {
    const run = await request(options.apiUrl, "GET", `/v1/sft-runs/${runId}`);
    for (const point of run.lossCurve.slice(printedPoints)) {
      options.print(`  step ${point.step}/${run.totalSteps}  loss ${Number(point.loss).toFixed(4)}`);
    }
    printedPoints = run.lossCurve.length;
    if (["completed", "failed", "cancelled"].includes(run.state)) return run;
    await new Promise((resolve) => setTimeout(resolve, options.pollMs));
  }
}

/**
 * Copies the final model folder to `exportDir` (written beside it, then renamed) and
 * adds the run's id, base model and dataset to its nvarc_model.json, so the copy
 * records how it was made once it leaves the run's output folder.
 */
async function exportModel(source: string, exportDir: string, run: any, print: (line: string) => void): Promise<void> {
  const target = path.resolve(exportDir);
  const staging = `${target}.partial-${process.pid}`;
  await fs.rm(staging, { recursive: true, force: true });
  await fs.cp(source, staging, { recursive: true });

  const cardFile = path.join(staging, "nvarc_model.json");
  const card = JSON.parse(await fs.readFile(cardFile, "utf8"));
  card.sft_run = { id: run.id, base_model_id: run.baseModelId, dataset_id: run.datasetId, hyperparameters: run.hyperparameters };
  await fs.writeFile(cardFile, `${JSON.stringify(card, null, 2)}\n`);

  await fs.rm(target, { recursive: true, force: true });
  await fs.rename(staging, target);
  print(`copied the final model to ${target}`);
}
