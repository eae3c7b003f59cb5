import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../app.ts";

/** GET /v1/models: the model registry. */
export function registerModelRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get("/v1/models", { schema: { tags: ["models"], summary: "List registered models" } }, async () => {
    const models = await deps.db.listModels();
    return { models: models.map(serializeModel) };
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
    promotedAt: model.promotedAt?.toISOString() ?? null,
    createdAt: model.createdAt.toISOString(),
  };
}
