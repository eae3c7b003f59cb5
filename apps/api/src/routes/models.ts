import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.ts";

/** Registers the model registry routes: GET /v1/models and POST /v1/models/:id/promote. */
export function registerModelRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get("/v1/models", { schema: { tags: ["models"], summary: "List registered models; `default` is the id batches use when they name none" } }, async () => {
    const models = await deps.db.listModels();
    const fallback = await deps.db.getDefaultModel();
    return { default: fallback?.id ?? null, models: models.map(serializeModel) };
  });

  app.post<{ Params: { id: string } }>("/v1/models/:id/promote", {
    schema: { tags: ["models"], summary: "Make a model the default of batches that name none (the latest promotion wins)" },
  }, async (request, reply) => {
    const promoted = await deps.db.promoteModel(request.params.id);
    if (!promoted) {
      const stored = await deps.db.getModel(request.params.id);
      if (stored?.prunedAt) {
        return reply.status(409).send({ error: "model_pruned", message: `model "${stored.id}" is a checkpoint whose files were deleted at ${stored.prunedAt.toISOString()}`, hint: "Promote a checkpoint that still exists or the run's final model." });
      }
      return reply.status(404).send({ error: "model_not_found", message: `model "${request.params.id}" is not registered`, hint: "List models with GET /v1/models." });
    }
    deps.logger.info({ modelId: request.params.id }, "model promoted to default");
    return serializeModel(await deps.db.getModel(request.params.id));
  });
}

export function serializeModel(model: any) {
  return {
    id: model.id,
    name: model.name,
    path: model.path,
    architecture: model.architecture,
    parameters: Number(model.parameters),
    trained: model.trained,
    description: model.description,
    parentModelId: model.parentModelId ?? null,
    sftDatasetId: model.sftDatasetId ?? null,
    sftRunId: model.sftRunId ?? null,
    step: model.step ?? null,
    metrics: model.metrics ?? null,
    promotedAt: model.promotedAt?.toISOString() ?? null,
    prunedAt: model.prunedAt?.toISOString() ?? null,
    createdAt: model.createdAt.toISOString(),
  };
}
