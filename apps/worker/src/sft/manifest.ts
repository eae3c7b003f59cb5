import { createHash } from "node:crypto";
import type { LeakMatch, TaskMerge } from "@nvarc/arc";
import type { ShardEntry } from "./shard-writer.ts";

/** Version of the artifact layout; a trainer rejects versions it does not know. */
export const SFT_FORMAT_VERSION = 1;

/** Name of the manifest file inside a dataset folder. */
export const MANIFEST_FILE = "manifest.json";

/**
 * manifest.json of an SFT dataset artifact. Beyond the shared fields,
 * `samplesPerTask`, `maxPairs` and `skipped` record how samples were drawn
 * and what was left out.
 */
export interface SftManifest {
  formatVersion: typeof SFT_FORMAT_VERSION;
  datasetId: string;
  /** ISO 8601 time of the build; not part of contentHash. */
  createdAt: string;
  seed: number;
  maxSeqLen: number;
  packMaxTokens: number;
  samplesPerTask: number;
  maxPairs: number;
  /** Each source dataset with the tasks loaded from it (before exclusions and merges). */
  sources: { name: string; tasks: number }[];
  exclusions: { byId: LeakMatch[]; byContent: LeakMatch[] };
  merges: TaskMerge[];
  /** `tasks` counts the tasks that contributed at least one sample. */
  counts: { tasks: number; samples: number; sequences: number; shards: number };
  tokens: { total: number; lossTokens: number };
  /** Tasks failing the pair filter, and samples skipped because no pair fit maxSeqLen. */
  skipped: { filteredTasks: string[]; samplesOverMaxSeqLen: number };
  shards: ShardEntry[];
  /** sha256 hex of the shards' sha256 hex strings, each followed by "\n", in shard order. */
  contentHash: string;
}

/** Returns the content hash of a dataset: sha256 over its shard hashes in order. */
export function contentHashOf(shards: readonly ShardEntry[]): string {
  const hash = createHash("sha256");
  for (const shard of shards) {
    hash.update(`${shard.sha256}\n`);
  }
  return hash.digest("hex");
}
