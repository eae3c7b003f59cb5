import { GENERATION_PROMPT_TOKEN_IDS, pairTokenCount, turnTokenCount } from "./dialog-format.ts";
import type { ArcTask, Pair } from "./types.ts";

/** Context length of TTFT and inference in the NVARC recipe, in tokens. */
export const DEFAULT_MAX_SEQ_LEN = 8192;

/**
 * New-token budget of a decode in the NVARC recipe: the longest reply (a 30×30
 * grid is 929 tokens, plus EOS) and one token of margin.
 */
export const DEFAULT_MAX_NEW_TOKENS = 931;

/** Token limits of a model run. */
export interface ContextLimits {
  /** Maximum tokens of one sequence (prompt plus reply, or one TTFT sequence). */
  maxSeqLen: number;
  /** Tokens reserved for the generated reply. */
  maxNewTokens: number;
}

/** Returns the token budget of a decode or scoring prompt: maxSeqLen minus the reply budget. */
export function maxPromptTokens(limits: ContextLimits): number {
  return limits.maxSeqLen - limits.maxNewTokens;
}

const numberFormat = new Intl.NumberFormat("en-US");

/** Code of the problem raised when even one demonstration pair does not fit the context. */
export const TASK_EXCEEDS_CONTEXT = "task_exceeds_context";

/** A task that cannot fit the model's context even with a single demonstration pair. */
export interface ContextProblem {
  code: typeof TASK_EXCEEDS_CONTEXT;
  /** Minimum tokens the task needs, in tokens. */
  neededTokens: number;
  /** The limit it was checked against, in tokens. */
  limitTokens: number;
  /** For example "task_exceeds_context: needs at least 3,733 tokens, limit 2,048". */
  message: string;
}

function contextProblem(neededTokens: number, limitTokens: number): ContextProblem {
  return {
    code: TASK_EXCEEDS_CONTEXT,
    neededTokens,
    limitTokens,
    message: `${TASK_EXCEEDS_CONTEXT}: needs at least ${numberFormat.format(neededTokens)} tokens, limit ${numberFormat.format(limitTokens)}`,
  };
}

/**
 * Thrown when a sequence cannot be built because even one demonstration pair
 * does not fit. It is a property of the task, so retrying cannot help.
 */
export class TaskExceedsContextError extends Error {
  readonly code = TASK_EXCEEDS_CONTEXT;
  readonly neededTokens: number;
  readonly limitTokens: number;

  constructor(neededTokens: number, limitTokens: number) {
    super(contextProblem(neededTokens, limitTokens).message);
    this.name = "TaskExceedsContextError";
    this.neededTokens = neededTokens;
    this.limitTokens = limitTokens;
  }
}

/** Pairs chosen to fit a token budget, in their original order. */
export interface FittedPairs {
  pairs: Pair[];
  /** Tokens the chosen pairs take. */
  pairTokens: number;
}

/**
 * Chooses the demonstration pairs that fit `budgetTokens`, never cutting a
 * grid: pairs that alone exceed the budget are left out, then whole pairs are
 * dropped from the front of the (already shuffled) list until the rest fits.
 * Returns null when no pair fits. Runs in one pass over the pairs.
 */
export function fitPairs(pairs: readonly Pair[], budgetTokens: number): FittedPairs | null {
  const costs = pairs.map(pairTokenCount);
  const kept: Pair[] = [];
  let pairTokens = 0;
  for (let i = pairs.length - 1; i >= 0; i--) {
    if (costs[i] > budgetTokens) {
      continue;
    }
    if (pairTokens + costs[i] > budgetTokens) {
      break;
    }
    kept.push(pairs[i]);
    pairTokens += costs[i];
  }
  return kept.length === 0 ? null : { pairs: kept.reverse(), pairTokens };
}

/** Returns the token count of the cheapest demonstration pair of a task. */
export function minPairTokens(train: readonly Pair[]): number {
  return Math.min(...train.map(pairTokenCount));
}

/**
 * Returns the fewest tokens a task needs to run at all: its cheapest pair,
 * the user turn of its largest test input, the generation prompt and the
 * reply budget `maxNewTokens`.
 */
export function requiredContextTokens(task: ArcTask, maxNewTokens: number): number {
  const largestTestTurn = Math.max(...task.test.map((test) => turnTokenCount(test.input)));
  return minPairTokens(task.train) + largestTestTurn + GENERATION_PROMPT_TOKEN_IDS.length + maxNewTokens;
}

/**
 * Returns the task_exceeds_context problem when the task cannot run within
 * `limits` even with one demonstration pair, else null. A task that passes
 * fits every TTFT sequence and every decode and scoring prompt by dropping
 * pairs (D8 and color augmentations do not change token counts).
 */
export function checkTaskFitsContext(task: ArcTask, limits: ContextLimits): ContextProblem | null {
  const neededTokens = requiredContextTokens(task, limits.maxNewTokens);
  return neededTokens > limits.maxSeqLen ? contextProblem(neededTokens, limits.maxSeqLen) : null;
}
