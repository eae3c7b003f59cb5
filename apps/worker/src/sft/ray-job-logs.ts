// Reads the machine-readable lines that `python -m nvarc_sidecar.sft.ray_job` prints into its job's logs.
import type { TrainUpdate } from "@nvarc/contracts";

/** Prefix of a progress line; the JSON after it has TrainUpdate's fields except deviceSeconds. */
export const PROGRESS_PREFIX = "NVARC_SFT_PROGRESS ";
/** Prefix of the failure line: {"code": lower-case gRPC status name or "worker_died", "message"}. */
export const ERROR_PREFIX = "NVARC_SFT_ERROR ";

/** A failure the Ray job reported about itself. */
export interface RayJobFailure {
  code: string;
  message: string;
}

/**
 * Reads a job's log text as it grows, poll after poll. Ray returns the whole log on
 * every read; only complete lines past the ones already read are parsed, so each
 * progress line is returned once.
 */
export class RayJobLogReader {
  private linesRead = 0;
  private lastFailure?: RayJobFailure;

  /** The failure line, if the job printed one. */
  get failure(): RayJobFailure | undefined {
    return this.lastFailure;
  }

  /** Returns the progress updates among the new complete lines of `logs` (deviceSeconds 0). */
  readNew(logs: string): TrainUpdate[] {
    const lines = logs.split("\n");
    // The last element is a line still being written, or "" after a final newline.
    const complete = lines.slice(0, -1);
    const updates: TrainUpdate[] = [];
    for (const line of complete.slice(this.linesRead)) {
      const progress = parsePrefixed(line, PROGRESS_PREFIX);
      if (progress) updates.push(toUpdate(progress));
      const failure = parsePrefixed(line, ERROR_PREFIX);
      if (failure) this.lastFailure = { code: String(failure.code ?? "internal"), message: String(failure.message ?? "") };
    }
    this.linesRead = Math.max(this.linesRead, complete.length);
    return updates;
  }
}

/**
 * Returns the last line of `logs` that reads as an error (a Python exception line or
 * a log record at error level), for a failed job that printed no failure line.
 */
export function lastErrorLine(logs: string): string | undefined {
  const lines = logs.split("\n").map((line) => line.trim()).filter(Boolean);
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const line = lines[index];
    if (/^[A-Za-z_.]*(Error|Exception)\b/.test(line) || /"level": ?"(error|critical)"/.test(line) || /\bERROR\b/.test(line)) {
      return line.slice(0, 1000);
    }
  }
  return undefined;
}

function parsePrefixed(line: string, prefix: string): Record<string, unknown> | undefined {
  // Ray may put its own prefix, such as "(TrainRank pid=123) ", before a line.
  const start = line.indexOf(prefix);
  if (start < 0) return undefined;
  try {
    const value = JSON.parse(line.slice(start + prefix.length));
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

function toUpdate(fields: Record<string, unknown>): TrainUpdate {
  const number = (name: string) => (typeof fields[name] === "number" ? (fields[name] as number) : 0);
  const text = (name: string) => (typeof fields[name] === "string" ? (fields[name] as string) : "");
  return {
    step: number("step"),
    totalSteps: number("totalSteps"),
    loss: number("loss"),
    learningRate: number("learningRate"),
    tokensSeen: number("tokensSeen"),
    deviceSeconds: 0,
    checkpointPath: text("checkpointPath"),
    done: fields.done === true,
    finalModelPath: text("finalModelPath"),
    resumedFromStep: number("resumedFromStep"),
  };
}
