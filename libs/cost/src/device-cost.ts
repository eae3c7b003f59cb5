import { CostError } from "./errors.ts";
import { getPriceTable, usdPerHourOf, type PriceTable } from "./price-table.ts";

const SECONDS_PER_HOUR = 3600;

/**
 * Device cost of one run, shaped like a `cost_records` row of kind `device`.
 * `usd` = `deviceSeconds` / 3600 × `usdPerHour`, unrounded.
 */
export interface CostRecord {
  gpuType: string;
  /** Wall-clock seconds the run held the device. */
  deviceSeconds: number;
  /** Price used, in USD per device hour. */
  usdPerHour: number;
  /** Date (YYYY-MM-DD) of the price table the price came from. */
  priceDate: string;
  usd: number;
}

/**
 * Computes the USD cost of holding a device of `gpuType` for `deviceSeconds`,
 * unrounded. The price table defaults to {@link getPriceTable}.
 *
 * @throws CostError for an unknown GPU type or a negative or non-finite duration.
 */
export function deviceCostUsd(gpuType: string, deviceSeconds: number, table: PriceTable = getPriceTable()): number {
  return costRecord(gpuType, deviceSeconds, table).usd;
}

/**
 * Builds the device cost record of a run: the price, its date and the cost. The
 * price table defaults to {@link getPriceTable}.
 *
 * @throws CostError for an unknown GPU type or a negative or non-finite duration.
 */
export function costRecord(gpuType: string, deviceSeconds: number, table: PriceTable = getPriceTable()): CostRecord {
  if (typeof deviceSeconds !== "number" || !Number.isFinite(deviceSeconds) || deviceSeconds < 0) {
    throw new CostError(
      "NVARC_ERR_COST_INVALID_ARGUMENT",
      `deviceSeconds must be a finite number >= 0, got ${String(deviceSeconds)}. Pass the device seconds the sidecar reported.`,
    );
  }

  const usdPerHour = usdPerHourOf(gpuType, table);
  return {
    gpuType,
    deviceSeconds,
    usdPerHour,
    priceDate: table.priceDate,
    usd: (deviceSeconds / SECONDS_PER_HOUR) * usdPerHour,
  };
}
