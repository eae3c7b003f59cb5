import type { FastifyInstance, FastifyReply } from "fastify";
import { createBatchBodySchema, errorResponseSchema } from "@nvarc/contracts";
import type { AppDeps } from "../app.ts";
import { normalizeBatchRequest } from "../batch-request.ts";
import { buildBatchSubmission, cancelBatch, createBatch } from "../batch-service.ts";
import { serializeBatch, serializeTask } from "../serializers.ts";

const idParams = { type: "object", properties: { id: { type: "string", format: "uuid" } }, required: ["id"] } as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_PAGE = 100;
const acceptedSchema = {
  type: "object",
  properties: {
    id: { type: "string" }, state: { type: "string" }, taskCount: { type: "integer" },
    links: { type: "object", additionalProperties: { type: "string" } },
  },
} as const;

/** Registers the batch routes of /v1. */
export function registerBatchRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.post("/v1/batches", {
    schema: { tags: ["batches"], summary: "Submit a batch of ARC tasks", body: createBatchBodySchema, response: { 202: acceptedSchema, 400: errorResponseSchema } },
    // The schema above documents the body; normalizeBatchRequest checks it so that
    // every problem comes back in one list with its path, value and fix.
    validatorCompiler: () => (data) => ({ value: data }),
  }, async (request, reply) => {
    const { request: normalized, problems } = await normalizeBatchRequest(request.body, deps.config);
    if (!normalized) return rejectBatch(reply, problems);

    const created = await createBatch(deps, normalized);
    if (!created.batchId) return rejectBatch(reply, created.problems);
    return reply.status(202).send({ id: created.batchId, state: "queued", taskCount: Object.keys(normalized.tasks).length, links: links(created.batchId) });
  });

  app.get<{ Params: { id: string } }>("/v1/batches/:id", { schema: { tags: ["batches"], summary: "Batch state, progress, scores and cost", params: idParams } }, async (request, reply) => {
    const batch = await findBatch(deps, request.params.id, reply);
    if (!batch) return;
    const model = await deps.db.getModel(batch.modelId);
    return serializeBatch(batch, model, await deps.db.getBatchProgress(batch.id), await deps.db.sumCosts(batch.id));
  });

  app.get<{ Params: { id: string }; Querystring: { cursor?: string; limit?: string } }>("/v1/batches/:id/tasks", {
    schema: {
      tags: ["batches"], summary: "Per-task results, cursor paginated by task position", params: idParams,
      querystring: { type: "object", properties: { cursor: { type: "string" }, limit: { type: "string" } } },
    },
  }, async (request, reply) => {
    const batch = await findBatch(deps, request.params.id, reply);
    if (!batch) return;
    const page = parsePage(request.query, reply);
    if (!page) return;

    const result = await deps.db.listBatchTasksPage(batch.id, page);
    return { tasks: result.items.map(serializeTask), nextCursor: result.nextCursor === null ? null : String(result.nextCursor) };
  });

  app.get<{ Params: { id: string }; Querystring: { partial?: string } }>("/v1/batches/:id/submission.json", {
    schema: { tags: ["batches"], summary: "Kaggle-format submission; 409 while running unless ?partial=true", params: idParams },
  }, async (request, reply) => {
    const batch = await findBatch(deps, request.params.id, reply);
    if (!batch) return;

    const finished = batch.state === "completed" || batch.state === "cancelled";
    if (!finished && request.query.partial !== "true") {
      const progress = await deps.db.getBatchProgress(batch.id);
      const left = (progress.queued ?? 0) + (progress.running ?? 0);
      return reply.status(409).send({ error: "batch_not_finished", message: `the batch is ${batch.state} with ${left} of ${batch.taskCount} tasks left`, tasksLeft: left, hint: "Wait for state completed, or add ?partial=true for the attempts found so far." });
    }
    return buildBatchSubmission(deps, batch.id);
  });

  app.delete<{ Params: { id: string } }>("/v1/batches/:id", { schema: { tags: ["batches"], summary: "Cancel a batch and its running sidecar calls", params: idParams } }, async (request, reply) => {
    if (!UUID.test(request.params.id)) return notFound(reply, request.params.id);
    const result = await cancelBatch(deps, request.params.id);
    if (!result.found) return notFound(reply, request.params.id);
    if (result.previousState === "completed") {
      return reply.status(409).send({ error: "batch_finished", message: "the batch already completed and cannot be cancelled", hint: "Nothing to cancel." });
    }
    return reply.status(202).send({ id: request.params.id, state: "cancelled", previousState: result.previousState });
  });
}

function rejectBatch(reply: FastifyReply, problems: unknown[]) {
  return reply.status(400).send({ error: "invalid_batch", message: `the batch was rejected with ${problems.length} problem(s); nothing was stored`, problems });
}

async function findBatch(deps: AppDeps, id: string, reply: FastifyReply) {
  const batch = UUID.test(id) ? await deps.db.getBatch(id) : null;
  if (!batch) notFound(reply, id);
  return batch;
}

function notFound(reply: FastifyReply, id: string) {
  return reply.status(404).send({ error: "batch_not_found", message: `batch "${id}" does not exist`, hint: "Use the id returned by POST /v1/batches." });
}

function parsePage(query: { cursor?: string; limit?: string }, reply: FastifyReply): { cursor?: number; limit: number } | undefined {
  const limit = query.limit === undefined ? 50 : Number(query.limit);
  const cursor = query.cursor === undefined ? undefined : Number(query.cursor);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    reply.status(400).send({ error: "invalid_limit", message: `limit must be an integer from 1 to ${MAX_PAGE}, got "${query.limit}"`, hint: `Use e.g. limit=50.` });
    return undefined;
  }
  if (cursor !== undefined && (!Number.isInteger(cursor) || cursor < 0)) {
    reply.status(400).send({ error: "invalid_cursor", message: `cursor must be a value of nextCursor, got "${query.cursor}"`, hint: "Leave it out for the first page." });
    return undefined;
  }
  return { cursor, limit };
}

function links(batchId: string) {
  return {
    self: `/v1/batches/${batchId}`,
    tasks: `/v1/batches/${batchId}/tasks`,
    submission: `/v1/batches/${batchId}/submission.json`,
  };
}
