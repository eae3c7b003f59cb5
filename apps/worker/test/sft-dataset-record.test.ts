import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { getSftDataset, recordSftDataset, SftDatasetConflictError } from "@nvarc/db";
import { freshTestDatabase, type TestDatabase } from "../../../test/support/database.ts";
import { DATASETS_DIR, REPO_ROOT } from "../../../test/support/env.ts";
import { buildSftDataset } from "../src/sft/dataset-build.ts";
import type { SftManifest } from "../src/sft/manifest.ts";

const run = promisify(execFile);

describe("SFT dataset record", () => {
  let database: TestDatabase;
  let outRoot: string;
  let manifest: SftManifest;

  before(async () => {
    database = await freshTestDatabase("sft_datasets");
    outRoot = await mkdtemp(path.join(tmpdir(), "nvarc-sft-record-"));
    manifest = await buildSftDataset({
      datasetsDir: DATASETS_DIR,
      sources: ["arc-agi-2/training"],
      excludeDatasets: ["arc-agi-1/evaluation"],
      samplesPerTask: 2,
      maxSeqLen: 4096,
      packMaxTokens: 8192,
      seed: 0,
      outRoot,
      limitPerSource: 10,
    });
  });

  after(async () => {
    await database?.close();
    await rm(outRoot, { recursive: true, force: true });
  });

  it("stores the manifest fields", async () => {
    const record = await recordSftDataset(database.db.prisma, manifest, "/data/sft/a");
    assert.equal(record.id, manifest.datasetId);
    assert.equal(record.path, "/data/sft/a");
    assert.equal(record.contentHash, manifest.contentHash);
    assert.equal(record.tokenTotal, manifest.tokens.total);
    assert.equal(record.lossTokenTotal, manifest.tokens.lossTokens);
    assert.deepEqual(record.counts, manifest.counts);
    assert.deepEqual(record.exclusions, manifest.exclusions);
    assert.deepEqual(record.sources, manifest.sources);
    assert.deepEqual(await getSftDataset(database.db.prisma, manifest.datasetId), record);
  });

  it("recording twice keeps one row", async () => {
    const first = await database.repos.recordSftDataset(manifest, "/data/sft/a");
    const second = await database.repos.recordSftDataset(manifest, "/data/sft/b");
    assert.deepEqual(second, first);
    const rows = await database.query("SELECT id FROM sft_datasets WHERE id = $1", [manifest.datasetId]);
    assert.equal(rows.length, 1);
  });

  it("concurrent inserts of one id keep one row", async () => {
    const raced = { ...manifest, datasetId: "raced" };
    const records = await Promise.all([1, 2, 3].map(() => recordSftDataset(database.db.prisma, raced, "/data/sft/raced")));
    assert.ok(records.every((record) => record.contentHash === manifest.contentHash));
    const rows = await database.query("SELECT id FROM sft_datasets WHERE id = 'raced'");
    assert.equal(rows.length, 1);
  });

  it("another hash under a stored id is rejected", async () => {
    await recordSftDataset(database.db.prisma, manifest, "/data/sft/a");
    const changed = { ...manifest, contentHash: "0".repeat(64) };
    await assert.rejects(recordSftDataset(database.db.prisma, changed, "/data/sft/a"), (error: unknown) => {
      assert.ok(error instanceof SftDatasetConflictError);
      assert.equal(error.storedHash, manifest.contentHash);
      return true;
    });
  });

  it("cli build records the dataset when DATABASE_URL is set", async () => {
    const cliOut = path.join(outRoot, "cli");
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "apps/cli/src/main.ts", "dataset", "build", "--source", "arc-agi-1/training",
        "--exclude-dataset", "arc-agi-1/evaluation", "--samples-per-task", "2", "--limit", "5", "--out", cliOut,
        "--dataset-id", "cli-built"],
      { cwd: REPO_ROOT, env: { ...process.env, NVARC_DATASETS_DIR: DATASETS_DIR, DATABASE_URL: database.url } },
    );
    assert.match(stdout, /content hash [0-9a-f]{64}/);
    assert.match(stdout, /recorded SFT dataset cli-built/);
    const record = await getSftDataset(database.db.prisma, "cli-built");
    assert.ok(record);
    assert.equal(record.path, path.join(cliOut, "cli-built"));
    assert.match(stdout, new RegExp(`content hash ${record.contentHash}`));
  });
});
