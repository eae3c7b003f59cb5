import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  COMPLETION_PROBLEM_CODES,
  decodeCompletion,
  encodeReply,
  parseCompletionText,
  type CompletionParse,
  type StopReason,
} from "../src/index.ts";
import { readCase } from "./fixtures.ts";

interface CaseDecode {
  name: string;
  text: string;
  stop: StopReason;
}

/** Expected result per decode: a grid, or the invalid code and a phrase of its reason. */
const expectedByName: Record<string, { grid: number[][] } | { code: string; reason: RegExp }> = {
  clean: { grid: [[0, 1, 2], [3, 4, 0]] },
  clean_no_final_newline: { grid: [[0, 1, 2], [3, 4, 0]] },
  ragged_rows: { code: "ragged_rows", reason: /row 1 has 2 cells, row 0 has 3/ },
  trailing_words: { code: "unexpected_character", reason: /unexpected "t" at row 2/ },
  blank_line_inside: { code: "empty_row", reason: /row 1 is empty/ },
  spaces_between_cells: { code: "unexpected_character", reason: /unexpected space at row 0, column 1/ },
  empty: { code: "empty_output", reason: /empty output/ },
  only_newline: { code: "empty_output", reason: /empty output/ },
  rows_31: { code: "too_many_rows", reason: /31 rows, limit 30/ },
  columns_31: { code: "too_many_columns", reason: /31 columns in row 0, limit 30/ },
  cut_mid_row: { code: "stopped_on_token_budget", reason: /token budget/ },
  cut_at_row_boundary: { code: "stopped_on_token_budget", reason: /token budget/ },
  second_grid_after_blank: { code: "multiple_grids", reason: /2 grids/ },
  single_cell: { grid: [[8]] },
};

function textToTokenIds(text: string): number[] {
  return Array.from(text, (character) => (character === "\n" ? 10 : Number(character)));
}

function assertParse(actual: CompletionParse, name: string): void {
  const expected = expectedByName[name];
  if ("grid" in expected) {
    assert.deepEqual(actual, { ok: true, grid: expected.grid }, name);
    return;
  }
  assert.equal(actual.ok, false, name);
  if (!actual.ok) {
    assert.equal(actual.code, expected.code, name);
    assert.match(actual.reason, expected.reason, name);
    assert.ok(actual.code in COMPLETION_PROBLEM_CODES);
  }
}

describe("completion parser", () => {
  const decodes = readCase<{ candidates: CaseDecode[] }>("BR-04.json").candidates;

  it("covers every decode of the field case", () => {
    assert.equal(decodes.length, 14);
    assert.deepEqual(decodes.map((d) => d.name).sort(), Object.keys(expectedByName).sort());
  });

  for (const decode of decodes) {
    it(`parses text of ${decode.name} strictly`, () => {
      assertParse(parseCompletionText(decode.text, decode.stop), decode.name);
    });
  }

  for (const decode of decodes.filter((d) => /^[0-9\n]*$/.test(d.text))) {
    it(`parses token ids of ${decode.name} like its text`, () => {
      const tokenIds = textToTokenIds(decode.text);
      const withEos = decode.stop === "eos" ? [...tokenIds, 15] : tokenIds;
      assertParse(decodeCompletion(withEos, decode.stop), decode.name);
      assertParse(decodeCompletion(tokenIds, decode.stop), decode.name);
    });
  }

  it("reads back every encoded reply", () => {
    const grids = [[[0]], [[1, 2, 3]], [[1], [2]], Array.from({ length: 30 }, (_, r) => new Array(30).fill(r % 10))];
    for (const grid of grids) {
      assert.deepEqual(decodeCompletion(encodeReply(grid), "eos"), { ok: true, grid });
    }
  });

  it("rejects role, start and pad tokens", () => {
    for (const id of [11, 12, 13, 14]) {
      const result = decodeCompletion([1, 2, id, 3, 15], "eos");
      assert.equal(result.ok, false);
      assert.equal(!result.ok && result.code, "unexpected_token");
    }
  });

  it("rejects unknown ids and early EOS", () => {
    const outside = decodeCompletion([1, 16, 15], "eos");
    assert.equal(!outside.ok && outside.code, "unexpected_token");
    const early = decodeCompletion([1, 15, 2, 15], "eos");
    assert.equal(!early.ok && early.code, "unexpected_token");
    assert.match(!early.ok ? early.reason : "", /end token at position 1/);
  });

  it("rejects a grid cut by time", () => {
    const result = decodeCompletion([1, 2, 15], "time_limit");
    assert.equal(!result.ok && result.code, "stopped_on_time_limit");
  });

  it("rejects extra and leading newlines", () => {
    const doubled = parseCompletionText("12\n34\n\n", "eos");
    assert.equal(!doubled.ok && doubled.code, "empty_row");
    const leading = parseCompletionText("\n12", "eos");
    assert.equal(!leading.ok && leading.code, "empty_row");
  });

  it("rejects carriage returns and tabs", () => {
    for (const text of ["12\r\n34", "1\t2"]) {
      const result = parseCompletionText(text, "eos");
      assert.equal(!result.ok && result.code, "unexpected_character");
    }
  });
});
