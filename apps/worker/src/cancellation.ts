import type { Redis } from "ioredis";
import type { Logger } from "@nvarc/telemetry";

/**
 * Aborts the running sidecar calls of cancelled batches.
 *
 * The api publishes a batch id on the prefix's cancel channel after it marks the batch cancelled in
 * Postgres; every worker aborts the controllers it registered for that batch, which
 * cancels the gRPC call, and the sidecar stops between steps.
 */
export class CancellationRegistry {
  private readonly controllers = new Map<string, Set<AbortController>>();

  constructor(private readonly logger: Logger) {}

  /** Subscribes on a dedicated connection (a subscribed ioredis client can do nothing else). */
  async listen(subscriber: Redis, channelName: string): Promise<void> {
    subscriber.on("message", (channel: string, batchId: string) => {
      if (channel === channelName) this.cancelBatch(batchId);
    });
    await subscriber.subscribe(channelName);
  }

  /** Returns a controller aborted when the batch is cancelled; call `release` when done. */
  register(batchId: string): { signal: AbortSignal; release: () => void } {
    const controller = new AbortController();
    const set = this.controllers.get(batchId) ?? new Set();
    set.add(controller);
    this.controllers.set(batchId, set);

    const release = () => {
      set.delete(controller);
      if (set.size === 0) this.controllers.delete(batchId);
    };
    return { signal: controller.signal, release };
  }

  cancelBatch(batchId: string): void {
    const set = this.controllers.get(batchId);
    if (!set) return;

    this.logger.info({ batchId, runningCalls: set.size }, "batch cancelled; aborting its sidecar calls");
    for (const controller of set) controller.abort(new Error(`batch ${batchId} was cancelled`));
  }
}
