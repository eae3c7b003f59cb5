import type { Grid, Pair } from "./types.ts";
import {
  ASSISTANT_TOKEN_ID,
  EOS_TOKEN_ID,
  IM_START_TOKEN_ID,
  NEWLINE_TOKEN_ID,
  USER_TOKEN_ID,
} from "./tokens.ts";

/** Role of a turn: `user` turns hold input grids, `assistant` turns output grids. */
export type Role = "user" | "assistant";

/** Tokens that open a turn before its grid: `<|im_start|>`, the role word, newline. */
export const TURN_HEADER_TOKEN_COUNT = 3;

/** Framing tokens per turn: the 3 header tokens and the closing `<|im_end|>`. */
export const TURN_FRAMING_TOKEN_COUNT = 4;

/** The generation prompt `<|im_start|>assistant\n` that ends every decode prompt. */
export const GENERATION_PROMPT_TOKEN_IDS: readonly number[] = Object.freeze([
  IM_START_TOKEN_ID,
  ASSISTANT_TOKEN_ID,
  NEWLINE_TOKEN_ID,
]);

const ROLE_TOKEN_IDS: Record<Role, number> = { user: USER_TOKEN_ID, assistant: ASSISTANT_TOKEN_ID };

/** Returns the token count of an H×W grid: H·W digits plus H−1 newlines. */
export function gridTokenCount(grid: Grid): number {
  const rows = grid.length;
  const columns = rows > 0 ? grid[0].length : 0;
  return rows * columns + rows - 1;
}

/** Returns the token count of one turn holding `grid`: grid tokens plus 4 framing tokens. */
export function turnTokenCount(grid: Grid): number {
  return gridTokenCount(grid) + TURN_FRAMING_TOKEN_COUNT;
}

/** Returns the token count of a pair: its user turn plus its assistant turn. */
export function pairTokenCount(pair: Pair): number {
  return turnTokenCount(pair.input) + turnTokenCount(pair.output);
}

/** Encodes a grid row by row: one digit token per cell, newline (10) between rows, none at the end. */
export function encodeGrid(grid: Grid): number[] {
  const tokenIds: number[] = [];
  grid.forEach((row, r) => {
    if (r > 0) {
      tokenIds.push(NEWLINE_TOKEN_ID);
    }
    tokenIds.push(...row);
  });
  return tokenIds;
}

/** Encodes one turn: `<|im_start|>` role newline, the grid, `<|im_end|>`. */
export function encodeTurn(role: Role, grid: Grid): number[] {
  return [IM_START_TOKEN_ID, ROLE_TOKEN_IDS[role], NEWLINE_TOKEN_ID, ...encodeGrid(grid), EOS_TOKEN_ID];
}

/** Encodes pairs as alternating user and assistant turns, with nothing between turns. */
export function encodePairs(pairs: readonly Pair[]): number[] {
  const tokenIds: number[] = [];
  for (const pair of pairs) {
    tokenIds.push(...encodeTurn("user", pair.input), ...encodeTurn("assistant", pair.output));
  }
  return tokenIds;
}

/**
 * Encodes a decode prompt: the demonstration pairs, a user turn with the
 * test input, then the generation prompt `14 12 10`.
 */
export function encodePrompt(pairs: readonly Pair[], testInput: Grid): number[] {
  return [...encodePairs(pairs), ...encodeTurn("user", testInput), ...GENERATION_PROMPT_TOKEN_IDS];
}

/** Encodes the reply the model should produce for a prompt: the grid tokens then EOS (15). */
export function encodeReply(grid: Grid): number[] {
  return [...encodeGrid(grid), EOS_TOKEN_ID];
}

/** One turn read back from a token sequence. */
export interface DecodedTurn {
  role: Role;
  grid: Grid;
}

/**
 * Reads a token sequence made of complete turns back into roles and grids.
 * Throws an Error naming the position when the sequence is not a series of
 * well-formed turns (for example when a turn was cut). Used to check samples.
 */
export function decodeTurns(tokenIds: readonly number[]): DecodedTurn[] {
  const turns: DecodedTurn[] = [];
  let position = 0;
  while (position < tokenIds.length) {
    const role = roleOfToken(tokenIds[position + 1]);
    if (tokenIds[position] !== IM_START_TOKEN_ID || role === null || tokenIds[position + 2] !== NEWLINE_TOKEN_ID) {
      throw new Error(`no turn header at token ${position}`);
    }
    const end = tokenIds.indexOf(EOS_TOKEN_ID, position + TURN_HEADER_TOKEN_COUNT);
    if (end < 0) {
      throw new Error(`turn starting at token ${position} has no <|im_end|>`);
    }
    turns.push({ role, grid: gridFromTokens(tokenIds.slice(position + TURN_HEADER_TOKEN_COUNT, end), position) });
    position = end + 1;
  }
  return turns;
}

function roleOfToken(id: number | undefined): Role | null {
  if (id === USER_TOKEN_ID) {
    return "user";
  }
  if (id === ASSISTANT_TOKEN_ID) {
    return "assistant";
  }
  return null;
}

function gridFromTokens(tokenIds: readonly number[], turnStart: number): Grid {
  const rows: Grid = [[]];
  for (const id of tokenIds) {
    if (id === NEWLINE_TOKEN_ID) {
      rows.push([]);
    } else if (id >= 0 && id <= 9) {
      rows[rows.length - 1].push(id);
    } else {
      throw new Error(`turn starting at token ${turnStart} contains non-grid token ${id}`);
    }
  }
  if (rows.some((row) => row.length !== rows[0].length || row.length === 0)) {
    throw new Error(`turn starting at token ${turnStart} does not hold a rectangular grid`);
  }
  return rows;
}
