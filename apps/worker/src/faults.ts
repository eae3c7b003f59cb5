import type { Logger } from "@nvarc/telemetry";

/**
 * Faults injected by reliability tests through NVARC_TEST_FAULT; empty in production.
 *
 * - `block_event_loop:<ms>` busy-waits after the sidecar returned, before the result
 *   write, so the job's lock expires and another worker takes the job.
 * - `kill_after_write` sends SIGKILL to this process right after the result commits,
 *   before BullMQ marks the job complete.
 */
export async function injectFault(fault: string, point: "after_sidecar" | "after_commit", logger: Logger): Promise<void> {
  if (!fault) return;

  if (point === "after_sidecar" && fault.startsWith("block_event_loop")) {
    const busyMs = Number(fault.split(":")[1] ?? 5000);
    logger.warn({ busyMs }, "test fault: blocking the event loop");
    const until = Date.now() + busyMs;
    while (Date.now() < until) {
      // Busy wait on purpose: timers, including BullMQ's lock renewal, cannot run.
    }
  }

  if (point === "after_commit" && fault === "kill_after_write") {
    logger.warn("test fault: SIGKILL after the result write");
    process.kill(process.pid, "SIGKILL");
    await new Promise(() => {});
  }
}
