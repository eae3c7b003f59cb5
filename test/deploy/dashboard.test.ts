import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { renderDashboard } from "../../deploy/grafana/build-dashboard.ts";
import { BUILD_COMMAND, DASHBOARD_PATH, DASHBOARD_UID } from "../../deploy/grafana/dashboard/overview.ts";
import { METRIC_CATALOGUE, TARGET_LABELS } from "./metric-catalogue.ts";
import { readRepoFile } from "./support.ts";

interface Target {
  datasource: { type: string; uid: string };
  expr: string;
  refId: string;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig?: { defaults: { unit?: string } };
  targets?: Target[];
}

interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  templating: { list: Array<{ name: string; type: string; query: string }> };
  panels: Panel[];
}

// Grafana unit ids that this project's dashboards use. A misspelt unit shows raw numbers.
const GRAFANA_UNITS = new Set(["currencyUSD", "percentunit", "short", "s", "ms", "opm", "ops", "reqps", "bytes"]);

const committed = readRepoFile(DASHBOARD_PATH);
const dashboard = JSON.parse(committed) as Dashboard;
const dataPanels = dashboard.panels.filter((panel) => panel.type !== "row");
const queries = dataPanels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, expr: target.expr })));

/** Series names in a PromQL expression, e.g. `nvarc_task_stage_seconds_bucket`. */
function seriesNames(expr: string): string[] {
  return [...expr.matchAll(/\bnvarc_[a-z0-9_]+/g)].map((match) => match[0]);
}

/** Catalogue name and spec of a series name, accepting histogram suffixes. */
function lookUpMetric(series: string) {
  if (METRIC_CATALOGUE[series]) {
    return { name: series, spec: METRIC_CATALOGUE[series], suffix: "" };
  }
  const match = /^(.*)_(bucket|sum|count)$/.exec(series);
  const spec = match ? METRIC_CATALOGUE[match[1]] : undefined;
  return spec?.type === "histogram" ? { name: match![1], spec, suffix: match![2] } : undefined;
}

