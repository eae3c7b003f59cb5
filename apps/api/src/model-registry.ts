import fs from "node:fs/promises";
import path from "node:path";
import type { Logger } from "@nvarc/telemetry";

/** Metadata file written next to the weights by the sidecar's model tools. */
const MODEL_CARD = "nvarc_model.json";

/**
 * Registers every model directory under `modelsDir` (a folder with config.json).
 * The registry id is the folder name; the stored path is absolute, as the sidecar
 * loads it. Missing folders are logged, not fatal: a registry may hold remote models.
 */
export async function registerLocalModels(db: any, modelsDir: string, logger: Logger): Promise<string[]> {
  let entries: string[];
  try {
    const dirents = await fs.readdir(modelsDir, { withFileTypes: true });
    // A symbolic link counts too (the test stacks link tiny-untrained); one that is not a model folder has no config.json and is skipped below.
    entries = dirents.filter((entry) => entry.isDirectory() || entry.isSymbolicLink()).map((entry) => entry.name);
  } catch (error) {
    logger.warn({ modelsDir, err: error }, "models folder is not readable; no local model registered");
    return [];
  }

  const registered: string[] = [];
  for (const name of entries.sort()) {
    const dir = path.join(modelsDir, name);
    const config = await readJson(path.join(dir, "config.json"), logger);
    if (!config) continue;

    const card = (await readJson(path.join(dir, MODEL_CARD), logger)) ?? {};
    await db.upsertModel({
      id: name,
      name: card.name ?? name,
      path: dir,
      architecture: (config.architectures ?? ["unknown"])[0],
      parameters: Number(card.parameter_count ?? card.parameters ?? 0),
      trained: card.trained === true,
      description: card.description ?? (card.trained ? "" : `untrained ${card.preset ?? ""} model, seed ${card.seed ?? "unknown"}`.replace("  ", " ")),
    });
    registered.push(name);
  }
  logger.info({ modelsDir, models: registered }, "local models registered");
  return registered;
}

/** Reads a JSON file; a missing file is normal (not a model folder), anything else is logged. */
async function readJson(file: string, logger: Logger): Promise<any | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") logger.warn({ file, err: error }, "model file is unreadable; skipping it");
    return undefined;
  }
}
