import type { Logger } from "@nvarc/telemetry";

/** Tries of a database write before the job itself fails and BullMQ retries it. */
const DB_WRITE_TRIES = 6;
/** First delay between tries in milliseconds, doubled each time (about 30 s in all). */
const DB_RETRY_BASE_MS = 500;

/**
 * Runs a database write, retrying with exponential backoff when it fails.
 *
 * A result write that cannot get a pool connection (pool exhausted, tables locked)
 * is retried here, so the sidecar work of the run is not thrown away. The writes are
 * idempotent, so a retry after an unknown outcome stores the result once.
 */
export async function withDbRetry<T>(logger: Logger, what: string, write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (attempt >= DB_WRITE_TRIES) throw error;

      const delayMs = DB_RETRY_BASE_MS * 2 ** (attempt - 1);
      logger.warn({ err: error, what, attempt, delayMs }, "database write failed; retrying");
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
