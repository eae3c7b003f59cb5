import { CostError } from "./errors.ts";

/**
 * GPU types of the default price table. `cpu` prices a CPU-only machine that runs
 * the tiny model. The values double as Prometheus label values (`gpu_type`).
 */
export const KNOWN_GPU_TYPES = ["cpu", "l4", "a100", "h100", "h200"] as const;

/** One of {@link KNOWN_GPU_TYPES}. */
export type KnownGpuType = (typeof KNOWN_GPU_TYPES)[number];

/**
 * Default prices in USD per device hour. These are estimates of on-demand cloud
 * prices on {@link DEFAULT_PRICE_DATE}, not quotes: replace them with your own
 * through `NVARC_PRICE_TABLE` and `NVARC_PRICE_DATE`.
 */
export const DEFAULT_USD_PER_HOUR: Readonly<Record<KnownGpuType, number>> = Object.freeze({
  cpu: 0.05,
  l4: 0.8,
  a100: 1.8,
  h100: 3.0,
  h200: 3.7,
});

/** Date (YYYY-MM-DD) the default prices were stamped with. */
export const DEFAULT_PRICE_DATE = "2026-12-04";

/** Prices per GPU type, all stamped with one date. Frozen once built. */
export interface PriceTable {
  /** USD per device hour, keyed by GPU type. */
  readonly usdPerHour: Readonly<Record<string, number>>;
  /** Date (YYYY-MM-DD) the prices were taken. Every cost record carries it. */
  readonly priceDate: string;
}

/** Environment variables read by {@link loadPriceTable}. */
export interface PriceEnv {
  /** JSON object from GPU type to USD per device hour; replaces the default table. */
  NVARC_PRICE_TABLE?: string;
  /** Date (YYYY-MM-DD) of the prices in NVARC_PRICE_TABLE. */
  NVARC_PRICE_DATE?: string;
}

// GPU types become Prometheus label values and database keys, so they stay short
// lowercase identifiers.
const GPU_TYPE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const TABLE_EXAMPLE = `'{"l4":0.80,"h100":3.00}'`;

/** The default table: {@link DEFAULT_USD_PER_HOUR} stamped {@link DEFAULT_PRICE_DATE}. */
export const DEFAULT_PRICE_TABLE: PriceTable = Object.freeze({
  usdPerHour: DEFAULT_USD_PER_HOUR,
  priceDate: DEFAULT_PRICE_DATE,
});

/**
 * Builds the price table from the environment.
 *
 * With neither variable set, returns {@link DEFAULT_PRICE_TABLE}. `NVARC_PRICE_TABLE`
 * replaces the whole default table rather than merging into it, so every price in
 * use shares the one date in `NVARC_PRICE_DATE`. For the same reason the two
 * variables must be set together.
 *
 * @throws CostError naming the variable, the received value and the fix.
 */
export function loadPriceTable(env: PriceEnv = process.env): PriceTable {
  const tableText = env.NVARC_PRICE_TABLE;
  const dateText = env.NVARC_PRICE_DATE;
  const hasTable = tableText !== undefined && tableText !== "";
  const hasDate = dateText !== undefined && dateText !== "";

  if (!hasTable && !hasDate) {
    return DEFAULT_PRICE_TABLE;
  }
  if (!hasDate) {
    throw new CostError(
      "NVARC_ERR_COST_INVALID_PRICE_DATE",
      "NVARC_PRICE_DATE is missing but NVARC_PRICE_TABLE is set: every cost record is stamped with the date of its prices. " +
        "Set NVARC_PRICE_DATE to the date the prices were taken, e.g. NVARC_PRICE_DATE=2026-12-04.",
    );
  }
  if (!hasTable) {
    throw new CostError(
      "NVARC_ERR_COST_INVALID_PRICE_TABLE",
      `NVARC_PRICE_TABLE is missing but NVARC_PRICE_DATE is set to ${JSON.stringify(dateText)}: ` +
        `the default prices are dated ${DEFAULT_PRICE_DATE} and cannot be re-stamped. ` +
        `Set NVARC_PRICE_TABLE to your prices, e.g. NVARC_PRICE_TABLE=${TABLE_EXAMPLE}, or unset NVARC_PRICE_DATE.`,
    );
  }

  return Object.freeze({
    usdPerHour: Object.freeze(parsePriceTable(tableText)),
    priceDate: parsePriceDate(dateText),
  });
}

