// Settings shared by the integration tests, from the environment that scripts/test.sh sets.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Folder of the ARC dataset folders (arc-agi-1/evaluation, ...). */
export const DATASETS_DIR = process.env.NVARC_DATASETS_DIR ?? path.resolve(REPO_ROOT, "../shared/datasets");

/** Folder of the field-case inputs that some tests replay. */
export const CASES_DIR = process.env.NVARC_CASES_DIR ?? path.resolve(REPO_ROOT, "../shared/cases");

/** Postgres server; each test file gets a database of its own on it. */
export const TEST_DATABASE_SERVER = process.env.NVARC_TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432";

export const TEST_REDIS_URL = process.env.NVARC_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** The repository's models folder: tiny-untrained (made by scripts/setup.sh) and the committed trained model. */
export const REPO_MODELS_DIR = path.join(REPO_ROOT, "models");

/**
 * Models folder of the test stacks: only tiny-untrained, linked from the repository,
 * so batches that name no model run the untrained model whatever else models/ holds.
 */
export const MODELS_DIR = untrainedModelsDir();

function untrainedModelsDir(): string {
  const dir = path.join(os.tmpdir(), "nvarc-test-models");
  fs.mkdirSync(dir, { recursive: true });
  try {
    fs.symlinkSync(path.join(REPO_MODELS_DIR, "tiny-untrained"), path.join(dir, "tiny-untrained"), "dir");
  } catch (error) {
    // Another test process made the same link first.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return dir;
}
