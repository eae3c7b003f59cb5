/**
 * Readers of environment variables that fail fast with a message naming the
 * variable, the value received and what is accepted.
 */
export class ConfigError extends Error {
  readonly code = "invalid_config";
}

type Env = Record<string, string | undefined>;

/** Returns the variable's value, or throws naming it when it is unset or empty. */
export function requireString(env: Env, name: string, hint: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === "") {
    throw new ConfigError(`${name} is not set. ${hint}`);
  }
  return value.trim();
}

/** Returns the variable's value, or `fallback` when it is unset or empty. */
export function optionalString(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value.trim() === "" ? fallback : value.trim();
}

/** Parses an integer variable within [min, max]; unset means `fallback`. */
export function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;

  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} is invalid: "${raw}". Use an integer from ${min} to ${max}.`);
  }
  return value;
}

/** Parses a number variable within [min, max]; unset means `fallback`. */
export function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;

  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ConfigError(`${name} is invalid: "${raw}". Use a number from ${min} to ${max}.`);
  }
  return value;
}

/** Parses one of `allowed`; unset means `fallback`. */
export function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;

  if (!(allowed as readonly string[]).includes(raw.trim())) {
    throw new ConfigError(`${name} is invalid: "${raw}". Use one of ${allowed.join(", ")}.`);
  }
  return raw.trim() as T;
}

/** Checks that a URL variable parses and uses one of the schemes. */
export function url(env: Env, name: string, schemes: string[], hint: string): string {
  const value = requireString(env, name, hint);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${name} is not a valid URL: "${redactUrl(value)}". ${hint}`);
  }
  if (!schemes.includes(parsed.protocol.replace(/:$/, ""))) {
    throw new ConfigError(`${name} must use ${schemes.join(" or ")}, got "${parsed.protocol}". ${hint}`);
  }
  return value;
}

/** Replaces the password of a URL with "***" so it can be logged. */
export function redactUrl(value: string): string {
  return value.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}
