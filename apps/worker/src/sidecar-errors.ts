import * as grpc from "@grpc/grpc-js";

/**
 * A failed sidecar call, classified for the job's retry policy.
 *
 * `retryable` is true for transient faults (the sidecar restarted, the connection
 * dropped, an adapter vanished with a restart). It is false for faults that the same
 * request would hit again: bad input, a message over the size limit, a deadline, or a
 * cancellation. Retrying those would only repeat the same device work.
 */
export class SidecarCallError extends Error {
  constructor(
    readonly method: string,
    readonly code: string,
    detail: string,
    readonly retryable: boolean,
    readonly grpcCode?: grpc.status,
  ) {
    super(`sidecar ${method} failed (${code}): ${detail}`);
    this.name = "SidecarCallError";
  }
}

const RETRYABLE = new Set<grpc.status>([
  grpc.status.UNAVAILABLE,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.ABORTED,
  // NOT_FOUND and FAILED_PRECONDITION mean the sidecar lost its adapter or model,
  // which happens when it restarts; a new run loads the model and trains again.
  grpc.status.NOT_FOUND,
  grpc.status.FAILED_PRECONDITION,
]);

/** Converts a grpc-js error into a SidecarCallError with a code and retry flag. */
export function toSidecarCallError(method: string, error: grpc.ServiceError, maxMessageBytes: number): SidecarCallError {
  const name = grpc.status[error.code]?.toLowerCase() ?? "unknown";

  if (error.code === grpc.status.RESOURCE_EXHAUSTED) {
    return new SidecarCallError(method, "message_too_large", describeSizeLimit(error.details, maxMessageBytes), false, error.code);
  }
  if (error.code === grpc.status.DEADLINE_EXCEEDED) {
    return new SidecarCallError(method, "deadline_exceeded", `no reply within the deadline: ${error.details}`, false, error.code);
  }
  if (error.code === grpc.status.CANCELLED) {
    return new SidecarCallError(method, "cancelled", error.details || "cancelled by the caller", false, error.code);
  }
  return new SidecarCallError(method, name, error.details || error.message, RETRYABLE.has(error.code), error.code);
}

/**
 * Names the size, the limit and the setting to change, from grpc's detail text such
 * as "Received message larger than max (4762000 vs. 4194304)".
 */
function describeSizeLimit(details: string, maxMessageBytes: number): string {
  const sizes = /\((\d+) vs\.? (\d+)\)/.exec(details);
  const sent = /send message/i.test(details);
  let size = sent ? "a request" : "a reply";
  if (sizes) size = `a message of ${Number(sizes[1]).toLocaleString("en-US")} bytes`;
  const limit = sizes ? Number(sizes[2]) : maxMessageBytes;
  return `${size} exceeds the gRPC message limit of ${limit.toLocaleString("en-US")} bytes (${details}). ` +
    "Raise NVARC_GRPC_MAX_MESSAGE_BYTES to the same value on the worker and the sidecar, or lower the number of candidates per call.";
}