let processPriceTable: PriceTable | undefined;

/**
 * Returns the price table of this process, read from `process.env` on the first call
 * and kept afterwards. Call it at start-up so that a bad variable stops the process.
 *
 * @throws CostError as {@link loadPriceTable} does.
 */
export function getPriceTable(): PriceTable {
  processPriceTable ??= loadPriceTable(process.env);
  return processPriceTable;
}

/** GPU types priced by `table`, in the table's key order. */
export function listGpuTypes(table: PriceTable): string[] {
  return Object.keys(table.usdPerHour);
}

/**
 * Returns the USD per device hour of `gpuType` in `table`.
 *
 * @throws CostError `NVARC_ERR_COST_UNKNOWN_GPU_TYPE` naming the type and the known types.
 */
export function usdPerHourOf(gpuType: string, table: PriceTable): number {
  if (!Object.hasOwn(table.usdPerHour, gpuType)) {
    const known = listGpuTypes(table).join(", ");
    throw new CostError(
      "NVARC_ERR_COST_UNKNOWN_GPU_TYPE",
      `Unknown GPU type ${JSON.stringify(gpuType)}: the price table (dated ${table.priceDate}) knows ${known}. ` +
        "Use one of those, or add the type to NVARC_PRICE_TABLE.",
    );
  }
  return table.usdPerHour[gpuType];
}

function parsePriceTable(text: string): Record<string, number> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalidTable(text, `it is not valid JSON (${(error as Error).message})`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw invalidTable(text, "it must be a JSON object from GPU type to USD per device hour");
  }

  const entries = Object.entries(parsed as Record<string, unknown>);
  if (entries.length === 0) {
    throw invalidTable(text, "it names no GPU type");
  }

  const usdPerHour: Record<string, number> = {};
  for (const [gpuType, price] of entries) {
    if (!GPU_TYPE_PATTERN.test(gpuType)) {
      throw invalidTable(text, `GPU type ${JSON.stringify(gpuType)} must be 1 to 32 lowercase letters, digits, '_' or '-'`);
    }
    if (typeof price !== "number" || !Number.isFinite(price) || price < 0) {
      throw invalidTable(text, `the price of ${gpuType} must be a finite number >= 0 (USD per device hour), got ${JSON.stringify(price)}`);
    }
    usdPerHour[gpuType] = price;
  }
  return usdPerHour;
}

function invalidTable(text: string, problem: string): CostError {
  return new CostError(
    "NVARC_ERR_COST_INVALID_PRICE_TABLE",
    `NVARC_PRICE_TABLE is invalid: ${problem}. Received ${JSON.stringify(text)}. ` +
      `Set it to a JSON object from GPU type to USD per device hour, e.g. NVARC_PRICE_TABLE=${TABLE_EXAMPLE}.`,
  );
}

function parsePriceDate(text: string): string {
  if (!isCalendarDate(text)) {
    throw new CostError(
      "NVARC_ERR_COST_INVALID_PRICE_DATE",
      `NVARC_PRICE_DATE is invalid: received ${JSON.stringify(text)}, expected a calendar date as YYYY-MM-DD. ` +
        "Set it to the date the prices were taken, e.g. NVARC_PRICE_DATE=2026-12-04.",
    );
  }
  return text;
}

function isCalendarDate(text: string): boolean {
  const match = DATE_PATTERN.exec(text);
  if (match === null) {
    return false;
  }
  const [year, month, day] = match.slice(1).map(Number);
  // Date.UTC rolls 2026-02-30 over to March, so a date that does not exist comes back changed.
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}
