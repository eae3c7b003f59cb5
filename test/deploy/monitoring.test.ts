import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { interpolate, readYaml } from "./support.ts";

interface ScrapeConfig {
  job_name: string;
  metrics_path?: string;
  static_configs?: Array<{ targets: string[] }>;
  dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
}

interface PrometheusConfig {
  global: { scrape_interval: string };
  scrape_configs: ScrapeConfig[];
}

interface ComposeService {
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
}

const compose = interpolate(readYaml("docker-compose.yml")) as { services: Record<string, ComposeService> };
const prometheus = readYaml("deploy/prometheus/prometheus.yml") as PrometheusConfig;
const datasources = readYaml("deploy/grafana/provisioning/datasources/prometheus.yml") as {
  datasources: Array<{ type: string; url: string; isDefault?: boolean; jsonData?: { timeInterval?: string } }>;
};
const dashboardProviders = readYaml("deploy/grafana/provisioning/dashboards/nvarc.yml") as {
  providers: Array<{ type: string; options: { path: string } }>;
};

function scrapeJob(name: string): ScrapeConfig {
  const job = prometheus.scrape_configs.find((entry) => entry.job_name === name);
  assert.ok(job, `prometheus.yml has no job ${name}`);
  return job;
}

/** Container path where `service` mounts the repository path `source`. */
function mountTarget(service: string, source: string): string | undefined {
  const volumes = compose.services[service]?.volumes ?? [];
  return volumes.map((volume) => volume.split(":")).find(([from]) => from === source)?.[1];
}

describe("deploy/prometheus/prometheus.yml", () => {
  it("scrapes the api on NVARC_API_PORT", () => {
    const job = scrapeJob("nvarc-api");
    const port = compose.services.api.environment?.NVARC_API_PORT;
    assert.equal(job.metrics_path, "/metrics");
    assert.deepEqual(job.static_configs?.flatMap((config) => config.targets), [`api:${port}`]);
    assert.equal(port, "8080");
  });

  it("scrapes every worker replica on NVARC_WORKER_METRICS_PORT", () => {
    const job = scrapeJob("nvarc-worker");
    const port = compose.services.worker.environment?.NVARC_WORKER_METRICS_PORT;
    assert.equal(job.metrics_path, "/metrics");
    assert.deepEqual(job.dns_sd_configs?.map((config) => [config.names, config.type, String(config.port)]), [[["worker"], "A", port]]);
    assert.equal(port, "9464");
  });

  it("is mounted where the Prometheus image reads its configuration", () => {
    assert.equal(mountTarget("prometheus", "./deploy/prometheus/prometheus.yml"), "/etc/prometheus/prometheus.yml");
  });
});

describe("Grafana provisioning", () => {
  it("points the default datasource at the prometheus service", () => {
    const [datasource] = datasources.datasources;
    const url = new URL(datasource.url);
    const publishedPorts = (compose.services.prometheus.ports ?? []).map((port) => port.split(":").at(-1));

    assert.equal(datasource.type, "prometheus");
    assert.equal(datasource.isDefault, true);
    assert.equal(url.hostname, "prometheus");
    assert.ok(publishedPorts.includes(url.port), `Prometheus listens on ${publishedPorts.join(", ")}, not ${url.port}`);
  });

  it("sets the datasource interval to the scrape interval", () => {
    assert.equal(datasources.datasources[0].jsonData?.timeInterval, prometheus.global.scrape_interval);
  });

  it("loads dashboards from the folder compose mounts", () => {
    const [provider] = dashboardProviders.providers;
    assert.equal(provider.type, "file");
    assert.equal(mountTarget("grafana", "./deploy/grafana/dashboards"), provider.options.path);
    assert.equal(mountTarget("grafana", "./deploy/grafana/provisioning"), "/etc/grafana/provisioning");
  });
});
