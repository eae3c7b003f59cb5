import { checkTokenTable } from "@nvarc/arc";
import type { WorkerDeps } from "./deps.ts";

/** Seconds allowed for LoadModel; a 4B model in bf16 reads about 8 GB from disk. */
const LOAD_MODEL_TIMEOUT_MS = 600_000;

/**
 * Makes sure the sidecar has the batch's model loaded and that its token table is the
 * 16-token dialog format. Called before every run, so a restarted sidecar is loaded
 * again; loading the model already loaded is a cheap no-op on the sidecar.
 */
export async function ensureModelLoaded(deps: WorkerDeps, modelPath: string, dtype: string, signal: AbortSignal): Promise<void> {
  const reply = await deps.sidecar.loadModel({ modelPath, dtype }, { timeoutMs: LOAD_MODEL_TIMEOUT_MS, signal });

  if (deps.loadedModels.get(modelPath) !== reply.dtype) {
    checkTokenTable(reply.tokens);
    deps.loadedModels.clear();
    deps.loadedModels.set(modelPath, reply.dtype);
    deps.logger.info({ modelPath, dtype: reply.dtype, device: reply.device, parameters: reply.parameterCount }, "model loaded on the sidecar");
  }
}
