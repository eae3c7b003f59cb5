// Checks a POST /v1/sft-runs body; every problem is listed in one ProblemDetail list.
import type { ProblemDetail } from "@nvarc/contracts";
import type { SftBackend } from "@nvarc/db";

/** A checked SFT run request; the model and dataset ids are not yet looked up. */
export interface NormalizedSftRunRequest {
  baseModelId: string;
  datasetId: string;
  backend: SftBackend;
  /** camelCase fields of TrainHyperparameters; a missing one means the sidecar's default. */
  hyperparameters: Record<string, number | string>;
}

const BODY_KEYS = ["baseModelId", "datasetId", "hyperparameters", "backend"];
const BACKENDS: SftBackend[] = ["local", "ray"];

/** Hyperparameters that count steps, sequences or threads: whole numbers of at least 0. */
const INTEGER_KEYS = [
  "warmupSteps", "microBatchSequences", "gradientAccumulationSteps", "maxSteps", "epochs", "seed",
  "checkpointEverySteps", "keepCheckpoints", "torchThreads",
];
/** Real-valued hyperparameters of at least 0; learningRate must be above 0. */
const NUMBER_KEYS = ["learningRate", "minLearningRate", "weightDecay", "beta1", "beta2", "eps", "maxGradNorm"];
/** Largest value of the proto's int32 fields; seed is int64. */
const INT32_MAX = 2 ** 31 - 1;
const DTYPES = ["float32", "bfloat16", "float16"];
const HYPERPARAMETER_KEYS = [...NUMBER_KEYS, ...INTEGER_KEYS, "dtype"];

/** Checks the body of POST /v1/sft-runs; returns the request or every problem found. */
export function normalizeSftRunRequest(body: unknown): { request?: NormalizedSftRunRequest; problems: ProblemDetail[] } {
  if (!isPlainObject(body)) {
    return { problems: [problem("invalid_body", "", body === null ? null : typeof body, "the body must be a JSON object", 'Send {"baseModelId": ..., "datasetId": ..., "hyperparameters": {"learningRate": 1e-4}}.')] };
  }

  const problems: ProblemDetail[] = [];
  for (const key of Object.keys(body)) {
    if (!BODY_KEYS.includes(key)) problems.push(problem("unknown_field", key, key, `unknown field "${key}"`, `Use only ${BODY_KEYS.join(", ")}.`));
  }
  const baseModelId = requiredId(body, "baseModelId", "List models with GET /v1/models.", problems);
  const datasetId = requiredId(body, "datasetId", "Build and record a dataset with `nvarc dataset build`; its id is the artifact folder name.", problems);
  const backend = body.backend ?? "local";
  if (!BACKENDS.includes(backend as SftBackend)) {
    problems.push(problem("invalid_backend", "backend", backend, `backend must be one of ${BACKENDS.join(", ")}`, 'Leave it out for "local".'));
  }
  const hyperparameters = checkHyperparameters(body.hyperparameters, problems);

  if (problems.length > 0 || !baseModelId || !datasetId || !hyperparameters) return { problems };
  return { request: { baseModelId, datasetId, backend: backend as SftBackend, hyperparameters }, problems };
}

function requiredId(body: Record<string, unknown>, key: string, hint: string, problems: ProblemDetail[]): string | undefined {
  const value = body[key];
  if (typeof value === "string" && value.length > 0) return value;
  problems.push(problem(value === undefined ? "missing_field" : "invalid_field", key, value ?? null, `${key} must be a non-empty string`, hint));
  return undefined;
}

function checkHyperparameters(value: unknown, problems: ProblemDetail[]): Record<string, number | string> | undefined {
  if (!isPlainObject(value)) {
    problems.push(problem(value === undefined ? "missing_field" : "invalid_field", "hyperparameters", value ?? null, "hyperparameters must be an object with at least learningRate", 'Example: {"learningRate": 1e-4, "maxSteps": 100}.'));
    return undefined;
  }

  const before = problems.length;
  for (const [key, setting] of Object.entries(value)) {
    const path = `hyperparameters.${key}`;
    if (!HYPERPARAMETER_KEYS.includes(key)) {
      problems.push(problem("unknown_hyperparameter", path, key, `unknown hyperparameter "${key}"`, `Use only ${HYPERPARAMETER_KEYS.join(", ")}.`));
    } else if (key === "dtype") {
      if (!DTYPES.includes(setting as string)) problems.push(problem("invalid_hyperparameter", path, setting, `dtype must be one of ${DTYPES.join(", ")}`, "Leave it out for float32 on a CPU and bfloat16 on a GPU."));
    } else {
      checkNumber(key, setting, path, problems);
    }
  }
  if (value.learningRate === undefined) {
    problems.push(problem("missing_hyperparameter", "hyperparameters.learningRate", null, "learningRate is required", "Example: 1e-4."));
  }
  if (typeof value.minLearningRate === "number" && typeof value.learningRate === "number" && value.minLearningRate > value.learningRate) {
    problems.push(problem("invalid_hyperparameter", "hyperparameters.minLearningRate", value.minLearningRate, "minLearningRate must not exceed learningRate", "Lower it, or leave it out for 0."));
  }
  return problems.length === before ? (value as Record<string, number | string>) : undefined;
}

function checkNumber(key: string, setting: unknown, path: string, problems: ProblemDetail[]): void {
  const integer = INTEGER_KEYS.includes(key);
  const valid = typeof setting === "number" && Number.isFinite(setting) && (integer ? Number.isSafeInteger(setting) : true);
  if (!valid) {
    problems.push(problem("invalid_hyperparameter", path, setting, `${key} must be ${integer ? "a whole number" : "a finite number"}`, integer ? "Example: 100." : "Example: 1e-4."));
    return;
  }
  const positive = key === "learningRate";
  if (positive ? setting <= 0 : setting < 0) {
    problems.push(problem("invalid_hyperparameter", path, setting, `${key} must be ${positive ? "greater than 0" : "at least 0 (0 means the sidecar's default)"}`, positive ? "Example: 1e-4." : "Use 0 or a positive value."));
  } else if (integer && key !== "seed" && setting > INT32_MAX) {
    problems.push(problem("invalid_hyperparameter", path, setting, `${key} must be at most ${INT32_MAX}`, "Use a smaller value."));
  } else if ((key === "beta1" || key === "beta2") && setting >= 1) {
    problems.push(problem("invalid_hyperparameter", path, setting, `${key} must be below 1`, key === "beta1" ? "Example: 0.9." : "Example: 0.98."));
  }
}

function problem(code: string, path: string, value: unknown, message: string, hint: string): ProblemDetail {
  return { code, taskId: null, path, value, message, hint };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
