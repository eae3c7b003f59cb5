/**
 * The 16-token vocabulary of the NVARC model (Qwen3 cut to 16 entries), by id.
 * Ids 0-9 are the colors, one token per cell. Each id is the rank of the
 * token's original Qwen3 id, so the loaded model's table must match exactly.
 */
export const TOKEN_TEXTS: readonly string[] = Object.freeze([
  "0",
  "1",
  "2",
  "3",
  "4",
  "5",
  "6",
  "7",
  "8",
  "9",
  "\n",
  "user",
  "assistant",
  "<|endoftext|>",
  "<|im_start|>",
  "<|im_end|>",
]);

/** Number of tokens in the vocabulary. */
export const VOCAB_SIZE = 16;

/** Newline: ends a grid row and the role header of a turn. */
export const NEWLINE_TOKEN_ID = 10;
/** Role word `user`: an input grid follows. */
export const USER_TOKEN_ID = 11;
/** Role word `assistant`: an output grid follows. */
export const ASSISTANT_TOKEN_ID = 12;
/** `<|endoftext|>`: the pad token (also the tokenizer's unknown token). */
export const PAD_TOKEN_ID = 13;
/** `<|im_start|>`: starts a turn. */
export const IM_START_TOKEN_ID = 14;
/** `<|im_end|>`: ends a turn; the end-of-sequence (EOS) token of generation. */
export const EOS_TOKEN_ID = 15;

/**
 * Tokens a decoder may emit in a reply: the digits 0-9, newline and EOS.
 * Role words, the turn start and the pad token are never expanded.
 */
export const ALLOWED_DECODE_TOKEN_IDS: readonly number[] = Object.freeze([
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, NEWLINE_TOKEN_ID, EOS_TOKEN_ID,
]);

/**
 * Byte-level spelling of the newline token in Hugging Face tokenizer files
 * (vocab.json writes byte 0x0A as "Ċ"); accepted as an alias for "\n".
 */
export const BYTE_LEVEL_NEWLINE = "Ċ";

/** One entry of a model's token table. */
export interface TokenTableEntry {
  text: string;
  id: number;
}

/**
 * Throws an Error listing every difference between a loaded model's token
 * table and TOKEN_TEXTS: missing, duplicated, extra or renamed ids. The
 * newline may be given as "\n" or "Ċ". Returns normally when they match.
 */
export function checkTokenTable(entries: readonly TokenTableEntry[]): void {
  const differences: string[] = [];
  const textById = new Map<number, string>();

  for (const { text, id } of entries) {
    if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) {
      differences.push(`token ${JSON.stringify(text)} has id ${id}, outside 0–${VOCAB_SIZE - 1}`);
      continue;
    }
    if (textById.has(id)) {
      differences.push(`id ${id} appears twice (${JSON.stringify(textById.get(id))} and ${JSON.stringify(text)})`);
      continue;
    }
    textById.set(id, text === BYTE_LEVEL_NEWLINE ? "\n" : text);
  }

  TOKEN_TEXTS.forEach((expected, id) => {
    const actual = textById.get(id);
    if (actual === undefined) {
      differences.push(`id ${id} is missing, expected ${JSON.stringify(expected)}`);
    } else if (actual !== expected) {
      differences.push(`id ${id} is ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
    }
  });

  if (differences.length > 0) {
    throw new Error(
      `model token table does not match the 16-token ARC vocabulary: ${differences.join("; ")}. ` +
        "Load a model whose tokenizer was cut to the 16 tokens in this order.",
    );
  }
}
