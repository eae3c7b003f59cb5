import { MAX_GRID_SIDE } from "./grid.ts";
import { EOS_TOKEN_ID, NEWLINE_TOKEN_ID, TOKEN_TEXTS } from "./tokens.ts";
import type { Grid } from "./types.ts";

/**
 * Why decoding stopped: `eos` when the model emitted `<|im_end|>`,
 * `max_tokens` when the new-token budget ran out, `time_limit` when a time
 * guard ended the call.
 */
export type StopReason = "eos" | "max_tokens" | "time_limit";

/**
 * Stable codes of invalid completions, each with what it means. An invalid
 * completion is stored and counted by code, never scored.
 */
export const COMPLETION_PROBLEM_CODES = {
  stopped_on_token_budget: "Decoding stopped on the new-token budget before the end token, even if the text is a tidy grid.",
  stopped_on_time_limit: "Decoding stopped on a time guard before the end token.",
  unknown_stop_reason: "The stop reason is not one of eos, max_tokens, time_limit.",
  unexpected_token: "The token ids hold a role word, turn start, pad, an id outside 0-15, or an end token before the last position.",
  unexpected_character: "The text holds a character other than the digits 0-9 and newline (a space, a letter, ...).",
  empty_output: "The text holds no digit: it is empty or only newlines.",
  empty_row: "A row is empty: a blank line inside the grid, at its start, or more than one newline at the end.",
  multiple_grids: "Two or more grids of at least 2 rows each are separated by blank lines.",
  too_many_rows: "The grid has more than 30 rows.",
  too_many_columns: "A row has more than 30 cells.",
  ragged_rows: "A row has a different number of cells than row 0.",
} as const;

/** One of the stable invalid-completion codes. */
export type CompletionProblemCode = keyof typeof COMPLETION_PROBLEM_CODES;

/** Result of parsing a completion: a grid, or an invalid completion with its code and a readable reason. */
export type CompletionParse =
  | { ok: true; grid: Grid }
  | { ok: false; code: CompletionProblemCode; reason: string };

function invalid(code: CompletionProblemCode, reason: string): CompletionParse {
  return { ok: false, code, reason };
}

function checkStopReason(stopReason: StopReason): CompletionParse | null {
  if (stopReason === "eos") {
    return null;
  }
  if (stopReason === "max_tokens") {
    return invalid("stopped_on_token_budget", "stopped on the token budget before the end token");
  }
  if (stopReason === "time_limit") {
    return invalid("stopped_on_time_limit", "stopped on the time limit before the end token");
  }
  return invalid("unknown_stop_reason", `unknown stop reason ${JSON.stringify(stopReason)}`);
}

/**
 * Parses generated token ids strictly into a grid. Only digits (0-9) and
 * newline (10) may appear. One EOS (15) may follow as the last id, and the
 * caller may also leave it out. Any other id makes the completion invalid
 * (`unexpected_token`). The digits and newlines are then read by
 * parseCompletionText with the same stop reason.
 */
export function decodeCompletion(tokenIds: readonly number[], stopReason: StopReason): CompletionParse {
  const stopped = checkStopReason(stopReason);
  if (stopped !== null) {
    return stopped;
  }

  let text = "";
  for (let i = 0; i < tokenIds.length; i++) {
    const id = tokenIds[i];
    if (id === EOS_TOKEN_ID) {
      if (i === tokenIds.length - 1) {
        break;
      }
      return invalid("unexpected_token", `end token at position ${i} is followed by ${tokenIds.length - 1 - i} more tokens`);
    }
    if (Number.isInteger(id) && id >= 0 && id <= NEWLINE_TOKEN_ID) {
      text += TOKEN_TEXTS[id];
      continue;
    }
    const known = Number.isInteger(id) && id >= 0 && id < TOKEN_TEXTS.length;
    const what = known ? `token ${id} (${JSON.stringify(TOKEN_TEXTS[id])})` : `token id ${id}, outside the 16-token vocabulary,`;
    return invalid("unexpected_token", `${what} at position ${i}; a reply holds only digits, newlines and the end token`);
  }
  return parseCompletionText(text, stopReason);
}

const CHARACTER_NAMES: Record<string, string> = { " ": "space", "\t": "tab", "\r": "carriage return" };

function findUnexpectedCharacter(text: string): string | null {
  let row = 0;
  let column = 0;
  for (const character of text) {
    if (character === "\n") {
      row += 1;
      column = 0;
      continue;
    }
    if (character < "0" || character > "9") {
      const name = CHARACTER_NAMES[character] ?? JSON.stringify(character);
      return `unexpected ${name} at row ${row}, column ${column}; a reply holds only digits and newlines`;
    }
    column += 1;
  }
  return null;
}

/**
 * Parses a completion's text strictly into a grid. The text is the reply
 * without the end token, with "\n" for the newline token. Valid: rows of
 * digits separated by single newlines, at most one trailing newline,
 * rectangular, 1..30 rows by 1..30 columns, and decoding stopped on the end
 * token. Anything else is invalid with a code and reason; nothing is repaired.
 */
export function parseCompletionText(text: string, stopReason: StopReason): CompletionParse {
  const stopped = checkStopReason(stopReason);
  if (stopped !== null) {
    return stopped;
  }
  const unexpected = findUnexpectedCharacter(text);
  if (unexpected !== null) {
    return invalid("unexpected_character", unexpected);
  }
  if (!/[0-9]/.test(text)) {
    return invalid("empty_output", text.length === 0 ? "empty output" : "empty output: only newlines");
  }

  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  const rows = body.split("\n");
  const shapeProblem = checkRows(rows);
  if (shapeProblem !== null) {
    return shapeProblem;
  }
  return { ok: true, grid: rows.map((row) => Array.from(row, Number)) };
}

function checkRows(rows: readonly string[]): CompletionParse | null {
  const emptyIndex = rows.indexOf("");
  if (emptyIndex >= 0) {
    return describeBlankLine(rows, emptyIndex);
  }
  if (rows.length > MAX_GRID_SIDE) {
    return invalid("too_many_rows", `${rows.length} rows, limit ${MAX_GRID_SIDE}`);
  }
  const wideIndex = rows.findIndex((row) => row.length > MAX_GRID_SIDE);
  if (wideIndex >= 0) {
    return invalid("too_many_columns", `${rows[wideIndex].length} columns in row ${wideIndex}, limit ${MAX_GRID_SIDE}`);
  }
  const raggedIndex = rows.findIndex((row) => row.length !== rows[0].length);
  if (raggedIndex >= 0) {
    return invalid("ragged_rows", `row ${raggedIndex} has ${rows[raggedIndex].length} cells, row 0 has ${rows[0].length}`);
  }
  return null;
}

/**
 * Classifies a blank row as `multiple_grids` or `empty_row`. When the blank
 * lines split the text into two or more blocks of at least 2 rows each, the
 * reply contains more than one grid. Otherwise the grid has an empty row.
 * Either way no block is taken as the grid.
 */
function describeBlankLine(rows: readonly string[], emptyIndex: number): CompletionParse {
  const blocks: number[] = [];
  let current = 0;
  for (const row of rows) {
    if (row === "") {
      if (current > 0) {
        blocks.push(current);
      }
      current = 0;
    } else {
      current += 1;
    }
  }
  if (current > 0) {
    blocks.push(current);
  }
  if (blocks.length >= 2 && blocks.every((size) => size >= 2)) {
    return invalid("multiple_grids", `${blocks.length} grids separated by blank lines; a reply holds one grid`);
  }
  return invalid("empty_row", `row ${emptyIndex} is empty`);
}
