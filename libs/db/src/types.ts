// Types shared by the repositories and their callers.

/** The subset of a pino logger libs/db writes to: an object of facts first, then a constant message. */
export interface DbLogger {
  info(facts: Record<string, unknown>, message: string): void;
  warn(facts: Record<string, unknown>, message: string): void;
  error(facts: Record<string, unknown>, message: string): void;
}

/** An ARC grid: rows of colour indices 0..9, stored in JSON columns as is. */
export type Grid = number[][];

/** Task states of batch_tasks.state. */
export type TaskState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** Batch states of batches.state. */
export type BatchState = 'queued' | 'running' | 'completed' | 'cancelled';

/** Run states of task_runs.state. */
export type RunState = 'running' | 'completed' | 'failed' | 'superseded' | 'cancelled';

/** One cost row of a run, keyed by (batchId, taskId, runNumber, kind). */
export interface CostInput {
  /** `device` for accelerator time, `llm` for tokens bought from an LLM API. */
  kind: 'device' | 'llm';
  gpuType: string;
  deviceSeconds: number;
  usdPerHour: number;
  /** Date of the price table the rate came from, YYYY-MM-DD. */
  priceDate: string;
  usd: number;
}
