import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";

import { readRepoFile, repoPath } from "./support.ts";

interface Instruction {
  keyword: string;
  args: string;
}

/** Parses a Dockerfile into instructions, joining continuation lines and dropping comments. */
function parseDockerfile(relativePath: string): Instruction[] {
  const lines = readRepoFile(relativePath)
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"));
  const joined = lines.join("\n").replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(" ") };
    });
}

/** Source paths of the COPY instructions that read the build context. */
function copySources(instructions: Instruction[]): string[] {
  return instructions
    .filter((instruction) => instruction.keyword === "COPY" && !instruction.args.includes("--from="))
    .flatMap((instruction) => instruction.args.split(/\s+/).filter((part) => !part.startsWith("--")).slice(0, -1));
}

function indexOfInstruction(instructions: Instruction[], keyword: string, pattern: RegExp): number {
  return instructions.findIndex((instruction) => instruction.keyword === keyword && pattern.test(instruction.args));
}

function globToRegExp(pattern: string): RegExp {
  let source = "";
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i];
    if (pattern.startsWith("**/", i)) {
      source += "(?:.*/)?";
      i += 2;
    } else if (pattern.startsWith("**", i)) {
      source += ".*";
      i += 1;
    } else if (char === "*") {
      source += "[^/]*";
    } else if (char === "?") {
      source += "[^/]";
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${source}$`);
}

/**
 * Tells whether .dockerignore keeps `path` out of the build context. As in Docker,
 * the last matching line wins, `!` re-includes, and a pattern that matches a folder
 * matches everything inside it.
 */
function isIgnored(path: string): boolean {
  const patterns = readRepoFile(".dockerignore")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const parts = path.replace(/\/$/, "").split("/");
  const prefixes = parts.map((_, index) => parts.slice(0, index + 1).join("/"));

  let ignored = false;
  for (const line of patterns) {
    const negated = line.startsWith("!");
    const regExp = globToRegExp((negated ? line.slice(1) : line).replace(/^\//, ""));
    if (prefixes.some((prefix) => regExp.test(prefix))) {
      ignored = !negated;
    }
  }
  return ignored;
}

describe(".dockerignore", () => {
  it("keeps installed packages and local state out of the build context", () => {
    for (const path of [".git", "node_modules/tsx", "libs/db/node_modules/x", "apps/sidecar/.venv/bin/python", "models/tiny-untrained/config.json", "data/datasets/a.json"]) {
      assert.ok(isIgnored(path), `${path} is not ignored`);
    }
  });

  it("keeps sources and manifests in the build context", () => {
    for (const path of ["package.json", "package-lock.json", "libs/cost/src/index.ts", "apps/sidecar/requirements.txt", "prisma/schema.prisma", "models/README.md", "models/tiny-arc/model.safetensors"]) {
      assert.equal(isIgnored(path), false, `${path} is ignored`);
    }
  });
});

for (const dockerfile of ["docker/node.Dockerfile", "docker/sidecar.Dockerfile"]) {
  describe(`${dockerfile} context`, () => {
    it("copies only paths that exist and are not ignored", () => {
      for (const source of copySources(parseDockerfile(dockerfile))) {
        assert.ok(existsSync(repoPath(source)), `${dockerfile} copies ${source}, which does not exist`);
        assert.equal(isIgnored(source), false, `${dockerfile} copies ${source}, which .dockerignore excludes`);
      }
    });
  });
}

describe("docker/node.Dockerfile", () => {
  const instructions = parseDockerfile("docker/node.Dockerfile");
  const npmCi = indexOfInstruction(instructions, "RUN", /\bnpm ci\b/);

  it("builds on node:20-slim", () => {
    assert.equal(instructions.filter((instruction) => instruction.keyword === "FROM").map((instruction) => instruction.args).join(), "node:20-slim");
  });

  it("skips the onnxruntime download before npm ci", () => {
    const env = indexOfInstruction(instructions, "ENV", /\bONNXRUNTIME_NODE_INSTALL=skip\b/);
    assert.ok(npmCi > 0, "npm ci is missing");
    assert.ok(env >= 0, "ONNXRUNTIME_NODE_INSTALL=skip is not set");
    assert.ok(env < npmCi, "ONNXRUNTIME_NODE_INSTALL=skip must be set before npm ci");
  });

  it("copies every workspace manifest before npm ci", () => {
    const rootManifest = JSON.parse(readRepoFile("package.json")) as { workspaces: string[] };
    const copiedBeforeCi = copySources(instructions.slice(0, npmCi));

    for (const file of ["package.json", "package-lock.json"]) {
      assert.ok(copiedBeforeCi.includes(file), `${file} is not copied before npm ci`);
    }
    for (const workspace of rootManifest.workspaces) {
      assert.ok(copiedBeforeCi.includes(`${workspace}/package.json`), `${workspace}/package.json is not copied before npm ci`);
    }
  });

  it("copies the sources of every workspace", () => {
    const rootManifest = JSON.parse(readRepoFile("package.json")) as { workspaces: string[] };
    const copied = copySources(instructions.slice(npmCi));
    for (const workspace of rootManifest.workspaces) {
      const covered = copied.some((source) => workspace === source || workspace.startsWith(`${source}/`));
      assert.ok(covered, `the sources of ${workspace} are not copied`);
    }
  });

  it("runs TypeScript through tsx", () => {
    const cmd = instructions.filter((instruction) => instruction.keyword === "CMD").at(-1);
    assert.deepEqual(JSON.parse(cmd?.args ?? "null"), ["node", "--import", "tsx", "apps/api/src/main.ts"]);
  });
});

describe("docker/sidecar.Dockerfile", () => {
  const instructions = parseDockerfile("docker/sidecar.Dockerfile");
  const argDefault = (name: string) =>
    instructions.find((instruction) => instruction.keyword === "ARG" && instruction.args.startsWith(`${name}=`))?.args.split("=")[1];

  it("builds on python:3.11-slim", () => {
    assert.equal(instructions.find((instruction) => instruction.keyword === "FROM")?.args, "python:3.11-slim");
  });

  it("installs the torch version pinned in requirements.txt", () => {
    const pin = /^torch==(\S+)$/m.exec(readRepoFile("apps/sidecar/requirements.txt"));
    assert.ok(pin, "apps/sidecar/requirements.txt does not pin torch");
    assert.equal(argDefault("TORCH_VERSION"), pin[1]);
  });

  it("installs the CPU build of torch by default", () => {
    assert.match(argDefault("TORCH_INDEX_URL") ?? "", /\/whl\/cpu$/);
  });

  it("generates the gRPC stubs where scripts/generate.sh puts them", () => {
    const generate = readRepoFile("scripts/generate.sh");
    const pythonOut = /^PY_OUT=(\S+)$/m.exec(generate)?.[1];
    const protoRoot = /^PROTO_ROOT=(\S+)$/m.exec(generate)?.[1];
    const protoc = instructions.find((instruction) => instruction.keyword === "RUN" && instruction.args.includes("grpc_tools.protoc"));

    assert.ok(pythonOut, "scripts/generate.sh no longer sets PY_OUT");
    assert.ok(protoRoot, "scripts/generate.sh no longer sets PROTO_ROOT");
    assert.ok(protoc, "the image does not run grpc_tools.protoc");
    for (const flag of ["--python_out", "--grpc_python_out", "--pyi_out"]) {
      assert.ok(protoc.args.includes(`${flag}=${pythonOut}`), `${flag} must be ${pythonOut}`);
    }
    assert.ok(protoc.args.includes(`-I ${protoRoot}`), `the proto root must be ${protoRoot}`);
  });

  it("creates the tiny model as scripts/setup.sh does", () => {
    const setup = /-m (nvarc_sidecar\.create_model [^\n]+)$/m.exec(readRepoFile("scripts/setup.sh"));
    const cmd = instructions.filter((instruction) => instruction.keyword === "CMD").at(-1);
    assert.ok(setup, "scripts/setup.sh no longer creates the tiny model");
    assert.ok(cmd?.args.includes(setup[1]), `CMD must run ${setup[1]}`);
    assert.match(cmd?.args ?? "", /exec python -m nvarc_sidecar"\]$/);
  });
});
