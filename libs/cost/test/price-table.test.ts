import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, it } from "node:test";

import {
  CostError,
  DEFAULT_PRICE_DATE,
  DEFAULT_PRICE_TABLE,
  KNOWN_GPU_TYPES,
  listGpuTypes,
  loadPriceTable,
  usdPerHourOf,
} from "../src/index.ts";

const run = promisify(execFile);
const INDEX_URL = new URL("../src/index.ts", import.meta.url).href;
const REPO_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

function assertCostError(fn: () => unknown, code: string, ...fragments: string[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CostError, `expected CostError, got ${String(error)}`);
    assert.equal(error.code, code);
    for (const fragment of fragments) {
      assert.ok(error.message.includes(fragment), `message ${JSON.stringify(error.message)} lacks ${JSON.stringify(fragment)}`);
    }
    return true;
  });
}

describe("default price table", () => {
  it("prices every known GPU type in USD per device hour", () => {
    assert.deepEqual(listGpuTypes(DEFAULT_PRICE_TABLE), [...KNOWN_GPU_TYPES]);
    assert.deepEqual({ ...DEFAULT_PRICE_TABLE.usdPerHour }, { cpu: 0.05, l4: 0.8, a100: 1.8, h100: 3.0, h200: 3.7 });
  });

  it("is stamped with its date", () => {
    assert.equal(DEFAULT_PRICE_TABLE.priceDate, "2026-12-04");
    assert.equal(DEFAULT_PRICE_DATE, "2026-12-04");
  });

  it("is frozen", () => {
    assert.ok(Object.isFrozen(DEFAULT_PRICE_TABLE));
    assert.ok(Object.isFrozen(DEFAULT_PRICE_TABLE.usdPerHour));
  });
});

describe("loadPriceTable", () => {
  it("returns the defaults when neither variable is set", () => {
    assert.equal(loadPriceTable({}), DEFAULT_PRICE_TABLE);
    assert.equal(loadPriceTable({ NVARC_PRICE_TABLE: "", NVARC_PRICE_DATE: "" }), DEFAULT_PRICE_TABLE);
  });

  it("replaces the defaults with the table and date from the environment", () => {
    const table = loadPriceTable({ NVARC_PRICE_TABLE: '{"l4": 0.7, "a10g": 1.2}', NVARC_PRICE_DATE: "2027-01-15" });

    assert.deepEqual({ ...table.usdPerHour }, { l4: 0.7, a10g: 1.2 });
    assert.equal(table.priceDate, "2027-01-15");
    assert.ok(Object.isFrozen(table.usdPerHour));
    assertCostError(() => usdPerHourOf("h200", table), "NVARC_ERR_COST_UNKNOWN_GPU_TYPE", '"h200"', "l4, a10g");
  });

  it("rejects a table without a date", () => {
    assertCostError(
      () => loadPriceTable({ NVARC_PRICE_TABLE: '{"l4": 0.7}' }),
      "NVARC_ERR_COST_INVALID_PRICE_DATE",
      "NVARC_PRICE_DATE is missing",
      "NVARC_PRICE_DATE=",
    );
  });

  it("rejects a date without a table", () => {
    assertCostError(
      () => loadPriceTable({ NVARC_PRICE_DATE: "2027-01-15" }),
      "NVARC_ERR_COST_INVALID_PRICE_TABLE",
      "NVARC_PRICE_TABLE is missing",
      '"2027-01-15"',
      "unset NVARC_PRICE_DATE",
    );
  });

  const invalidTables: Array<{ name: string; text: string; fragment: string }> = [
    { name: "text that is not JSON", text: "l4=0.7", fragment: "not valid JSON" },
    { name: "an array", text: "[0.7]", fragment: "must be a JSON object" },
    { name: "null", text: "null", fragment: "must be a JSON object" },
    { name: "an empty object", text: "{}", fragment: "names no GPU type" },
    { name: "a negative price", text: '{"l4": -1}', fragment: "price of l4 must be a finite number >= 0" },
    { name: "a price given as text", text: '{"l4": "0.7"}', fragment: 'got "0.7"' },
    { name: "an uppercase GPU type", text: '{"L4": 0.7}', fragment: 'GPU type "L4"' },
    { name: "a GPU type with a space", text: '{"rtx 4090": 0.7}', fragment: 'GPU type "rtx 4090"' },
  ];
  for (const { name, text, fragment } of invalidTables) {
    it(`rejects ${name} in NVARC_PRICE_TABLE`, () => {
      assertCostError(
        () => loadPriceTable({ NVARC_PRICE_TABLE: text, NVARC_PRICE_DATE: "2027-01-15" }),
        "NVARC_ERR_COST_INVALID_PRICE_TABLE",
        "NVARC_PRICE_TABLE is invalid",
        fragment,
        JSON.stringify(text),
        "e.g. NVARC_PRICE_TABLE=",
      );
    });
  }

  for (const date of ["2027-02-30", "2027-13-01", "2027/01/15", "15-01-2027", "2027-1-5", "yesterday"]) {
    it(`rejects NVARC_PRICE_DATE ${date}`, () => {
      assertCostError(
        () => loadPriceTable({ NVARC_PRICE_TABLE: '{"l4": 0.7}', NVARC_PRICE_DATE: date }),
        "NVARC_ERR_COST_INVALID_PRICE_DATE",
        "NVARC_PRICE_DATE is invalid",
        JSON.stringify(date),
        "YYYY-MM-DD",
      );
    });
  }

  it("accepts a leap day", () => {
    assert.equal(loadPriceTable({ NVARC_PRICE_TABLE: '{"l4": 0.7}', NVARC_PRICE_DATE: "2028-02-29" }).priceDate, "2028-02-29");
  });
});

describe("usdPerHourOf", () => {
  it("names the unknown type and the known types", () => {
    assertCostError(
      () => usdPerHourOf("v100", DEFAULT_PRICE_TABLE),
      "NVARC_ERR_COST_UNKNOWN_GPU_TYPE",
      '"v100"',
      KNOWN_GPU_TYPES.join(", "),
      "NVARC_PRICE_TABLE",
    );
  });

  it("does not treat inherited object keys as GPU types", () => {
    assertCostError(() => usdPerHourOf("constructor", DEFAULT_PRICE_TABLE), "NVARC_ERR_COST_UNKNOWN_GPU_TYPE", '"constructor"');
  });
});

describe("getPriceTable", () => {
  async function priceTableInChild(env: Record<string, string>) {
    const script = `import { getPriceTable } from ${JSON.stringify(INDEX_URL)};
      process.stdout.write(JSON.stringify(getPriceTable()));`;
    return run(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "", ...env },
    });
  }

  it("reads the price table from the process environment", async () => {
    const { stdout } = await priceTableInChild({ NVARC_PRICE_TABLE: '{"h100": 2.5}', NVARC_PRICE_DATE: "2027-03-01" });
    assert.deepEqual(JSON.parse(stdout), { usdPerHour: { h100: 2.5 }, priceDate: "2027-03-01" });
  });

  it("stops the process with the variable named when it is invalid", async () => {
    await assert.rejects(priceTableInChild({ NVARC_PRICE_TABLE: "{", NVARC_PRICE_DATE: "2027-03-01" }), (error: { stderr: string }) => {
      assert.match(error.stderr, /NVARC_PRICE_TABLE is invalid/);
      return true;
    });
  });
});
