import type { Grid } from "./types.ts";

/**
 * Index of an element of the dihedral group D8 (the 8 symmetries of a
 * rectangular grid). For an input grid `a` of H rows and W columns, the
 * output cell `out[i][j]` is:
 *
 * | index | element | output shape | out[i][j] |
 * |---|---|---|---|
 * | 0 | identity | H×W | a[i][j] |
 * | 1 | rot90, a quarter turn counter-clockwise (numpy rot90 k=1) | W×H | a[j][W-1-i] |
 * | 2 | rot180 | H×W | a[H-1-i][W-1-j] |
 * | 3 | rot270, a quarter turn clockwise (numpy rot90 k=3) | W×H | a[H-1-j][i] |
 * | 4 | horizontal flip, each row reversed (numpy fliplr) | H×W | a[i][W-1-j] |
 * | 5 | vertical flip, row order reversed (numpy flipud) | H×W | a[H-1-i][j] |
 * | 6 | transpose, mirror on the main diagonal | W×H | a[j][i] |
 * | 7 | anti-transpose, mirror on the anti-diagonal | W×H | a[H-1-j][W-1-i] |
 */
export type D8Index = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;

/** The 8 D8 indices in order. */
export const D8_INDICES: readonly D8Index[] = Object.freeze([0, 1, 2, 3, 4, 5, 6, 7] as D8Index[]);

/** Names of the D8 elements by index, for logs and reports. */
export const D8_NAMES: readonly string[] = Object.freeze([
  "identity",
  "rot90",
  "rot180",
  "rot270",
  "flip_horizontal",
  "flip_vertical",
  "transpose",
  "anti_transpose",
]);

/** Returns whether a value is a D8 index 0..7. */
export function isD8Index(value: unknown): value is D8Index {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 7;
}

/** Returns whether the element swaps rows and columns (H×W becomes W×H): rot90, rot270, transpose, anti-transpose. */
export function swapsAxes(index: D8Index): boolean {
  return index === 1 || index === 3 || index === 6 || index === 7;
}

/** Returns the inverse element: rot90 and rot270 undo each other, every other element undoes itself. */
export function inverseD8(index: D8Index): D8Index {
  if (index === 1) {
    return 3;
  }
  if (index === 3) {
    return 1;
  }
  return index;
}

type SourceCell = (i: number, j: number, rows: number, columns: number) => [number, number];

/** For each element, the input cell [row, column] that output cell (i, j) copies, on an H×W input. */
const SOURCE_CELL: Record<D8Index, SourceCell> = {
  0: (i, j) => [i, j],
  1: (i, j, _h, w) => [j, w - 1 - i],
  2: (i, j, h, w) => [h - 1 - i, w - 1 - j],
  3: (i, j, h) => [h - 1 - j, i],
  4: (i, j, _h, w) => [i, w - 1 - j],
  5: (i, j, h) => [h - 1 - i, j],
  6: (i, j) => [j, i],
  7: (i, j, h, w) => [h - 1 - j, w - 1 - i],
};

/** Returns a new grid: `grid` transformed by the D8 element `index` (see D8Index for the exact maps). */
export function applyD8(index: D8Index, grid: Grid): Grid {
  const rows = grid.length;
  const columns = rows > 0 ? grid[0].length : 0;
  const [outRows, outColumns] = swapsAxes(index) ? [columns, rows] : [rows, columns];
  const source = SOURCE_CELL[index];
  const out: Grid = [];
  for (let i = 0; i < outRows; i++) {
    const row: number[] = [];
    for (let j = 0; j < outColumns; j++) {
      const [r, c] = source(i, j, rows, columns);
      row.push(grid[r][c]);
    }
    out.push(row);
  }
  return out;
}
