import { CostError } from "./errors.ts";

/** Token counts of one LLM call, as the provider bills them. */
export interface LlmTokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/** Provider prices in USD per million tokens. */
export interface LlmPrices {
  usdPerMillionPrompt: number;
  usdPerMillionCompletion: number;
}

const TOKENS_PER_MILLION = 1_000_000;

/**
 * Computes the USD cost of an LLM call from its token counts and the provider's
 * prices per million tokens, unrounded.
 *
 * @throws CostError when a count is not an integer >= 0 or a price is not a finite number >= 0.
 */
export function llmCostUsd(usage: LlmTokenUsage, prices: LlmPrices): number {
  requireTokenCount("promptTokens", usage.promptTokens);
  requireTokenCount("completionTokens", usage.completionTokens);
  requirePrice("usdPerMillionPrompt", prices.usdPerMillionPrompt);
  requirePrice("usdPerMillionCompletion", prices.usdPerMillionCompletion);

  const promptUsd = (usage.promptTokens / TOKENS_PER_MILLION) * prices.usdPerMillionPrompt;
  const completionUsd = (usage.completionTokens / TOKENS_PER_MILLION) * prices.usdPerMillionCompletion;
  return promptUsd + completionUsd;
}

function requireTokenCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new CostError(
      "NVARC_ERR_COST_INVALID_ARGUMENT",
      `${name} must be an integer >= 0, got ${String(value)}. Pass the token count from the provider's usage report.`,
    );
  }
}

function requirePrice(name: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new CostError(
      "NVARC_ERR_COST_INVALID_ARGUMENT",
      `${name} must be a finite number >= 0 (USD per million tokens), got ${String(value)}.`,
    );
  }
}
