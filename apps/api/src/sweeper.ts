import type { Logger } from "@nvarc/telemetry";
import { enqueue, type BatchServiceDeps } from "./batch-service.ts";

/**
 * Re-adds the flow of every queued batch whose last enqueue is older than
 * `sweepAfterMs` (or never happened). This covers a crash between the batch commit
 * and the enqueue. Re-adding an existing flow is harmless: BullMQ keeps the jobs it
 * already has under the same ids, and Postgres de-duplicates results by run number.
 */
export async function sweepQueuedBatches(deps: Pick<BatchServiceDeps, "config" | "db" | "flowProducer">, logger: Logger): Promise<number> {
  const batches = await deps.db.findQueuedBatchesWithoutRecentEnqueue(deps.config.sweepAfterMs);
  for (const batch of batches) {
    const tasks = await deps.db.getBatchResults(batch.id);
    await enqueue(deps, batch.id, tasks.map((task: any) => task.taskId));
    logger.warn({ batchId: batch.id, tasks: tasks.length }, "re-added the flow of a queued batch that had no recent enqueue");
  }
  return batches.length;
}

/** Runs the sweep now and then every `sweepIntervalMs`; returns a stop function. */
export function startSweeper(deps: Pick<BatchServiceDeps, "config" | "db" | "flowProducer">, logger: Logger): () => void {
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      await sweepQueuedBatches(deps, logger);
    } catch (error) {
      logger.error({ err: error }, "sweeping queued batches failed; trying again at the next interval");
    } finally {
      running = false;
    }
  };

  void sweep();
  const timer = setInterval(sweep, deps.config.sweepIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
