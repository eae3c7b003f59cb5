import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs/promises";
import path from "node:path";
import { createLogger, createMetrics, createSafeRecorder } from "@nvarc/telemetry";
import { CASES_DIR } from "../../../test/support/env.ts";
import { startTestStack, waitForBatch, type TestStack } from "../../../test/support/stack.ts";

const metricsCase = JSON.parse(await fs.readFile(path.join(CASES_DIR, "BR-13.json"), "utf8"));

/**
 * Returns the service's series of a Prometheus text page: metric name plus label set, values
 * dropped. prom-client's process metrics (prefix nvarc_process_) are left out: their
 * GC series gain a label value the first time each GC kind runs.
 */
function seriesOf(page: string): Set<string> {
  const lines = page.split("\n").filter((line) => line && !line.startsWith("#") && !line.startsWith("nvarc_process_"));
  return new Set(lines.map((line) => line.replace(/ [^ ]+$/, "")));
}

describe("metric series across batches of different sizes", () => {
  let stack: TestStack;

  before(async () => {
    stack = await startTestStack({ name: "metrics_series", worker: true });
  });
  after(async () => {
    await stack.close();
  });

  async function runBatch(tasks: object): Promise<string> {
    // Eight new tokens are plenty for the 1x1 outputs of these tasks.
    const created = await stack.api.app.inject({ method: "POST", url: "/v1/batches", payload: { tasks, options: { preset: "test", maxNewTokens: 8 } } });
    assert.equal(created.statusCode, 202, created.body);
    const batch = await waitForBatch(stack, created.json().id, 900_000);
    assert.equal(batch.state, "completed");
    await stack.api.app.inject({ method: "GET", url: `/v1/batches/${batch.id}/tasks?limit=5` });
    await stack.api.app.inject({ method: "GET", url: `/v1/batches/${batch.id}/submission.json` });
    return batch.id;
  }

  async function scrape(): Promise<{ api: string; worker: string }> {
    const api = (await stack.api.app.inject({ method: "GET", url: "/metrics" })).body;
    const worker = await (await fetch(`http://127.0.0.1:${stack.worker!.metricsServer!.port}/metrics`)).text();
    return { api, worker };
  }

  it("series stay fixed and hold no ids", async () => {
    // A first scrape, so the request counter of /metrics itself exists in both pages.
    await scrape();
    const firstBatch = await runBatch(metricsCase.first_10.tasks);
    const first = await scrape();
    const secondBatch = await runBatch(metricsCase.all_200.tasks);
    const second = await scrape();

    assert.deepEqual([...seriesOf(second.api)].sort(), [...seriesOf(first.api)].sort(), "api series changed");
    assert.deepEqual([...seriesOf(second.worker)].sort(), [...seriesOf(first.worker)].sort(), "worker series changed");

    const ids = [firstBatch, secondBatch, ...Object.keys(metricsCase.all_200.tasks)];
    for (const page of [second.api, second.worker]) {
      for (const id of ids) assert.ok(!page.includes(id), `/metrics mentions ${id}`);
    }
    assert.match(second.worker, /nvarc_task_runs_total\{outcome="completed"\} 210/);
  });
});

describe("a metric update that throws", () => {
  it("is counted and logged once, and never reaches the caller", () => {
    const metrics = createMetrics();
    const lines: string[] = [];
    const logger = createLogger("test", "warn", { write: (line: string) => lines.push(line) });
    const record = createSafeRecorder(metrics, logger);

    for (let index = 0; index < 3; index++) {
      record(() => metrics.taskRuns.inc({ outcome: "completed", unknown_label: "x" } as any));
    }

    assert.equal(lines.length, 1, "the same failure is logged once");
    assert.match(lines[0], /metric update failed/);
  });
});
