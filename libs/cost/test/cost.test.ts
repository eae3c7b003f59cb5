import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  COST_ERROR_CODES,
  CostError,
  DEFAULT_PRICE_TABLE,
  costRecord,
  deviceCostUsd,
  kagglePresetBudget,
  llmCostUsd,
  loadPriceTable,
} from "../src/index.ts";

function assertInvalidArgument(fn: () => unknown, fragment: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CostError);
    assert.equal(error.code, "NVARC_ERR_COST_INVALID_ARGUMENT");
    assert.ok(error.message.includes(fragment), `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(fragment)}`);
    return true;
  });
}

describe("deviceCostUsd", () => {
  it("charges the hourly price pro rata per device second", () => {
    for (const [gpuType, usdPerHour] of Object.entries(DEFAULT_PRICE_TABLE.usdPerHour)) {
      assert.equal(deviceCostUsd(gpuType, 3600, DEFAULT_PRICE_TABLE), usdPerHour);
      assert.ok(Math.abs(deviceCostUsd(gpuType, 90, DEFAULT_PRICE_TABLE) - usdPerHour / 40) < 1e-12);
    }
  });

  it("costs nothing for zero device seconds", () => {
    assert.equal(deviceCostUsd("h200", 0, DEFAULT_PRICE_TABLE), 0);
  });

  it("uses the process price table by default", () => {
    assert.equal(deviceCostUsd("l4", 7200), 2 * loadPriceTable(process.env).usdPerHour.l4);
  });

  for (const deviceSeconds of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`rejects ${deviceSeconds} device seconds`, () => {
      assertInvalidArgument(() => deviceCostUsd("l4", deviceSeconds, DEFAULT_PRICE_TABLE), `got ${deviceSeconds}`);
    });
  }

  it("rejects an unknown GPU type", () => {
    assert.throws(() => deviceCostUsd("tpu", 10, DEFAULT_PRICE_TABLE), { code: "NVARC_ERR_COST_UNKNOWN_GPU_TYPE" });
  });
});

describe("costRecord", () => {
  it("carries the price, its date and the cost", () => {
    const table = loadPriceTable({ NVARC_PRICE_TABLE: '{"a100": 2.4}', NVARC_PRICE_DATE: "2027-06-30" });
    const record = costRecord("a100", 1800, table);

    assert.deepEqual(record, { gpuType: "a100", deviceSeconds: 1800, usdPerHour: 2.4, priceDate: "2027-06-30", usd: 1.2 });
  });

  it("agrees with deviceCostUsd", () => {
    assert.equal(costRecord("h100", 123.4, DEFAULT_PRICE_TABLE).usd, deviceCostUsd("h100", 123.4, DEFAULT_PRICE_TABLE));
  });
});

describe("llmCostUsd", () => {
  it("adds prompt and completion tokens at their prices per million", () => {
    const usd = llmCostUsd(
      { promptTokens: 2_000_000, completionTokens: 500_000 },
      { usdPerMillionPrompt: 3, usdPerMillionCompletion: 15 },
    );
    assert.equal(usd, 2 * 3 + 0.5 * 15);
  });

  it("costs nothing without tokens", () => {
    assert.equal(llmCostUsd({ promptTokens: 0, completionTokens: 0 }, { usdPerMillionPrompt: 3, usdPerMillionCompletion: 15 }), 0);
  });

  const prices = { usdPerMillionPrompt: 1, usdPerMillionCompletion: 2 };
  it("rejects fractional or negative token counts", () => {
    assertInvalidArgument(() => llmCostUsd({ promptTokens: 1.5, completionTokens: 0 }, prices), "promptTokens must be an integer >= 0, got 1.5");
    assertInvalidArgument(() => llmCostUsd({ promptTokens: 0, completionTokens: -3 }, prices), "completionTokens must be an integer >= 0, got -3");
  });

  it("rejects negative or non-finite prices", () => {
    const usage = { promptTokens: 10, completionTokens: 10 };
    assertInvalidArgument(() => llmCostUsd(usage, { ...prices, usdPerMillionPrompt: -1 }), "usdPerMillionPrompt");
    assertInvalidArgument(() => llmCostUsd(usage, { ...prices, usdPerMillionCompletion: Number.NaN }), "usdPerMillionCompletion");
  });
});

describe("kagglePresetBudget", () => {
  it("gives each task a 12-minute device deadline", () => {
    const budget = kagglePresetBudget(DEFAULT_PRICE_TABLE);

    assert.equal(budget.gpuType, "l4");
    assert.equal(budget.devices, 4);
    assert.equal(budget.hours, 12);
    assert.equal(budget.tasks, 240);
    assert.equal(budget.deviceSecondsTotal, budget.devices * budget.hours * 3600);
    assert.equal(budget.taskDeadlineSeconds, 12 * 60);
  });

  it("prices the whole budget at the L4 rate", () => {
    const budget = kagglePresetBudget(DEFAULT_PRICE_TABLE);
    assert.equal(budget.estimatedUsd, deviceCostUsd("l4", budget.deviceSecondsTotal, DEFAULT_PRICE_TABLE));

    const cheaper = loadPriceTable({ NVARC_PRICE_TABLE: '{"l4": 0.5}', NVARC_PRICE_DATE: "2027-01-01" });
    assert.equal(kagglePresetBudget(cheaper).estimatedUsd, 4 * 12 * 0.5);
  });

  it("fails when the table has no L4 price", () => {
    const table = loadPriceTable({ NVARC_PRICE_TABLE: '{"h100": 3}', NVARC_PRICE_DATE: "2027-01-01" });
    assert.throws(() => kagglePresetBudget(table), { code: "NVARC_ERR_COST_UNKNOWN_GPU_TYPE" });
  });
});

describe("CostError", () => {
  it("uses only registered codes", () => {
    const codes = new Set<string>(COST_ERROR_CODES);
    const thrown: string[] = [];
    const attempts: Array<() => unknown> = [
      () => loadPriceTable({ NVARC_PRICE_TABLE: "x", NVARC_PRICE_DATE: "2027-01-01" }),
      () => loadPriceTable({ NVARC_PRICE_TABLE: "{}" }),
      () => deviceCostUsd("nope", 1, DEFAULT_PRICE_TABLE),
      () => deviceCostUsd("l4", -1, DEFAULT_PRICE_TABLE),
    ];
    for (const attempt of attempts) {
      try {
        attempt();
      } catch (error) {
        thrown.push((error as CostError).code);
      }
    }
    assert.equal(thrown.length, attempts.length);
    for (const code of thrown) {
      assert.ok(codes.has(code), `${code} is not in COST_ERROR_CODES`);
    }
    assert.equal(new Set(thrown).size, COST_ERROR_CODES.length);
  });
});
