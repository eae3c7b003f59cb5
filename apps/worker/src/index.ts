export * from "./config.ts";
export * from "./runtime.ts";
export { SidecarClient, SidecarCallError } from "./sidecar-client.ts";
