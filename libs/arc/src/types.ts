/**
 * A grid of colors: rows of cells, each cell an integer color 0..9.
 * A valid grid has 1..30 rows, all rows of the same length 1..30.
 */
export type Grid = number[][];

/** A demonstration pair: an input grid and the output grid the rule maps it to. */
export interface Pair {
  input: Grid;
  output: Grid;
}

/** A test input; `output` is the ground truth and is absent when it is unknown. */
export interface TestInput {
  input: Grid;
  output?: Grid;
}

/** An ARC task: at least one demonstration pair and at least one test input. */
export interface ArcTask {
  train: Pair[];
  test: TestInput[];
}
