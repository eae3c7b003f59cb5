import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ALLOWED_DECODE_TOKEN_IDS,
  checkTokenTable,
  decodeTurns,
  encodeGrid,
  encodePairs,
  encodePrompt,
  encodeReply,
  encodeTurn,
  EOS_TOKEN_ID,
  gridTokenCount,
  pairTokenCount,
  TOKEN_TEXTS,
  turnTokenCount,
  VOCAB_SIZE,
} from "../src/index.ts";

const ids = (text: string) => text.split(" ").map(Number);
const input = [[1, 2, 3], [4, 5, 6]];
const output = [[7, 8], [9, 0]];

describe("token table", () => {
  it("lists the 16 token texts by id", () => {
    assert.equal(TOKEN_TEXTS.length, VOCAB_SIZE);
    assert.deepEqual(TOKEN_TEXTS.slice(0, 10), ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    assert.deepEqual(TOKEN_TEXTS.slice(10), ["\n", "user", "assistant", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]);
  });

  it("allows only digits, newline and EOS in replies", () => {
    assert.deepEqual([...ALLOWED_DECODE_TOKEN_IDS], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15]);
  });

  it("accepts a matching table", () => {
    const entries = TOKEN_TEXTS.map((text, id) => ({ text: id === 10 ? "Ċ" : text, id }));
    assert.doesNotThrow(() => checkTokenTable(entries.reverse()));
  });

  it("rejects swapped, missing or extra ids", () => {
    const swapped = TOKEN_TEXTS.map((text, id) => ({ text, id }));
    swapped[14].id = 15;
    swapped[15].id = 14;
    assert.throws(() => checkTokenTable(swapped), /id 14 is "<\|im_end\|>", expected "<\|im_start\|>"/);

    const missing = TOKEN_TEXTS.slice(0, 15).map((text, id) => ({ text, id }));
    assert.throws(() => checkTokenTable(missing), /id 15 is missing/);

    const extra = [...TOKEN_TEXTS.map((text, id) => ({ text, id })), { text: "<think>", id: 16 }];
    assert.throws(() => checkTokenTable(extra), /"<think>" has id 16, outside 0–15/);
  });
});

describe("dialog format", () => {
  it("encodes the worked example pair", () => {
    assert.deepEqual(encodePairs([{ input, output }]), ids("14 11 10 1 2 3 10 4 5 6 15 14 12 10 7 8 10 9 0 15"));
  });

  it("separates rows with newlines", () => {
    assert.deepEqual(encodeGrid(input), ids("1 2 3 10 4 5 6"));
    assert.deepEqual(encodeGrid([[5]]), [5]);
    assert.equal(gridTokenCount(input), encodeGrid(input).length);
  });

  it("frames a turn with 4 tokens", () => {
    assert.deepEqual(encodeTurn("assistant", [[3]]), [14, 12, 10, 3, 15]);
    assert.equal(turnTokenCount(input), encodeTurn("user", input).length);
    assert.equal(pairTokenCount({ input, output }), encodePairs([{ input, output }]).length);
  });

  it("counts tokens of a 30x30 grid", () => {
    const grid = Array.from({ length: 30 }, () => new Array(30).fill(4));
    assert.equal(encodeGrid(grid).length, 929);
    assert.equal(gridTokenCount(grid), 929);
    assert.equal(encodeReply(grid).length, 930);
  });

  it("ends a prompt with the generation prompt", () => {
    const prompt = encodePrompt([{ input, output }], [[6, 6]]);
    assert.deepEqual(prompt.slice(20), ids("14 11 10 6 6 15 14 12 10"));
  });

  it("ends a reply with EOS", () => {
    assert.deepEqual(encodeReply(output), [7, 8, 10, 9, 0, EOS_TOKEN_ID]);
  });

  it("reads turns back into roles and grids", () => {
    const prompt = encodePrompt([{ input, output }], [[6, 6]]);
    const turns = decodeTurns(prompt.slice(0, -3));
    assert.deepEqual(turns, [
      { role: "user", grid: input },
      { role: "assistant", grid: output },
      { role: "user", grid: [[6, 6]] },
    ]);
    assert.throws(() => decodeTurns(prompt.slice(0, 8)), /has no <\|im_end\|>/);
  });
});
