// JSON Schemas of the REST API, used for the OpenAPI document at /docs and for
// response serialisation. Request bodies are checked by hand (see the api's
// batch-request module) so that every problem is reported in one ProblemDetail list.

/** One problem found in a request: what, where, the bad value and how to fix it. */
export interface ProblemDetail {
  code: string;
  /** Task the problem belongs to, null for request-level problems. */
  taskId: string | null;
  /** JSON path of the bad value, e.g. "tasks.b1000002.train[0].input[2]". */
  path: string;
  /** The bad value, or its measured size when the value itself is large. */
  value: unknown;
  message: string;
  hint: string;
}

/** Options of a batch; every field is optional and falls back to the preset. */
export interface BatchOptionsInput {
  modelId?: string;
  preset?: string;
  maxSeqLen?: number;
  maxNewTokens?: number;
  minProbability?: number;
  /** false skips TTFT: decoding and scoring use the model without an adapter. */
  ttft?: boolean;
  gpuType?: string;
  budgetUsd?: number;
}

export interface CreateBatchBody {
  tasks?: Record<string, unknown>;
  dataset?: string;
  taskIds?: string[];
  limit?: number;
  options?: BatchOptionsInput;
}

const problemSchema = {
  type: "object",
  properties: {
    code: { type: "string" },
    taskId: { type: ["string", "null"] },
    path: { type: "string" },
    value: {},
    message: { type: "string" },
    hint: { type: "string" },
  },
} as const;

export const errorResponseSchema = {
  type: "object",
  properties: {
    error: { type: "string", description: "Stable error code, e.g. invalid_batch." },
    message: { type: "string" },
    problems: { type: "array", items: problemSchema },
  },
} as const;

const gridSchema = {
  type: "array",
  description: "1..30 rows of 1..30 integer cells 0..9.",
  items: { type: "array", items: { type: "integer" } },
} as const;

export const createBatchBodySchema = {
  type: "object",
  description: "Either `tasks` (inline ARC tasks keyed by task id) or `dataset` (a folder under NVARC_DATASETS_DIR).",
  properties: {
    tasks: {
      type: "object",
      additionalProperties: {
        type: "object",
        properties: {
          train: { type: "array", items: { type: "object", properties: { input: gridSchema, output: gridSchema } } },
          test: { type: "array", items: { type: "object", properties: { input: gridSchema, output: gridSchema } } },
        },
      },
    },
    dataset: { type: "string", examples: ["arc-agi-1/evaluation"] },
    taskIds: { type: "array", items: { type: "string" }, description: "Subset of the dataset's task ids." },
    limit: { type: "integer", minimum: 1, description: "Take the first N dataset tasks in id order." },
    options: {
      type: "object",
      properties: {
        modelId: { type: "string", description: "Model registry id; default: the latest promoted model, else the newest trained model registered from the models folder, else the newest model." },
        preset: { type: "string", enum: ["full", "cpu", "test"], description: "Recipe settings; default NVARC_DEFAULT_PRESET." },
        maxSeqLen: { type: "integer", minimum: 64, maximum: 131072, description: "Context in tokens for TTFT and inference." },
        maxNewTokens: { type: "integer", minimum: 2, maximum: 4096, description: "Generated tokens per completion, end token included; a 30x30 grid needs 930." },
        minProbability: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1, description: "DFS threshold." },
        ttft: { type: "boolean", description: "false skips test-time fine-tuning; decoding and scoring use the model as it is. Default true." },
        gpuType: { type: "string", description: "Price table key: cpu, l4, a100, h100, h200." },
        budgetUsd: { type: "number", exclusiveMinimum: 0, description: "Tasks starting after the batch spent this much fail with budget_exceeded." },
      },
    },
  },
} as const;

export const batchSchema = {
  type: "object",
  properties: {
    id: { type: "string" },
    state: { type: "string", enum: ["queued", "running", "completed", "cancelled"] },
    modelId: { type: "string" },
    dataset: { type: ["string", "null"] },
    options: { type: "object", additionalProperties: true },
    taskCount: { type: "integer" },
    progress: { type: "object", additionalProperties: { type: "integer" } },
    score: { type: ["number", "null"], description: "Kaggle metric: mean over scored test inputs of 'either attempt is exact'." },
    taskScore: { type: ["number", "null"], description: "Mean over scored tasks of the fraction of test inputs solved." },
    scoredTasks: { type: ["integer", "null"] },
    unscoredTasks: { type: ["integer", "null"] },
    scoredTestInputs: { type: ["integer", "null"] },
    solvedTestInputs: { type: ["integer", "null"] },
    cost: { type: "object", additionalProperties: true },
    modelTrained: { type: "boolean" },
    createdAt: { type: "string" },
    startedAt: { type: ["string", "null"] },
    finishedAt: { type: ["string", "null"] },
  },
} as const;
