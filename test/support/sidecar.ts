import { startSidecar, type ManagedProcess } from "../../apps/cli/src/child-processes.ts";
import { createLogger } from "@nvarc/telemetry";
import { REPO_ROOT } from "./env.ts";

let own: { address: string; process: ManagedProcess } | undefined;

/**
 * Address of the sidecar the integration tests share: scripts/test.sh starts one and
 * sets NVARC_TEST_SIDECAR_ADDRESS; a test file run alone starts its own.
 */
export async function sharedSidecarAddress(): Promise<string> {
  if (process.env.NVARC_TEST_SIDECAR_ADDRESS) return process.env.NVARC_TEST_SIDECAR_ADDRESS;
  own ??= await startSidecar({ repoRoot: REPO_ROOT, env: { NVARC_SIDECAR_TORCH_THREADS: "1" } }, createLogger("test-sidecar", "warn"));
  return own.address;
}

/** Starts a sidecar of the test's own, e.g. with a small message limit. */
export function startPrivateSidecar(env: Record<string, string>) {
  return startSidecar({ repoRoot: REPO_ROOT, env: { NVARC_SIDECAR_TORCH_THREADS: "1", ...env } }, createLogger("test-sidecar", "warn"));
}

/** Stops the sidecar this process started, if any. */
export async function stopOwnSidecar(): Promise<void> {
  await own?.process.stop();
  own = undefined;
}
