export * from "./names.ts";
export * from "./connection.ts";
export * from "./job-options.ts";
export * from "./flows.ts";
