// Money and device time spent on a batch.
import type { DbClient } from '../client.ts';
import { isBatchId } from './batches.ts';

/** Totals of a batch's cost rows. */
export interface CostSummary {
  /** USD over all runs, wasted ones included. */
  usd: number;
  /** Device seconds over all runs (rows of kind `device`). */
  deviceSeconds: number;
  /** USD of runs whose result was not kept. */
  wastedUsd: number;
  /** Runs with at least one wasted cost row. */
  wastedRuns: number;
}

/** Sums the cost rows of a batch; all zero for an unknown batch. */
export async function sumCosts(prisma: DbClient, batchId: string): Promise<CostSummary> {
  if (!isBatchId(batchId)) return { usd: 0, deviceSeconds: 0, wastedUsd: 0, wastedRuns: 0 };
  const rows = await prisma.$queryRaw<{ usd: number; device_seconds: number; wasted_usd: number; wasted_runs: number }[]>`
    SELECT
      COALESCE(SUM(usd), 0)::float8 AS usd,
      COALESCE(SUM(device_seconds) FILTER (WHERE kind = 'device'), 0)::float8 AS device_seconds,
      COALESCE(SUM(usd) FILTER (WHERE wasted), 0)::float8 AS wasted_usd,
      (COUNT(DISTINCT (task_id, run_number)) FILTER (WHERE wasted))::int4 AS wasted_runs
    FROM cost_records
    WHERE batch_id = ${batchId}::uuid`;
  const row = rows[0];
  return {
    usd: Number(row.usd),
    deviceSeconds: Number(row.device_seconds),
    wastedUsd: Number(row.wasted_usd),
    wastedRuns: Number(row.wasted_runs),
  };
}
