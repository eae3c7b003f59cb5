export { COST_ERROR_CODES, CostError, type CostErrorCode } from "./errors.ts";
export {
  DEFAULT_PRICE_DATE,
  DEFAULT_PRICE_TABLE,
  DEFAULT_USD_PER_HOUR,
  KNOWN_GPU_TYPES,
  getPriceTable,
  listGpuTypes,
  loadPriceTable,
  usdPerHourOf,
  type KnownGpuType,
  type PriceEnv,
  type PriceTable,
} from "./price-table.ts";
export { costRecord, deviceCostUsd, type CostRecord } from "./device-cost.ts";
export { llmCostUsd, type LlmPrices, type LlmTokenUsage } from "./llm-cost.ts";
export { kagglePresetBudget, type KaggleBudget } from "./kaggle-budget.ts";
