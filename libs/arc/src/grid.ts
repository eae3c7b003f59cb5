import type { Grid } from "./types.ts";

/** Smallest number of rows or columns of a grid. */
export const MIN_GRID_SIDE = 1;

/** Largest number of rows or columns of a grid (ARC limit). */
export const MAX_GRID_SIDE = 30;

/** Number of colors; cells hold the integers 0..COLOR_COUNT-1. */
export const COLOR_COUNT = 10;

/** Height and width of a grid, in cells. */
export interface GridShape {
  rows: number;
  columns: number;
}

/** Returns the shape of a rectangular grid (columns taken from row 0). */
export function gridShape(grid: Grid): GridShape {
  return { rows: grid.length, columns: grid.length > 0 ? grid[0].length : 0 };
}

/** Returns whether a value is a color: an integer 0..9. */
export function isColor(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) < COLOR_COUNT;
}

/**
 * Returns whether a value is a valid grid: 1..30 rows, all of the same
 * length 1..30, every cell an integer color 0..9.
 */
export function isValidGrid(value: unknown): value is Grid {
  if (!Array.isArray(value) || value.length < MIN_GRID_SIDE || value.length > MAX_GRID_SIDE) {
    return false;
  }
  const first = value[0];
  if (!Array.isArray(first) || first.length < MIN_GRID_SIDE || first.length > MAX_GRID_SIDE) {
    return false;
  }
  return value.every(
    (row) => Array.isArray(row) && row.length === first.length && row.every(isColor),
  );
}

/**
 * Returns whether two grids are exactly equal. Grids of different shapes
 * compare unequal; no error is raised.
 */
export function gridsEqual(a: Grid, b: Grid): boolean {
  if (a.length !== b.length) {
    return false;
  }
  for (let r = 0; r < a.length; r++) {
    const rowA = a[r];
    const rowB = b[r];
    if (rowA.length !== rowB.length) {
      return false;
    }
    for (let c = 0; c < rowA.length; c++) {
      if (rowA[c] !== rowB[c]) {
        return false;
      }
    }
  }
  return true;
}

/**
 * Returns the identity key of a grid: each row's digits, rows joined by "/"
 * (for example [[0,1,2],[3,4,0]] gives "012/340"). Two grids have the same
 * key exactly when they are equal, because every cell is one digit.
 */
export function gridKey(grid: Grid): string {
  return grid.map((row) => row.join("")).join("/");
}

/** Returns a deep copy of a grid. */
export function copyGrid(grid: Grid): Grid {
  return grid.map((row) => row.slice());
}
