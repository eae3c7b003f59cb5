/** Helpers shared by the deployment tests: repository paths, YAML loading, Compose interpolation. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { parse } from "yaml";

/** Absolute path of the repository root, with a trailing slash. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Absolute path of `relativePath` inside the repository. */
export function repoPath(relativePath: string): string {
  return `${REPO_ROOT}${relativePath}`;
}

/** Reads a repository file as UTF-8 text. */
export function readRepoFile(relativePath: string): string {
  return readFileSync(repoPath(relativePath), "utf8");
}

/** Parses a repository YAML file, resolving `<<` merge keys as Compose does. */
export function readYaml(relativePath: string): unknown {
  return parse(readRepoFile(relativePath), { merge: true });
}

const VARIABLE = /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * Applies Compose variable interpolation to every string in `node`: `${VAR}`,
 * `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `$VAR`, and `$$` for a
 * literal dollar sign. Unset variables come from `env` (empty by default, so the
 * file's own defaults apply).
 *
 * @throws Error for `${VAR:?message}` or `${VAR?message}` when VAR is unset.
 */
export function interpolate(node: unknown, env: Record<string, string> = {}): unknown {
  if (typeof node === "string") {
    return node.replace(VARIABLE, (match, braced?: string, operator?: string, argument?: string, bare?: string) => {
      if (match === "$$") {
        return "$";
      }
      const name = (braced ?? bare) as string;
      const value = env[name];
      const isUnset = operator?.startsWith(":") ? value === undefined || value === "" : value === undefined;
      if (operator?.endsWith("?") && isUnset) {
        throw new Error(`required variable ${name} is unset: ${argument}`);
      }
      if (operator?.endsWith("-") && isUnset) {
        return argument ?? "";
      }
      return value ?? "";
    });
  }
  if (Array.isArray(node)) {
    return node.map((item) => interpolate(item, env));
  }
  if (node !== null && typeof node === "object") {
    return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, interpolate(value, env)]));
  }
  return node;
}
