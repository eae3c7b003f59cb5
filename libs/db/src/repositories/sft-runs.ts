// Supervised fine-tuning runs: state, progress, loss curve and cost.
import type { DbClient } from '../client.ts';
import type { Prisma, SftRun } from '../generated/prisma/client.ts';

/** queued | running | completed | failed | cancelled. */
export type SftRunState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** Training backend: `local` is the worker's own sidecar, `ray` a Ray cluster. */
export type SftBackend = 'local' | 'ray';

/** One point of a run's loss curve. */
export interface LossPoint {
  /** Optimizer step the update was sent at. */
  step: number;
  /** Mean masked token loss (nats per target token) since the previous point. */
  loss: number;
  learningRate: number;
}

/** Fields of a new run. */
export interface SftRunInput {
  id: string;
  baseModelId: string;
  datasetId: string;
  backend: SftBackend;
  hyperparameters: Record<string, number | string>;
  /** Folder that contains the run directory `<outputDir>/<id>`; empty until a worker starts the run. */
  outputDir: string;
}

/** A stored run. */
export interface SftRunRecord extends SftRunInput {
  state: SftRunState;
  step: number;
  totalSteps: number;
  lossCurve: LossPoint[];
  /** Device seconds over every attempt of the run. */
  deviceSeconds: number;
  gpuType: string | null;
  usdPerHour: number | null;
  priceDate: string | null;
  costUsd: number;
  errorCode: string | null;
  errorMessage: string | null;
  /** Ray backend: submission id of the Ray job of the latest attempt. */
  rayJobId: string | null;
  /** Ray backend: the last lines of that job's logs, at most SFT_LOG_TAIL_MAX_CHARS. */
  logTail: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** Device time and its price, as totals over the whole run. */
export interface SftRunCost {
  deviceSeconds: number;
  gpuType: string;
  usdPerHour: number;
  priceDate: string;
  costUsd: number;
}

/** Progress of a running run; `lossPoints` are new points in step order. */
export interface SftProgressInput extends SftRunCost {
  id: string;
  step: number;
  totalSteps: number;
  lossPoints: LossPoint[];
}

const FINISHED_STATES: SftRunState[] = ['completed', 'failed', 'cancelled'];

/** Largest stored log tail, in UTF-16 code units (JavaScript string length). */
export const SFT_LOG_TAIL_MAX_CHARS = 16 * 1024;

/** Inserts a queued run. */
export async function createSftRun(prisma: DbClient, input: SftRunInput): Promise<SftRunRecord> {
  const row = await prisma.sftRun.create({
    data: { ...input, hyperparameters: input.hyperparameters as Prisma.InputJsonValue, state: 'queued' },
  });
  return toRecord(row);
}

/** Returns the run with this id, or null (also for an id that is not a UUID). */
/** Returns the ids of queued runs created more than `olderThanMs` ago, oldest first (at most 100). */
export async function findQueuedSftRunsOlderThan(prisma: DbClient, olderThanMs: number): Promise<string[]> {
  const rows = await prisma.sftRun.findMany({
    where: { state: 'queued', createdAt: { lt: new Date(Date.now() - olderThanMs) } },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true },
    take: 100,
  });
  return rows.map((row) => row.id);
}

export async function getSftRun(prisma: DbClient, id: string): Promise<SftRunRecord | null> {
  if (!UUID.test(id)) return null;
  const row = await prisma.sftRun.findUnique({ where: { id } });
  return row ? toRecord(row) : null;
}

/**
 * Marks a queued or running run as running (a retried attempt finds it running) in
 * `outputDir`, the folder of run directories of the worker that took it. Returns
 * false when the run is missing or already finished, cancelled included.
 */
export async function markSftRunRunning(prisma: DbClient, id: string, outputDir: string): Promise<boolean> {
  const now = new Date();
  const { count } = await prisma.sftRun.updateMany({
    where: { id, state: { in: ['queued', 'running'] } },
    // The error of a failed attempt is cleared; the retry either ends the run or records its own.
    data: { state: 'running', outputDir, errorCode: null, errorMessage: null },
  });
  await prisma.sftRun.updateMany({ where: { id, state: 'running', startedAt: null }, data: { startedAt: now } });
  return count === 1;
}

/**
 * Stores the progress of a running run. Loss points at or after the first new
 * point's step are replaced, so steps repeated after a resume appear once.
 * Returns false when the run is no longer running (cancelled meanwhile).
 */
