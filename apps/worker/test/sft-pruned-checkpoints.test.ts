import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ModelRecord } from "@nvarc/db";
import { checkpointModelId, finalModelId, prunedCheckpointIds } from "../src/sft/run-progress.ts";

const RUN_ID = "3f0c2a51-9a34-4f55-8a8c-0d5a0f1c2b7e";

function model(id: string, step: number | null): ModelRecord {
  return {
    id, name: id, path: `/runs/${id}`, architecture: "Qwen3ForCausalLM", parameters: 1, trained: true, description: "",
    parentModelId: "base", sftDatasetId: "data", sftRunId: RUN_ID, step, metrics: null, promotedAt: null, prunedAt: null,
    createdAt: new Date(0),
  };
}

describe("prunedCheckpointIds", () => {
  const models = [2, 4, 6, 8].map((step) => model(checkpointModelId(RUN_ID, step), step)).concat(model(finalModelId(RUN_ID), 10));

  it("keeps the newest checkpoints and never the final model", () => {
    assert.deepEqual(prunedCheckpointIds(RUN_ID, models, 2), [checkpointModelId(RUN_ID, 4), checkpointModelId(RUN_ID, 2)]);
  });

  it("keep 0 prunes nothing", () => {
    assert.deepEqual(prunedCheckpointIds(RUN_ID, models, 0), []);
  });

  it("keep above the count prunes nothing", () => {
    assert.deepEqual(prunedCheckpointIds(RUN_ID, models, 9), []);
  });
});
