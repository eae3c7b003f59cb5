export * from "./proto.ts";
export * from "./sidecar-messages.ts";
export * from "./presets.ts";
export * from "./jobs.ts";
export * from "./rest.ts";
export * from "./env.ts";
