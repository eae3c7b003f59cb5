import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  buildSftSamples,
  deduplicateTasks,
  findLeaks,
  packSequences,
  passesPairFilter,
  qualifiedTaskId,
  taskPairs,
  DEFAULT_SFT_MAX_PAIRS,
  type PackedSequence,
  type SourcedTask,
} from "@nvarc/arc";
import { contentHashOf, MANIFEST_FILE, SFT_FORMAT_VERSION, type SftManifest } from "./manifest.ts";
import { ShardWriter } from "./shard-writer.ts";
import { checkDatasetLists, loadSourcedTasks } from "./task-sources.ts";

/** Packed sequences per shard file by default. */
export const DEFAULT_SEQUENCES_PER_SHARD = 1000;

/** Options of buildSftDataset. */
export interface SftDatasetOptions {
  /** Folder containing the dataset folders (arc-agi-1/training, ...). */
  datasetsDir: string;
  /** Dataset names to train on, in priority order: among identical tasks the first source's is kept. */
  sources: string[];
  /** Datasets no task of which may be trained on, matched by id and by content. */
  excludeDatasets?: string[];
  /** Task ids to leave out of every source. */
  excludeTaskIds?: string[];
  samplesPerTask: number;
  /** Maximum pairs per sample (default 7). */
  maxPairs?: number;
  /** Maximum tokens per sample. */
  maxSeqLen: number;
  /** Maximum tokens per packed sequence, at least maxSeqLen. */
  packMaxTokens: number;
  /** Integer seed; every task's samples are seeded by `<seed>/<source>/<taskId>`. */
  seed: number;
  /** Folder the artifact folder `<outRoot>/<datasetId>` is created in. */
  outRoot: string;
  /** Artifact folder name; default `sft-` and the first 16 hex digits of the content hash. */
  datasetId?: string;
  /** Only the first N task ids of each source dataset, for tests and trials; excluded datasets are read whole. */
  limitPerSource?: number;
  /** Packed sequences per shard (default 1000). */
  sequencesPerShard?: number;
}

/** A sample kept for packing, one byte per token. */
interface StoredSample {
  name: string;
  tokenCount: number;
  tokenIds: Uint8Array;
  lossMask: Uint8Array;
}

/** Tasks left after exclusions and merges, with what was dropped. */
interface SelectedTasks {
  tasks: SourcedTask[];
  exclusions: SftManifest["exclusions"];
  merges: SftManifest["merges"];
  sources: SftManifest["sources"];
}

/**
 * Builds an SFT dataset artifact. It loads and validates the source tasks,
 * drops every task that matches an excluded dataset or id, and keeps one task
 * per content. It then draws samples, packs them, and writes gzip JSONL shards
 * and manifest.json into a temporary folder, renamed at the end to
 * `<outRoot>/<datasetId>`. When that folder already holds a dataset with
 * the same content hash, it is kept and its manifest returned; a different
 * hash there is an error.
 */
