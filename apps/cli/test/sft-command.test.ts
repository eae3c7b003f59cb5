import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { buildSftDataset, sftDatasetDir } from "../../worker/src/sft/dataset-build.ts";
import { DATASETS_DIR } from "../../../test/support/env.ts";
import { startTestStack, type TestStack } from "../../../test/support/stack.ts";
import { runSft } from "../src/sft-command.ts";

describe("nvarc sft run", () => {
  let stack: TestStack;
  let scratch: string;
  let datasetDir: string;
  let datasetId: string;
  let lines: string[];
  let run: any;

  before(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "nvarc-sft-command-"));
    const outRoot = path.join(scratch, "datasets");
    const manifest = await buildSftDataset({
      datasetsDir: DATASETS_DIR, sources: ["arc-agi-1/training"], excludeDatasets: [], samplesPerTask: 1,
      maxSeqLen: 4096, packMaxTokens: 4096, seed: 0, outRoot, limitPerSource: 3,
    });
    datasetId = manifest.datasetId;
    datasetDir = sftDatasetDir(outRoot, datasetId);
    stack = await startTestStack({ name: "sft_command", worker: true, env: { NVARC_SFT_OUTPUT_DIR: path.join(scratch, "runs") } });

    lines = [];
    run = await runSft({
      apiUrl: stack.api.url,
      datasetDir,
      baseModelId: "tiny-untrained",
      hyperparameters: { learningRate: 1e-3, maxSteps: 2, seed: 0 },
      exportDir: path.join(scratch, "models", "tiny-exported"),
      prisma: stack.database.db.prisma,
      pollMs: 200,
      print: (line) => lines.push(line),
    });
  });

  after(async () => {
    await stack?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it("records the dataset and completes the run", async () => {
    assert.equal(run.state, "completed");
    assert.equal(run.step, 2);
    assert.equal(run.datasetId, datasetId);
    assert.ok(await stack.database.repos.getSftDataset(datasetId));
    assert.ok(lines.some((line) => /step 2\/2 {2}loss \d/.test(line)), lines.join("\n"));
  });

  it("exports the final model with its run in nvarc_model.json", async () => {
    const exported = path.join(scratch, "models", "tiny-exported");
    const card = JSON.parse(await readFile(path.join(exported, "nvarc_model.json"), "utf8"));

    assert.equal(card.trained, true);
    assert.equal(card.sft_run.id, run.id);
    assert.equal(card.sft_run.dataset_id, datasetId);
    assert.equal(card.sft_run.base_model_id, "tiny-untrained");
    assert.ok((await stat(path.join(exported, "config.json"))).isFile());
    assert.ok((await stat(path.join(exported, "model.safetensors"))).isFile());
    assert.deepEqual(await readdir(path.join(scratch, "models")), ["tiny-exported"], "no partial copy is left behind");
  });

  it("a missing dataset folder names the folder and the fix", async () => {
    const missing = path.join(scratch, "no-such-dataset");
    await assert.rejects(
      runSft({ apiUrl: stack.api.url, datasetDir: missing, baseModelId: "tiny-untrained", hyperparameters: { learningRate: 1e-3 }, pollMs: 200, print: () => {} }),
      (error: Error) => error.message.includes(path.join(missing, "manifest.json")) && /nvarc dataset build/.test(error.message),
    );
  });
});
