/** Error codes of the cost library. A code, once published, is never reused. */
export const COST_ERROR_CODES = [
  "NVARC_ERR_COST_INVALID_PRICE_TABLE",
  "NVARC_ERR_COST_INVALID_PRICE_DATE",
  "NVARC_ERR_COST_UNKNOWN_GPU_TYPE",
  "NVARC_ERR_COST_INVALID_ARGUMENT",
] as const;

/** One of {@link COST_ERROR_CODES}. */
export type CostErrorCode = (typeof COST_ERROR_CODES)[number];

/**
 * Error raised for invalid price configuration or invalid cost inputs. The message
 * names the variable or argument, the received value and the fix.
 */
export class CostError extends Error {
  readonly code: CostErrorCode;

  constructor(code: CostErrorCode, message: string) {
    super(message);
    this.name = "CostError";
    this.code = code;
  }
}
