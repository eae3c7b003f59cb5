import type { FastifyInstance, FastifyReply } from "fastify";
import type { SftRunRecord } from "@nvarc/db";
import type { AppDeps } from "../app.ts";
import { normalizeSftRunRequest } from "../sft-run-request.ts";
import { cancelSftRun, createSftRun } from "../sft-run-service.ts";
import { serializeModel } from "./models.ts";

const idParams = { type: "object", properties: { id: { type: "string" } }, required: ["id"] } as const;

/** Registers the SFT run routes of /v1: submit, read and cancel a supervised fine-tuning run. */
export function registerSftRunRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post("/v1/sft-runs", {
    schema: { tags: ["sft"], summary: "Start a supervised fine-tuning run of a registered model on a recorded SFT dataset, on a worker's sidecar (backend local) or a Ray cluster (backend ray)" },
  }, async (request, reply) => {
    const { request: normalized, problems } = normalizeSftRunRequest(request.body);
    if (!normalized) return reject(reply, "invalid_sft_run", problems);

    const created = await createSftRun(deps, normalized);
    if (created.rejection) return reject(reply, created.rejection.error, created.rejection.problems, created.rejection.hint);
    return reply.status(202).send({ id: created.runId, state: "queued", links: { self: `/v1/sft-runs/${created.runId}` } });
  });

  app.get<{ Params: { id: string } }>("/v1/sft-runs/:id", {
    schema: { tags: ["sft"], summary: "Run state, steps, loss curve, device seconds, cost, the models it registered and, for backend ray, the Ray job id and its log tail", params: idParams },
  }, async (request, reply) => {
    const run = await deps.db.getSftRun(request.params.id);
    if (!run) return notFound(reply, request.params.id);
    return serializeSftRun(run, await deps.db.listModelsOfSftRun(run.id));
  });

  app.delete<{ Params: { id: string } }>("/v1/sft-runs/:id", {
    schema: { tags: ["sft"], summary: "Cancel a queued or running SFT run, stopping its Train call or Ray job; its checkpoints stay on disk", params: idParams },
  }, async (request, reply) => {
    const previous = await cancelSftRun(deps, request.params.id);
    if (!previous) return notFound(reply, request.params.id);
    if (previous === "completed" || previous === "failed") {
      return reply.status(409).send({ error: "sft_run_finished", message: `the SFT run already ended ${previous} and cannot be cancelled`, hint: "Nothing to cancel." });
    }
    return reply.status(202).send({ id: request.params.id, state: "cancelled", previousState: previous });
  });
}

/** Builds the GET /v1/sft-runs/:id body from a run and the models it registered. */
export function serializeSftRun(run: SftRunRecord, models: unknown[]) {
  return {
    id: run.id,
    state: run.state,
    backend: run.backend,
    baseModelId: run.baseModelId,
    datasetId: run.datasetId,
    hyperparameters: run.hyperparameters,
    step: run.step,
    totalSteps: run.totalSteps,
    lossCurve: run.lossCurve,
    deviceSeconds: run.deviceSeconds,
    cost: { usd: run.costUsd, gpuType: run.gpuType, usdPerHour: run.usdPerHour, priceDate: run.priceDate },
    outputDir: run.outputDir,
    error: run.errorCode ? { code: run.errorCode, message: run.errorMessage } : null,
    rayJobId: run.rayJobId,
    logTail: run.logTail,
    models: models.map(serializeModel),
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
  };
}

function reject(reply: FastifyReply, error: string, problems: unknown[], hint?: string) {
  const message = `the SFT run was rejected with ${problems.length} problem(s); nothing was stored`;
  return reply.status(400).send({ error, message, problems, ...(hint ? { hint } : {}) });
}

function notFound(reply: FastifyReply, id: string) {
  return reply.status(404).send({ error: "sft_run_not_found", message: `SFT run "${id}" does not exist`, hint: "Use the id returned by POST /v1/sft-runs." });
}
