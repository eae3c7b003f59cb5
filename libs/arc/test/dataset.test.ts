import assert from "node:assert/strict";
import { mkdtemp, rm, mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { DatasetError, loadDataset } from "../src/index.ts";
import { datasetsDir, rejectionOf } from "./fixtures.ts";

describe("dataset loading", () => {
  it("reads a split sorted by task id", async () => {
    const dataset = await loadDataset(datasetsDir, "arc-agi-2/evaluation");
    assert.ok(dataset.taskIds.length > 0);
    assert.deepEqual(dataset.taskIds, [...dataset.taskIds].sort());
    assert.deepEqual(Object.keys(dataset.tasks).sort(), dataset.taskIds);
    const first = dataset.tasks[dataset.taskIds[0]] as { train: unknown[] };
    assert.ok(Array.isArray(first.train));
  });

  it("loads requested ids up to limit", async () => {
    const all = await loadDataset(datasetsDir, "arc-agi-1/evaluation");
    const wanted = [all.taskIds[5], all.taskIds[2], all.taskIds[9]];
    const some = await loadDataset(datasetsDir, "arc-agi-1/evaluation", { taskIds: wanted, limit: 2 });
    assert.deepEqual(some.taskIds, [all.taskIds[2], all.taskIds[5]]);
    const limited = await loadDataset(datasetsDir, "arc-agi-1/evaluation", { limit: 3 });
    assert.deepEqual(limited.taskIds, all.taskIds.slice(0, 3));
  });

  it("names unknown task ids", async () => {
    const error = await rejectionOf(loadDataset(datasetsDir, "arc-agi-1/evaluation", { taskIds: ["nope0001"] }));
    assert.ok(error instanceof DatasetError);
    assert.equal(error.code, "task_not_found");
    assert.match(error.message, /"nope0001"/);
  });

  it("names folder and known datasets when missing", async () => {
    const error = await rejectionOf(loadDataset(datasetsDir, "arc-agi-9/evaluation"));
    assert.ok(error instanceof DatasetError);
    assert.equal(error.code, "dataset_not_found");
    assert.ok(error.message.includes(join(datasetsDir, "arc-agi-9/evaluation")), error.message);
    assert.ok(error.message.includes("arc-agi-1/evaluation"), error.message);
  });

  it("names the variable when the root is missing", async () => {
    const error = await rejectionOf(loadDataset(join(datasetsDir, "no-such-root"), "arc-agi-1/evaluation"));
    assert.ok(error instanceof DatasetError);
    assert.equal(error.code, "dataset_not_found");
    assert.ok(error.message.includes("NVARC_DATASETS_DIR"), error.message);
  });

  it("rejects names leaving the folder", async () => {
    for (const name of ["../etc", "arc-agi-1/../../x", "/etc", "", "arc-agi-1//evaluation", "./arc-agi-1"]) {
      const error = await rejectionOf(loadDataset(datasetsDir, name));
      assert.ok(error instanceof DatasetError, name);
      assert.equal(error.code, "invalid_dataset_name", name);
    }
  });

  it("names a task file that is not JSON", async () => {
    const dir = await mkdtemp(join(tmpdir(), "nvarc-arc-dataset-"));
    try {
      await mkdir(join(dir, "split"));
      await writeFile(join(dir, "split", "bad1.json"), "{not json");
      const error = await rejectionOf(loadDataset(dir, "split"));
      assert.ok(error instanceof DatasetError);
      assert.equal(error.code, "invalid_task_file");
      assert.ok(error.message.includes("bad1.json"), error.message);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
