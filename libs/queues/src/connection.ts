import { Redis, type RedisOptions } from "ioredis";

/**
 * Opens an ioredis connection for BullMQ.
 *
 * `maxRetriesPerRequest: null` is required by BullMQ workers, whose blocking calls must
 * wait through reconnects instead of failing after a retry count.
 */
export function createRedisConnection(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
}
