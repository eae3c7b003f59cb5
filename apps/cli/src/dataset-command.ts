// `nvarc dataset build`: builds an SFT dataset artifact and, when DATABASE_URL is set, records it.
import path from "node:path";
import { parseArgs } from "node:util";
import { DATASETS_DIR_ENV } from "@nvarc/arc";
import { createDb, recordSftDataset } from "@nvarc/db";
import { buildSftDataset, sftDatasetDir, type SftDatasetOptions } from "../../worker/src/sft/dataset-build.ts";
import type { SftManifest } from "../../worker/src/sft/manifest.ts";

/** Usage text of the dataset command. */
export const DATASET_USAGE = `usage:
  nvarc dataset build --source NAME [--source NAME ...] [--exclude-dataset NAME ...]
                      [--exclude-task-ids ID,ID] [--samples-per-task 8] [--max-pairs 7] [--seed 0]
                      [--out data/sft] [--dataset-id ID] [--max-seq-len 8192] [--pack-max-tokens 16384]
                      [--limit N]

build writes an SFT dataset artifact <out>/<dataset id>/ (gzip JSON Lines shards of packed
sequences and manifest.json). Source tasks that match a task of an excluded dataset by id or
by content are left out, and identical tasks across sources are kept once. With DATABASE_URL
set, the manifest is recorded in Postgres after the migrations are applied.

--source NAME           a dataset folder under ${DATASETS_DIR_ENV} to train on; repeatable
--exclude-dataset NAME  a dataset folder whose tasks must not be trained on; repeatable
--exclude-task-ids IDS  task ids to leave out of every source, comma separated
--samples-per-task N    samples per task; sample 0 is the untransformed task (default 8)
--max-pairs N           most pairs per sample (default 7)
--seed N                integer seed of the augmentations (default 0)
--out DIR               folder the artifact folder is created in (default data/sft)
--dataset-id ID         artifact folder name (default sft-<first 16 hex digits of the content hash>)
--max-seq-len N         most tokens per sample (default 8192)
--pack-max-tokens N     most tokens per packed sequence (default 16384)
--limit N               only the first N tasks of each dataset, for trials`;

/** Runs `nvarc dataset <subcommand>`; returns the process exit code. */
export async function runDatasetCommand(args: string[], datasetsDir: string): Promise<number> {
  const [subcommand, ...rest] = args;
  if (subcommand === "--help" || subcommand === "-h") {
    console.log(DATASET_USAGE);
    return 0;
  }
  if (subcommand !== "build") {
    console.error(subcommand ? `unknown dataset subcommand "${subcommand}"\n\n${DATASET_USAGE}` : DATASET_USAGE);
    return 2;
  }

  const { values } = parseArgs({ args: rest, options: BUILD_OPTIONS });
  if (values.help) {
    console.log(DATASET_USAGE);
    return 0;
  }
  if (!values.source || values.source.length === 0) {
    console.error(`dataset build needs at least one --source NAME\n\n${DATASET_USAGE}`);
    return 2;
  }

  const options = buildOptions(values, datasetsDir);
  const manifest = await buildSftDataset(options);
  const datasetDir = sftDatasetDir(options.outRoot, manifest.datasetId);
  printSummary(manifest, datasetDir);
  await recordWhenConfigured(manifest, datasetDir);
  return 0;
}

const BUILD_OPTIONS = {
  source: { type: "string", multiple: true },
  "exclude-dataset": { type: "string", multiple: true },
  "exclude-task-ids": { type: "string" },
  "samples-per-task": { type: "string" },
  "max-pairs": { type: "string" },
  seed: { type: "string" },
  out: { type: "string" },
  "dataset-id": { type: "string" },
  "max-seq-len": { type: "string" },
  "pack-max-tokens": { type: "string" },
  limit: { type: "string" },
  help: { type: "boolean" },
} as const;

type BuildValues = ReturnType<typeof parseArgs<{ options: typeof BUILD_OPTIONS }>>["values"];

function buildOptions(values: BuildValues, datasetsDir: string): SftDatasetOptions {
  return {
    datasetsDir,
    sources: values.source ?? [],
    excludeDatasets: values["exclude-dataset"] ?? [],
    excludeTaskIds: splitIds(values["exclude-task-ids"]),
    samplesPerTask: parseInteger(values["samples-per-task"], "--samples-per-task", 8, 1),
    maxPairs: parseInteger(values["max-pairs"], "--max-pairs", 7, 1),
    seed: parseInteger(values.seed, "--seed", 0, 0),
    // npm run changes the working folder to the repository; INIT_CWD is where the user ran it.
    outRoot: path.resolve(process.env.INIT_CWD ?? process.cwd(), values.out ?? "data/sft"),
    datasetId: values["dataset-id"],
    maxSeqLen: parseInteger(values["max-seq-len"], "--max-seq-len", 8192, 1),
    packMaxTokens: parseInteger(values["pack-max-tokens"], "--pack-max-tokens", 16384, 1),
    limitPerSource: values.limit === undefined ? undefined : parseInteger(values.limit, "--limit", 0, 1),
  };
}

async function recordWhenConfigured(manifest: SftManifest, datasetDir: string): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.log("DATABASE_URL is not set: the dataset is not recorded in Postgres");
    return;
  }
  const db = await createDb({ url });
  try {
    await db.migrate();
    await recordSftDataset(db.prisma, manifest, datasetDir);
    console.log(`recorded SFT dataset ${manifest.datasetId} in Postgres`);
  } finally {
    await db.close();
  }
}

function printSummary(manifest: SftManifest, datasetDir: string): void {
  const { counts, tokens, exclusions, skipped } = manifest;
  console.log(`dataset ${manifest.datasetId} written to ${datasetDir}`);
  for (const source of manifest.sources) console.log(`  source ${source.name}: ${source.tasks} tasks`);
  console.log(`  tasks ${counts.tasks}, samples ${counts.samples}, sequences ${counts.sequences}, shards ${counts.shards}`);
  console.log(`  tokens ${tokens.total}, loss tokens ${tokens.lossTokens}`);
  console.log(`  excluded by content ${exclusions.byContent.length}, by id ${exclusions.byId.length}`);
  for (const match of exclusions.byId) console.log(`    by id: ${match.task} (matches ${match.matches})`);
  console.log(`  merged duplicates ${manifest.merges.length}`);
  console.log(`  tasks failing the pair filter ${skipped.filteredTasks.length}, samples over max-seq-len ${skipped.samplesOverMaxSeqLen}`);
  console.log(`  content hash ${manifest.contentHash}`);
}

function splitIds(raw: string | undefined): string[] {
  return (raw ?? "").split(",").map((id) => id.trim()).filter(Boolean);
}

function parseInteger(raw: string | undefined, flag: string, fallback: number, min: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${flag} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}
