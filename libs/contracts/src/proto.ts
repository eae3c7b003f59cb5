import { fileURLToPath } from "node:url";
import path from "node:path";
import * as protoLoader from "@grpc/proto-loader";

/** Folder holding the .proto files, the root of their import paths. */
export const PROTO_ROOT = fileURLToPath(new URL("../proto", import.meta.url));

/** Path of the sidecar service definition. */
export const SIDECAR_PROTO_PATH = path.join(PROTO_ROOT, "nvarc/sidecar/v1/sidecar.proto");

/** Fully qualified name of the sidecar service. */
export const SIDECAR_SERVICE = "nvarc.sidecar.v1.Sidecar";

/**
 * Loads the sidecar package definition.
 *
 * Field names become camelCase, int64 values become JS numbers (parameter counts stay
 * far below 2^53), enums become their names, and repeated/default fields are always
 * present, which is what the TypeScript message types below describe.
 */
export function loadSidecarPackageDefinition(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(SIDECAR_PROTO_PATH, {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
    oneofs: true,
    includeDirs: [PROTO_ROOT],
  });
}