describe("deploy/grafana/dashboards/nvarc.json", () => {
  it("matches what build-dashboard.ts generates", () => {
    assert.ok(committed === renderDashboard(), `${DASHBOARD_PATH} is out of date: run \`${BUILD_COMMAND}\``);
  });

  it("names its generator and says not to edit it", () => {
    assert.match(dashboard.description, /deploy\/grafana\/build-dashboard\.ts/);
    assert.match(dashboard.description, /do not edit/i);
  });

  it("has a stable uid, a title and tags", () => {
    assert.equal(dashboard.uid, DASHBOARD_UID);
    assert.ok(dashboard.title);
    assert.ok(dashboard.tags.includes("nvarc"));
  });

  it("declares a Prometheus datasource variable", () => {
    const variable = dashboard.templating.list.find((entry) => entry.name === "datasource");
    assert.equal(variable?.type, "datasource");
    assert.equal(variable?.query, "prometheus");
  });

  it("reads every panel and query through the datasource variable", () => {
    for (const panel of dataPanels) {
      assert.deepEqual(panel.datasource, { type: "prometheus", uid: "${datasource}" }, panel.title);
      assert.ok((panel.targets ?? []).length > 0, `${panel.title} has no query`);
      for (const target of panel.targets ?? []) {
        assert.deepEqual(target.datasource, panel.datasource, `${panel.title} ${target.refId}`);
      }
    }
  });

  it("gives every panel a known unit and a description", () => {
    for (const panel of dataPanels) {
      const unit = panel.fieldConfig?.defaults.unit ?? "";
      assert.ok(GRAFANA_UNITS.has(unit), `${panel.title} has unit ${JSON.stringify(unit)}`);
      assert.ok(panel.description, `${panel.title} has no description`);
    }
  });

  it("uses unique panel ids and non-overlapping positions", () => {
    const ids = dashboard.panels.map((panel) => panel.id);
    assert.equal(new Set(ids).size, ids.length);

    const occupied = new Set<string>();
    for (const { title, gridPos } of dashboard.panels) {
      assert.ok(gridPos.x >= 0, `${title} starts left of the grid`);
      assert.ok(gridPos.x + gridPos.w <= 24, `${title} leaves the 24-column grid`);
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x += 1) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y += 1) {
          assert.ok(!occupied.has(`${x},${y}`), `${title} overlaps another panel at ${x},${y}`);
          occupied.add(`${x},${y}`);
        }
      }
    }
  });

  it("queries only metrics of the catalogue", () => {
    for (const { panel, expr } of queries) {
      for (const series of seriesNames(expr)) {
        assert.ok(lookUpMetric(series), `${panel} queries ${series}, which no process exports`);
      }
    }
  });

  it("charts every metric of the catalogue", () => {
    const charted = new Set(queries.flatMap(({ expr }) => seriesNames(expr).map((series) => lookUpMetric(series)?.name)));
    for (const name of Object.keys(METRIC_CATALOGUE)) {
      assert.ok(charted.has(name), `${name} is not charted`);
    }
  });

  it("groups and filters only by labels the metrics carry", () => {
    for (const { panel, expr } of queries) {
      const metrics = seriesNames(expr).map((series) => lookUpMetric(series)!);
      const hasHistogram = metrics.some((metric) => metric.suffix === "bucket");
      const known = new Set<string>([...TARGET_LABELS, ...(hasHistogram ? ["le"] : [])]);
      metrics.forEach((metric) => Object.keys(metric.spec.labels).forEach((label) => known.add(label)));

      for (const match of expr.matchAll(/\bby \(([^)]*)\)/g)) {
        for (const label of match[1].split(",").map((part) => part.trim())) {
          assert.ok(known.has(label), `${panel} groups by ${label}, which its metrics lack`);
        }
      }
    }
  });

  it("filters only on label values the metrics emit", () => {
    for (const { panel, expr } of queries) {
      for (const match of expr.matchAll(/\b(nvarc_[a-z0-9_]+)\{([^}]*)\}/g)) {
        const { spec } = lookUpMetric(match[1])!;
        for (const matcher of match[2].split(",")) {
          const [, label, value] = /^\s*([a-z_]+)\s*=\s*"([^"]*)"\s*$/.exec(matcher) ?? [];
          assert.ok(label, `${panel}: unsupported matcher ${matcher}`);
          assert.ok(label in spec.labels, `${panel} filters on ${label}, which ${match[1]} lacks`);
          const allowed = spec.labels[label];
          assert.ok(allowed === null || allowed.includes(value), `${panel}: ${label}="${value}" is not one of ${allowed?.join(", ")}`);
        }
      }
    }
  });

  it("reads histograms through histogram_quantile over _bucket by le", () => {
    for (const { panel, expr } of queries) {
      for (const series of seriesNames(expr)) {
        const metric = lookUpMetric(series)!;
        if (metric.spec.type === "histogram") {
          assert.equal(metric.suffix, "bucket", `${panel} reads ${series}`);
          assert.match(expr, /^histogram_quantile\(0\.\d+, sum by \(le, [a-z_, ]+\) \(rate\(/, panel);
        }
      }
    }
  });

  it("takes rates over Grafana's interval variables only", () => {
    for (const { panel, expr } of queries) {
      for (const match of expr.matchAll(/\[([^\]]+)\]/g)) {
        assert.ok(["$__rate_interval", "$__range"].includes(match[1]), `${panel} uses the fixed window [${match[1]}]`);
      }
      assert.doesNotMatch(expr, /\b(rate|increase)\((nvarc_[a-z0-9_]+)(\{[^}]*\})?\)/, `${panel} takes a rate without a window`);
    }
  });

  it("balances brackets in every query", () => {
    const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" };
    for (const { panel, expr } of queries) {
      const stack: string[] = [];
      for (const char of expr.replace(/"[^"]*"/g, '""')) {
        if ("([{".includes(char)) {
          stack.push(char);
        } else if (char in pairs) {
          assert.equal(stack.pop(), pairs[char], `${panel}: unbalanced ${char} in ${expr}`);
        }
      }
      assert.deepEqual(stack, [], `${panel}: unclosed ${stack.join("")} in ${expr}`);
    }
  });

  it("divides spend by completed task runs for cost per task", () => {
    const panel = dataPanels.find((entry) => entry.type === "timeseries" && entry.title === "Cost per completed task");
    const expr = panel?.targets?.[0]?.expr ?? "";
    assert.equal(panel?.fieldConfig?.defaults.unit, "currencyUSD");
    const [numerator, denominator] = expr.split("\n/\n");
    assert.match(numerator, /^sum\(rate\(nvarc_cost_usd_total\[\$__rate_interval\]\)\)$/);
    assert.match(denominator, /^\(sum\(rate\(nvarc_task_runs_total\{outcome="completed"\}\[\$__rate_interval\]\)\) > 0\)$/);
  });
});
