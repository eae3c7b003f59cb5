/** Plain-text rendering of an evaluation for the terminal. */

export interface TaskRow {
  taskId: string;
  state: string;
  solvedFraction: number | null;
  testCount: number;
  timings: { ttftSeconds: number; decodeSeconds: number; scoreSeconds: number; wallSeconds: number } | null;
  costUsd: number;
  failureCode: string | null;
  /** Valid candidates are distinct grids; invalid ones are pooled by reason with a count. */
  candidates: { valid: boolean; count: number }[];
}

const COLUMNS = ["task", "state", "solved", "tests", "ttft s", "decode s", "score s", "wall s", "valid/invalid", "cost USD"];

/** Renders the per-task table with aligned columns. */
export function renderTaskTable(rows: TaskRow[]): string {
  const cells = rows.map((row) => [
    row.taskId,
    row.failureCode ? `${row.state} (${row.failureCode})` : row.state,
    solvedLabel(row),
    String(row.testCount),
    seconds(row.timings?.ttftSeconds),
    seconds(row.timings?.decodeSeconds),
    seconds(row.timings?.scoreSeconds),
    seconds(row.timings?.wallSeconds),
    `${row.candidates.filter((candidate) => candidate.valid).length}/${row.candidates.filter((candidate) => !candidate.valid).reduce((sum, candidate) => sum + candidate.count, 0)}`,
    row.costUsd.toFixed(6),
  ]);
  const widths = COLUMNS.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column].length)));
  const format = (line: string[]) => line.map((cell, column) => cell.padEnd(widths[column])).join("  ").trimEnd();
  return [format(COLUMNS), format(widths.map((width) => "-".repeat(width))), ...cells.map(format)].join("\n");
}

function solvedLabel(row: TaskRow): string {
  if (row.state !== "completed") return "-";
  if (row.solvedFraction === null) return "unscored";
  if (row.solvedFraction === 1) return "yes";
  if (row.solvedFraction === 0) return "no";
  return `${Math.round(row.solvedFraction * 100)}%`;
}

function seconds(value: number | undefined): string {
  return value === undefined ? "-" : value.toFixed(1);
}

/** Renders the batch summary: both scores, cost and the untrained-model note. */
export function renderSummary(batch: any, wallSeconds: number, submissionPath: string): string {
  const lines = [
    `batch ${batch.id}: ${batch.state}, ${plural(batch.taskCount, "task")}, model ${batch.modelId}, preset ${batch.preset}`,
    `score (Kaggle metric, mean over test inputs): ${formatScore(batch.score)}  (${batch.solvedTestInputs ?? 0}/${batch.scoredTestInputs ?? 0} test inputs)`,
    `taskScore (mean over tasks of the fraction solved): ${formatScore(batch.taskScore)}  (${batch.scoredTasks ?? 0} scored, ${batch.unscoredTasks ?? 0} unscored)`,
    `cost: $${batch.cost.usd.toFixed(6)} in all, $${batch.cost.usdPerTask.toFixed(6)} per task, ${batch.cost.deviceSeconds.toFixed(1)} device seconds, ` +
      `${batch.cost.wastedRuns} wasted runs ($${batch.cost.wastedUsd.toFixed(6)})`,
    `wall time: ${wallSeconds.toFixed(1)} s (${(wallSeconds / Math.max(1, batch.taskCount)).toFixed(1)} s per task)`,
    `submission: ${submissionPath}`,
  ];
  if (batch.note) lines.push(`note: ${batch.note}`);
  return lines.join("\n");
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function formatScore(value: number | null | undefined): string {
  return value === null || value === undefined ? "n/a" : `${(value * 100).toFixed(2)}%`;
}
