import { applyD8, inverseD8, isD8Index, type D8Index } from "./d8.ts";
import { COLOR_COUNT } from "./grid.ts";
import type { Grid, Pair } from "./types.ts";

/**
 * One augmentation of a task, applied to every grid of it alike.
 * - `d8`: the geometric element, numbered as in D8Index.
 * - `colors`: a permutation of 0..9; a cell of color c becomes `colors[c]`.
 *   All ten colors move, 0 included.
 * - `pairOrder`: a permutation of the demonstration indices; augmented pair k
 *   is original pair `pairOrder[k]`. The test input always stays last.
 */
export interface AugmentationSpec {
  d8: D8Index;
  colors: number[];
  pairOrder: number[];
}

function isPermutation(values: unknown, size: number): values is number[] {
  if (!Array.isArray(values) || values.length !== size) {
    return false;
  }
  const seen = new Set<number>();
  for (const value of values) {
    if (!Number.isInteger(value) || value < 0 || value >= size || seen.has(value)) {
      return false;
    }
    seen.add(value);
  }
  return true;
}

/**
 * Throws a RangeError naming the field when a spec is malformed: `d8` outside
 * 0..7, `colors` not a permutation of 0..9, or `pairOrder` not a permutation
 * of 0..pairCount-1 (pass pairCount to check it).
 */
export function checkAugmentationSpec(spec: AugmentationSpec, pairCount?: number): void {
  if (!isD8Index(spec.d8)) {
    throw new RangeError(`augmentation d8 must be an integer 0..7, got ${JSON.stringify(spec.d8)}`);
  }
  if (!isPermutation(spec.colors, COLOR_COUNT)) {
    throw new RangeError(`augmentation colors must be a permutation of 0..9, got ${JSON.stringify(spec.colors)}`);
  }
  if (pairCount !== undefined && !isPermutation(spec.pairOrder, pairCount)) {
    throw new RangeError(
      `augmentation pairOrder must be a permutation of 0..${pairCount - 1}, got ${JSON.stringify(spec.pairOrder)}`,
    );
  }
}

/** Returns the identity augmentation for a task with `pairCount` demonstration pairs. */
export function identitySpec(pairCount: number): AugmentationSpec {
  return {
    d8: 0,
    colors: Array.from({ length: COLOR_COUNT }, (_, c) => c),
    pairOrder: Array.from({ length: pairCount }, (_, i) => i),
  };
}

/** Returns the inverse color permutation: `inverse[colors[c]] = c`. */
export function invertColors(colors: readonly number[]): number[] {
  const inverse = new Array<number>(colors.length);
  colors.forEach((newColor, oldColor) => {
    inverse[newColor] = oldColor;
  });
  return inverse;
}

function recolor(grid: Grid, colors: readonly number[]): Grid {
  return grid.map((row) => row.map((cell) => colors[cell]));
}

/** Returns a new grid: `grid` under the spec's D8 element, then its color permutation. */
export function applyGrid(spec: AugmentationSpec, grid: Grid): Grid {
  return recolor(applyD8(spec.d8, grid), spec.colors);
}

/**
 * Maps a grid from the augmented frame back to the original frame: the
 * inverse color permutation first, then the inverse D8 element.
 * `invertGrid(spec, applyGrid(spec, g))` equals `g` for every grid g.
 */
export function invertGrid(spec: AugmentationSpec, grid: Grid): Grid {
  return applyD8(inverseD8(spec.d8), recolor(grid, invertColors(spec.colors)));
}

/**
 * Returns the augmented demonstration list: pairs reordered by `pairOrder`,
 * every grid transformed by applyGrid. Throws a RangeError when the spec does
 * not fit the pair count.
 */
export function augmentPairs(spec: AugmentationSpec, pairs: readonly Pair[]): Pair[] {
  checkAugmentationSpec(spec, pairs.length);
  return spec.pairOrder.map((index) => ({
    input: applyGrid(spec, pairs[index].input),
    output: applyGrid(spec, pairs[index].output),
  }));
}
