/**
 * Writes the NVARC Grafana dashboard to deploy/grafana/dashboards/nvarc.json.
 *
 *   node --import tsx deploy/grafana/build-dashboard.ts          write the file
 *   node --import tsx deploy/grafana/build-dashboard.ts --check  exit 1 if the file is out of date
 *
 * The layout lives in deploy/grafana/dashboard/overview.ts, the PromQL in
 * deploy/grafana/dashboard/queries.ts.
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

import { BUILD_COMMAND, DASHBOARD_PATH, buildDashboard } from "./dashboard/overview.ts";

/** Renders the dashboard as written to disk: two-space JSON with a final newline. */
export function renderDashboard(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}

async function main(argv: string[]): Promise<void> {
  const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
  const outputPath = `${repoRoot}${DASHBOARD_PATH}`;
  const rendered = renderDashboard();

  if (argv.includes("--check")) {
    const committed = await readFile(outputPath, "utf8").catch(() => "");
    if (committed !== rendered) {
      console.error(`${DASHBOARD_PATH} is out of date: run \`${BUILD_COMMAND}\`.`);
      process.exitCode = 1;
    }
    return;
  }

  await writeFile(outputPath, rendered);
  console.log(`wrote ${DASHBOARD_PATH}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
