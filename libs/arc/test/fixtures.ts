import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Folder of the ARC dataset splits: NVARC_DATASETS_DIR, else the shared folder beside the checkout. */
export const datasetsDir = process.env.NVARC_DATASETS_DIR ?? resolve(repoRoot, "../shared/datasets");

/** Folder of the field case inputs beside the checkout. */
export const casesDir = resolve(repoRoot, "../shared/cases");

/** The four dataset splits every task of which must validate. */
export const DATASET_SPLITS = [
  "arc-agi-1/training",
  "arc-agi-1/evaluation",
  "arc-agi-2/training",
  "arc-agi-2/evaluation",
];

/** Reads a field case input file (for example "BR-04.json") as JSON. */
export function readCase<T = any>(fileName: string): T {
  return JSON.parse(readFileSync(resolve(casesDir, fileName), "utf8")) as T;
}

/** Returns what `action` throws, failing the test when it returns normally. */
export function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error, but the call returned normally");
}

/** Returns the reason `promise` rejects with, failing the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection, but the promise resolved");
}
