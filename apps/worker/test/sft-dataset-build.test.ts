import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { decodeTurns } from "@nvarc/arc";
import { DATASETS_DIR } from "../../../test/support/env.ts";
import { buildSftDataset, sftDatasetDir, type SftDatasetOptions } from "../src/sft/dataset-build.ts";
import { contentHashOf, type SftManifest } from "../src/sft/manifest.ts";
import type { ShardLine } from "../src/sft/shard-writer.ts";

const tempRoots: string[] = [];

async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "nvarc-sft-"));
  tempRoots.push(dir);
  return dir;
}

after(async () => {
  for (const dir of tempRoots) await rm(dir, { recursive: true, force: true });
});

/** Builds a small dataset: the first tasks of two sources, a few samples each, small shards. */
async function smallBuild(overrides: Partial<SftDatasetOptions> = {}): Promise<{ manifest: SftManifest; dir: string }> {
  const outRoot = await tempRoot();
  const manifest = await buildSftDataset({
    datasetsDir: DATASETS_DIR,
    sources: ["arc-agi-1/training", "arc-agi-2/training"],
    excludeDatasets: ["arc-agi-1/evaluation"],
    samplesPerTask: 3,
    maxSeqLen: 4096,
    packMaxTokens: 8192,
    seed: 0,
    outRoot,
    limitPerSource: 25,
    sequencesPerShard: 10,
    ...overrides,
  });
  return { manifest, dir: sftDatasetDir(outRoot, manifest.datasetId) };
}

/** Reads how many ARC-AGI-2 training ids come from each ARC-AGI-1 split, as the datasets README states them. */
function readmeOverlap(): { fromTraining: number; fromEvaluation: number } {
  const text = readFileSync(path.join(DATASETS_DIR, "README.md"), "utf8").replace(/\s+/g, " ");
  const match = /\((\d+) from its training split, (\d+) from its evaluation split\)/.exec(text);
  assert.ok(match, "the datasets README states the ARC-AGI-1 overlap of ARC-AGI-2 training");
  return { fromTraining: Number(match[1]), fromEvaluation: Number(match[2]) };
}

async function readLines(dir: string, manifest: SftManifest): Promise<ShardLine[]> {
  const lines: ShardLine[] = [];
  for (const shard of manifest.shards) {
    const bytes = await readFile(path.join(dir, shard.file));
    assert.equal(createHash("sha256").update(bytes).digest("hex"), shard.sha256, `${shard.file} sha256`);
    const shardLines = gunzipSync(bytes).toString("utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as ShardLine);
    assert.equal(shardLines.length, shard.sequences);
    lines.push(...shardLines);
  }
  return lines;
}

describe("SFT dataset build", () => {
  it("same seed gives the same content hash", async () => {
    const first = await smallBuild();
    const second = await smallBuild();
    const other = await smallBuild({ seed: 1 });
    assert.equal(second.manifest.contentHash, first.manifest.contentHash);
    assert.notEqual(other.manifest.contentHash, first.manifest.contentHash);
    assert.equal(first.manifest.contentHash, contentHashOf(first.manifest.shards));
    assert.ok(first.manifest.shards.length > 1, "the small build spans several shards");
  });

  it("writes sequences within limits and whole grids", async () => {
    const { manifest, dir } = await smallBuild();
    const lines = await readLines(dir, manifest);
    assert.equal(lines.length, manifest.counts.sequences);
    let samples = 0;
    let tokens = 0;
    let lossTokens = 0;
    for (const line of lines) {
      assert.ok(line.token_ids.length <= manifest.packMaxTokens);
      assert.equal(line.loss_mask.length, line.token_ids.length);
      assert.equal(line.segment_lengths.reduce((sum, length) => sum + length, 0), line.token_ids.length);
      let start = 0;
      for (const length of line.segment_lengths) {
        assert.ok(length <= manifest.maxSeqLen);
        const turns = decodeTurns(line.token_ids.slice(start, start + length));
        assert.equal(turns.length % 2, 0);
        assert.ok(turns.length / 2 <= 7, "a sample has at most 7 pairs");
        start += length;
        samples++;
      }
      tokens += line.token_ids.length;
      lossTokens += line.loss_mask.filter((bit) => bit === 1).length;
    }
    assert.equal(samples, manifest.counts.samples);
    assert.deepEqual(manifest.tokens, { total: tokens, lossTokens });
  });

  it("writes manifest.json and leaves no temporary folder", async () => {
    const { manifest, dir } = await smallBuild({ datasetId: "named" });
    assert.equal(path.basename(dir), "named");
    const stored = JSON.parse(await readFile(path.join(dir, "manifest.json"), "utf8")) as SftManifest;
    assert.deepEqual(stored, manifest);
    assert.equal(stored.formatVersion, 1);
    assert.deepEqual(await readdir(path.dirname(dir)), ["named"]);
    assert.deepEqual((await readdir(dir)).sort(), ["manifest.json", ...manifest.shards.map((shard) => shard.file)].sort());
  });

  it("keeps an identical dataset and rejects another hash under its id", async () => {
    const outRoot = await tempRoot();
    const options = { outRoot, datasetId: "fixed" };
    const first = await smallBuild(options);
    const again = await smallBuild(options);
    assert.equal(again.manifest.createdAt, first.manifest.createdAt, "the stored manifest is returned");
    await assert.rejects(smallBuild({ ...options, seed: 7 }), /already contains content hash/);
  });

  it("drops ARC-AGI-1 evaluation leaks and counts shared tasks once", async () => {
    const { manifest } = await smallBuild({ limitPerSource: undefined, samplesPerTask: 1 });
    const overlap = readmeOverlap();
    const { byContent, byId } = manifest.exclusions;
    const fromAgi2 = [...byContent, ...byId].filter((match) => match.task.startsWith("arc-agi-2/training/"));
    assert.equal(fromAgi2.length, overlap.fromEvaluation);
    assert.ok(fromAgi2.every((match) => match.matches.startsWith("arc-agi-1/evaluation/")));

    assert.equal(manifest.merges.length, overlap.fromTraining);
    for (const merge of manifest.merges) {
      assert.match(merge.kept, /^arc-agi-1\/training\//);
      assert.match(merge.dropped, /^arc-agi-2\/training\//);
    }
    const loaded = manifest.sources.reduce((sum, source) => sum + source.tasks, 0);
    const left = loaded - byContent.length - byId.length - manifest.merges.length;
    assert.equal(manifest.counts.tasks + manifest.skipped.filteredTasks.length, left);
    assert.equal(manifest.counts.samples, manifest.counts.tasks);
  });

  it("rejects a dataset both trained on and excluded", async () => {
    await assert.rejects(smallBuild({ excludeDatasets: ["arc-agi-2/training"] }), /named twice/);
  });
});
