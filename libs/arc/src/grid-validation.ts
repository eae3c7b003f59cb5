import { COLOR_COUNT, MAX_GRID_SIDE, MIN_GRID_SIDE } from "./grid.ts";
import {
  describeValue,
  indexPath,
  jsonTypeName,
  type ProblemCollector,
  type TaskProblem,
} from "./task-problems.ts";

/** Location of a grid (task id and JSON path) and the collector its problems go to. */
export interface GridLocation {
  taskId: string | null;
  path: string;
  collector: ProblemCollector;
}

const SIDE_RULE = `${MIN_GRID_SIDE}–${MAX_GRID_SIDE}`;
const CELL_RULE = `cells are integers 0–${COLOR_COUNT - 1}`;

function isSideInRange(length: number): boolean {
  return length >= MIN_GRID_SIDE && length <= MAX_GRID_SIDE;
}

function problem(
  at: GridLocation,
  path: string,
  fields: Omit<TaskProblem, "taskId" | "path">,
): TaskProblem {
  return { taskId: at.taskId, path, ...fields };
}

/**
 * Checks a grid and adds every problem found to the location's collector.
 * It reports a grid that is not a list, a row count outside 1..30, rows that
 * are not lists, and row lengths outside 1..30. It also reports rows whose
 * length differs from the first in-range row, and cells that are not integers
 * 0..9. Scanning stops once the collector is full.
 */
export function validateGrid(value: unknown, at: GridLocation): void {
  if (!Array.isArray(value)) {
    at.collector.add(
      problem(at, at.path, {
        code: "grid_not_array",
        value: describeValue(value),
        message: `expected a grid (a list of rows), got ${jsonTypeName(value)}`,
        hint: "Write the grid as a list of rows, each row a list of integers 0–9, e.g. [[0, 1], [2, 3]].",
      }),
    );
    return;
  }

  if (!isSideInRange(value.length)) {
    at.collector.add(
      problem(at, at.path, {
        code: "grid_rows_out_of_range",
        value: `${value.length} rows`,
        message: `${value.length} rows; a grid has ${SIDE_RULE} rows`,
        hint: `Give the grid between ${MIN_GRID_SIDE} and ${MAX_GRID_SIDE} rows.`,
      }),
    );
  }

  validateRows(value, at);
}

function validateRows(rows: unknown[], at: GridLocation): void {
  const referenceIndex = rows.findIndex((row) => Array.isArray(row) && isSideInRange(row.length));
  const referenceLength = referenceIndex >= 0 ? (rows[referenceIndex] as unknown[]).length : -1;

  for (let r = 0; r < rows.length; r++) {
    if (at.collector.full) {
      at.collector.markStoppedEarly();
      return;
    }
    const row = rows[r];
    const rowPath = indexPath(at.path, r);
    if (!Array.isArray(row)) {
      at.collector.add(
        problem(at, rowPath, {
          code: "row_not_array",
          value: describeValue(row),
          message: `expected a row (a list of cells), got ${jsonTypeName(row)}`,
          hint: "Write each row as a list of integers 0–9, e.g. [0, 1, 2].",
        }),
      );
      continue;
    }
    checkRowLength(row.length, r, rowPath, referenceIndex, referenceLength, at);
    validateCells(row, rowPath, at);
  }
}

function checkRowLength(
  length: number,
  rowIndex: number,
  rowPath: string,
  referenceIndex: number,
  referenceLength: number,
  at: GridLocation,
): void {
  if (!isSideInRange(length)) {
    at.collector.add(
      problem(at, rowPath, {
        code: "row_cells_out_of_range",
        value: `${length} cells`,
        message: `${length} cells; a row has ${SIDE_RULE} cells`,
        hint: `Give every row between ${MIN_GRID_SIDE} and ${MAX_GRID_SIDE} cells.`,
      }),
    );
    return;
  }
  if (rowIndex !== referenceIndex && length !== referenceLength) {
    at.collector.add(
      problem(at, rowPath, {
        code: "ragged_row",
        value: `${length} cells`,
        message: `row has ${length} cells, row ${referenceIndex} has ${referenceLength}`,
        hint: "Make every row of the grid the same length; a grid is a rectangle.",
      }),
    );
  }
}

function validateCells(row: unknown[], rowPath: string, at: GridLocation): void {
  for (let c = 0; c < row.length; c++) {
    if (at.collector.full) {
      at.collector.markStoppedEarly();
      return;
    }
    const cellProblem = describeCellProblem(row[c]);
    if (cellProblem !== null) {
      at.collector.add(problem(at, indexPath(rowPath, c), cellProblem));
    }
  }
}

/** Returns the problem fields for a bad cell, or null for a color 0..9. */
function describeCellProblem(cell: unknown): Omit<TaskProblem, "taskId" | "path"> | null {
  if (Number.isInteger(cell)) {
    const color = cell as number;
    if (color >= 0 && color < COLOR_COUNT) {
      return null;
    }
    return {
      code: "cell_out_of_range",
      value: color,
      message: `${color} is not a color; ${CELL_RULE}`,
      hint: `Use a color number from 0 to ${COLOR_COUNT - 1}.`,
    };
  }
  return {
    code: "cell_not_integer",
    value: describeValue(cell),
    message: describeNonInteger(cell),
    hint:
      typeof cell === "string"
        ? "Write the cell as a JSON number without quotes, e.g. 1 instead of \"1\"."
        : `Use a whole number from 0 to ${COLOR_COUNT - 1}.`,
  };
}

function describeNonInteger(cell: unknown): string {
  if (typeof cell === "string") {
    return `${JSON.stringify(describeValue(cell))} is a string; ${CELL_RULE} (no silent conversion)`;
  }
  if (typeof cell === "number") {
    return `${cell} is not an integer; ${CELL_RULE}`;
  }
  return `${jsonTypeName(cell)} is not a color; ${CELL_RULE}`;
}