export async function buildSftDataset(options: SftDatasetOptions): Promise<SftManifest> {
  const excludeDatasets = options.excludeDatasets ?? [];
  checkDatasetLists(options.sources, excludeDatasets);
  if (options.packMaxTokens < options.maxSeqLen) {
    throw new RangeError(`packMaxTokens ${options.packMaxTokens} must be at least maxSeqLen ${options.maxSeqLen}`);
  }
  const selected = await selectTasks(options, excludeDatasets);
  const { samples, filteredTasks, samplesOverMaxSeqLen, contributingTasks } = drawSamples(selected.tasks, options);
  const packed = packSequences(samples, options.packMaxTokens);

  await mkdir(options.outRoot, { recursive: true });
  const tempDir = join(options.outRoot, `.tmp-${randomBytes(6).toString("hex")}`);
  await mkdir(tempDir);
  try {
    const shards = await writeShards(tempDir, packed, options.sequencesPerShard ?? DEFAULT_SEQUENCES_PER_SHARD);
    const contentHash = contentHashOf(shards);
    const manifest: SftManifest = {
      formatVersion: SFT_FORMAT_VERSION,
      datasetId: options.datasetId ?? `sft-${contentHash.slice(0, 16)}`,
      createdAt: new Date().toISOString(),
      seed: options.seed,
      maxSeqLen: options.maxSeqLen,
      packMaxTokens: options.packMaxTokens,
      samplesPerTask: options.samplesPerTask,
      maxPairs: options.maxPairs ?? DEFAULT_SFT_MAX_PAIRS,
      sources: selected.sources,
      exclusions: selected.exclusions,
      merges: selected.merges,
      counts: { tasks: contributingTasks, samples: samples.length, sequences: packed.length, shards: shards.length },
      tokens: tokenTotals(samples),
      skipped: { filteredTasks, samplesOverMaxSeqLen },
      shards,
      contentHash,
    };
    await writeFile(join(tempDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    return await publish(tempDir, join(options.outRoot, manifest.datasetId), manifest);
  } finally {
    await rm(tempDir, { recursive: true, force: true });
  }
}

/** Returns the folder of a dataset artifact: `<outRoot>/<datasetId>`. */
export function sftDatasetDir(outRoot: string, datasetId: string): string {
  return join(outRoot, datasetId);
}

async function selectTasks(options: SftDatasetOptions, excludeDatasets: string[]): Promise<SelectedTasks> {
  const sourceTasks = await loadSourcedTasks(options.datasetsDir, options.sources, options.limitPerSource);
  // Excluded datasets are always read whole, so a trial build with a limit still drops every leak.
  const excludedTasks = await loadSourcedTasks(options.datasetsDir, excludeDatasets);
  const leaks = findLeaks(sourceTasks, excludedTasks, options.excludeTaskIds ?? []);
  const leaked = new Set([...leaks.byContent, ...leaks.byId].map((match) => match.task));
  const clean = sourceTasks.filter((task) => !leaked.has(qualifiedTaskId(task)));
  const { kept, merges } = deduplicateTasks(clean);
  const sources = options.sources.map((name) => ({
    name,
    tasks: sourceTasks.filter((task) => task.source === name).length,
  }));
  return { tasks: kept, exclusions: leaks, merges, sources };
}

function drawSamples(tasks: readonly SourcedTask[], options: SftDatasetOptions) {
  const samples: StoredSample[] = [];
  const filteredTasks: string[] = [];
  let samplesOverMaxSeqLen = 0;
  let contributingTasks = 0;
  for (const sourced of tasks) {
    const name = qualifiedTaskId(sourced);
    const pairs = taskPairs(sourced.task);
    if (!passesPairFilter(pairs)) {
      filteredTasks.push(name);
      continue;
    }
    const built = buildSftSamples(name, pairs, {
      samplesPerTask: options.samplesPerTask,
      maxPairs: options.maxPairs,
      maxSeqLen: options.maxSeqLen,
      seedName: `${options.seed}/${name}`,
    });
    samplesOverMaxSeqLen += built.skippedSamples;
    contributingTasks += built.samples.length > 0 ? 1 : 0;
    for (const sample of built.samples) {
      samples.push({
        name: `${name}#${sample.sampleIndex}`,
        tokenCount: sample.tokenIds.length,
        tokenIds: Uint8Array.from(sample.tokenIds),
        lossMask: Uint8Array.from(sample.lossMask),
      });
    }
  }
  return { samples, filteredTasks, samplesOverMaxSeqLen, contributingTasks };
}

async function writeShards(dir: string, packed: readonly PackedSequence<StoredSample>[], sequencesPerShard: number) {
  const writer = new ShardWriter(dir, sequencesPerShard);
  for (const sequence of packed) {
    const tokenIds: number[] = [];
    const lossMask: number[] = [];
    for (const sample of sequence.samples) {
      sample.tokenIds.forEach((id) => tokenIds.push(id));
      sample.lossMask.forEach((bit) => lossMask.push(bit));
    }
    await writer.write({ token_ids: tokenIds, loss_mask: lossMask, segment_lengths: sequence.segmentLengths });
  }
  return writer.finish();
}

function tokenTotals(samples: readonly StoredSample[]): SftManifest["tokens"] {
  let total = 0;
  let lossTokens = 0;
  for (const sample of samples) {
    total += sample.tokenCount;
    sample.lossMask.forEach((bit) => (lossTokens += bit));
  }
  return { total, lossTokens };
}

/** Renames the finished folder into place, or keeps an identical dataset already there. */
async function publish(tempDir: string, targetDir: string, manifest: SftManifest): Promise<SftManifest> {
  const existing = await readManifest(targetDir);
  if (existing !== null) {
    if (existing.contentHash !== manifest.contentHash) {
      throw new Error(
        `dataset folder ${targetDir} already contains content hash ${existing.contentHash}, ` +
          `not ${manifest.contentHash}; choose another datasetId or remove that folder`,
      );
    }
    return existing;
  }
  await rename(tempDir, targetDir);
  return manifest;
}

/** Returns the manifest in a dataset folder, or null when the folder has none. */
export async function readManifest(datasetDir: string): Promise<SftManifest | null> {
  try {
    return JSON.parse(await readFile(join(datasetDir, MANIFEST_FILE), "utf8")) as SftManifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return null;
    }
    throw error;
  }
}
