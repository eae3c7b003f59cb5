import { pino, type Logger, type LoggerOptions } from "pino";

export type { Logger } from "pino";

/** Log levels accepted by NVARC_LOG_LEVEL. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/**
 * Creates the process logger: JSON lines on stdout, one `service` field on every line.
 *
 * The level comes from `level`, else NVARC_LOG_LEVEL, else "info". An unknown level
 * throws, naming the variable, so a typo does not silence the logs.
 */
export function createLogger(service: string, level?: string, destination?: pino.DestinationStream): Logger {
  const wanted = level ?? process.env.NVARC_LOG_LEVEL ?? "info";
  if (!(LOG_LEVELS as readonly string[]).includes(wanted)) {
    throw new Error(`NVARC_LOG_LEVEL is invalid: "${wanted}". Use one of ${LOG_LEVELS.join(", ")}.`);
  }

  const options: LoggerOptions = {
    level: wanted,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
