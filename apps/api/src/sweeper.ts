import type { Logger } from "@nvarc/telemetry";
import { enqueue, type BatchServiceDeps } from "./batch-service.ts";
import { enqueueSftRun, type SftRunServiceDeps } from "./sft-run-service.ts";

/** Dependencies of the sweeper: the batch flow producer and the SFT queue. */
export type SweeperDeps = Pick<BatchServiceDeps, "config" | "db" | "flowProducer"> & Pick<SftRunServiceDeps, "sftQueue">;

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

/**
 * Re-adds the `sft-run` job of every run still queued `sweepAfterMs` after it was
 * created. This covers a crash between the run's insert and its job's add. A run
 * whose job is still in the queue keeps that job, because the job id is the run id.
 */
export async function sweepQueuedSftRuns(deps: Pick<SweeperDeps, "config" | "db" | "sftQueue">, logger: Logger): Promise<number> {
  const runIds = await deps.db.findQueuedSftRunsOlderThan(deps.config.sweepAfterMs);
  let added = 0;
  for (const runId of runIds) {
    if (await deps.sftQueue.getJob(runId)) continue;
    await enqueueSftRun(deps, runId);
    logger.warn({ sftRunId: runId }, "re-added the job of a queued SFT run that had none");
    added += 1;
  }
  return added;
}

/** Runs the sweeps now and then every `sweepIntervalMs`; returns a stop function. */
export function startSweeper(deps: SweeperDeps, logger: Logger): () => void {
  let running = false;
  const sweep = async () => {
    if (running) return;
    running = true;
    try {
      await sweepQueuedBatches(deps, logger);
      await sweepQueuedSftRuns(deps, logger);
    } catch (error) {
      logger.error({ err: error }, "sweeping queued batches and SFT runs failed; trying again at the next interval");
    } finally {
      running = false;
    }
  };

  void sweep();
  const timer = setInterval(sweep, deps.config.sweepIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