export async function recordSftProgress(prisma: DbClient, input: SftProgressInput): Promise<boolean> {
  // Without new points every stored point is kept; the bound is the largest Postgres integer, as steps are int columns.
  const firstNewStep = input.lossPoints[0]?.step ?? 2_147_483_647;
  const points = JSON.stringify(input.lossPoints);
  const count = await prisma.$executeRaw`
    UPDATE sft_runs SET
      step = ${input.step},
      total_steps = ${input.totalSteps},
      loss_curve = COALESCE(
        (SELECT jsonb_agg(point ORDER BY ordinal) FROM jsonb_array_elements(loss_curve) WITH ORDINALITY AS kept(point, ordinal)
         WHERE (point->>'step')::int < ${firstNewStep}),
        '[]'::jsonb) || ${points}::jsonb,
      device_seconds = ${input.deviceSeconds},
      gpu_type = ${input.gpuType},
      usd_per_hour = ${input.usdPerHour},
      price_date = ${input.priceDate},
      cost_usd = ${input.costUsd}
    WHERE id = ${input.id}::uuid AND state = 'running'`;
  return count === 1;
}

/**
 * Stores the Ray job of a run's current attempt and the tail of its logs, cut to the
 * last SFT_LOG_TAIL_MAX_CHARS at a line start. Finished runs are updated too, so the
 * tail written after a cancel or failure is kept. Returns false for an unknown run.
 */
export async function recordSftRayJob(prisma: DbClient, id: string, rayJobId: string, logs?: string): Promise<boolean> {
  const data = logs === undefined ? { rayJobId } : { rayJobId, logTail: tailOfLogs(logs) };
  const { count } = await prisma.sftRun.updateMany({ where: { id }, data });
  return count === 1;
}

function tailOfLogs(logs: string): string {
  if (logs.length <= SFT_LOG_TAIL_MAX_CHARS) return logs;
  const tail = logs.slice(-SFT_LOG_TAIL_MAX_CHARS);
  const lineStart = tail.indexOf('\n');
  return lineStart >= 0 && lineStart < tail.length - 1 ? tail.slice(lineStart + 1) : tail;
}

/** Marks a running run completed. Returns false when it is no longer running. */
export async function finishSftRun(prisma: DbClient, id: string, cost: SftRunCost): Promise<boolean> {
  const { count } = await prisma.sftRun.updateMany({
    where: { id, state: 'running' },
    data: { ...cost, state: 'completed', finishedAt: new Date() },
  });
  return count === 1;
}

/**
 * Records the error of an attempt. A final failure moves the run to `failed`; a
 * retryable one keeps it running for the next attempt. Cost totals, when given, are stored either way.
 */
export async function failSftRun(
  prisma: DbClient,
  input: { id: string; code: string; message: string; final: boolean; cost?: SftRunCost },
): Promise<boolean> {
  const { count } = await prisma.sftRun.updateMany({
    where: { id: input.id, state: { in: ['queued', 'running'] } },
    data: {
      ...input.cost,
      errorCode: input.code,
      errorMessage: input.message,
      ...(input.final ? { state: 'failed', finishedAt: new Date() } : {}),
    },
  });
  return count === 1;
}

/**
 * Cancels a queued or running run; `cost` (from the worker) updates the totals.
 * Returns the state before the call, or null for an unknown run.
 */
export async function cancelSftRun(prisma: DbClient, id: string, cost?: SftRunCost): Promise<SftRunState | null> {
  if (!UUID.test(id)) return null;
  return prisma.$transaction(async (tx) => {
    const row = await tx.sftRun.findUnique({ where: { id } });
    if (!row) return null;
    const previous = row.state as SftRunState;
    if (!FINISHED_STATES.includes(previous)) {
      await tx.sftRun.update({ where: { id }, data: { ...cost, state: 'cancelled', finishedAt: new Date() } });
    } else if (previous === 'cancelled' && cost) {
      await tx.sftRun.update({ where: { id }, data: cost });
    }
    return previous;
  });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toRecord(row: SftRun): SftRunRecord {
  return {
    ...row,
    backend: row.backend as SftBackend,
    state: row.state as SftRunState,
    hyperparameters: row.hyperparameters as Record<string, number | string>,
    lossCurve: row.lossCurve as unknown as LossPoint[],
  };
}
