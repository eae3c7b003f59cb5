// Models the sidecar can load.
import type { DbClient } from '../client.ts';
import { Prisma, type Model } from '../generated/prisma/client.ts';

/** Fields of a model a caller registers. */
export interface ModelInput {
  id: string;
  name: string;
  /** Hugging Face format directory on the worker's disk. */
  path: string;
  architecture: string;
  /** Number of parameters of the base model. */
  parameters: number;
  /** False until the model has been through supervised fine-tuning. */
  trained: boolean;
  description: string;
  /** Model an SFT run started from; absent for a model registered from disk. */
  parentModelId?: string | null;
  /** SFT dataset the model was trained on. */
  sftDatasetId?: string | null;
  /** SFT run that saved the model. */
  sftRunId?: string | null;
  /** Optimizer step of the run the model was saved at. */
  step?: number | null;
  /** Training metrics at that step, e.g. {loss}. */
  metrics?: Record<string, number> | null;
}

/** A stored model; `parameters` is a plain number (exact up to 2^53). */
export interface ModelRecord extends ModelInput {
  parentModelId: string | null;
  sftDatasetId: string | null;
  sftRunId: string | null;
  step: number | null;
  metrics: Record<string, number> | null;
  promotedAt: Date | null;
  /** When an SFT run deleted the checkpoint's files; null while they exist. */
  prunedAt: Date | null;
  createdAt: Date;
}

/** Inserts the model or overwrites its fields; promotedAt and createdAt are kept. */
export async function upsertModel(prisma: DbClient, input: ModelInput): Promise<ModelRecord> {
  // Lineage fields left undefined keep their stored values on update.
  const { metrics, ...rest } = input;
  const fields = {
    ...rest,
    parameters: BigInt(input.parameters),
    ...(metrics === undefined ? {} : { metrics: metrics === null ? Prisma.DbNull : metrics }),
  };
  const row = await prisma.model.upsert({ where: { id: input.id }, create: fields, update: fields });
  return toModelRecord(row);
}

/** Returns the model with this id, or null. */
export async function getModel(prisma: DbClient, id: string): Promise<ModelRecord | null> {
  const row = await prisma.model.findUnique({ where: { id } });
  return row ? toModelRecord(row) : null;
}

/**
 * Returns the most recently promoted model, else the newest trained model registered
 * from the models folder, else the newest model of any kind, else null. Checkpoints
 * and final models of SFT runs become the default only when promoted, so a batch
 * submitted during a run does not pick up its latest checkpoint. Pruned checkpoints
 * are never the default.
 */
export async function getDefaultModel(prisma: DbClient): Promise<ModelRecord | null> {
  const promoted = await prisma.model.findFirst({
    where: { promotedAt: { not: null }, prunedAt: null },
    orderBy: [{ promotedAt: 'desc' }, { id: 'asc' }],
  });
  if (promoted) return toModelRecord(promoted);
  const order = [{ trained: 'desc' as const }, { createdAt: 'desc' as const }, { id: 'asc' as const }];
  const fromDisk = await prisma.model.findFirst({ where: { prunedAt: null, sftRunId: null }, orderBy: order });
  if (fromDisk) return toModelRecord(fromDisk);
  const latest = await prisma.model.findFirst({ where: { prunedAt: null }, orderBy: order });
  return latest ? toModelRecord(latest) : null;
}

/** Returns every model, oldest first. */
export async function listModels(prisma: DbClient): Promise<ModelRecord[]> {
  const rows = await prisma.model.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return rows.map(toModelRecord);
}

/** Returns the models saved by an SFT run, in step order (the final model last when its step is the highest). */
export async function listModelsOfSftRun(prisma: DbClient, sftRunId: string): Promise<ModelRecord[]> {
  const rows = await prisma.model.findMany({ where: { sftRunId }, orderBy: [{ step: 'asc' }, { createdAt: 'asc' }, { id: 'asc' }] });
  return rows.map(toModelRecord);
}

/**
 * Marks the model as promoted now, making it the default. Returns false when no such
 * model exists or its checkpoint files were pruned.
 */
export async function promoteModel(prisma: DbClient, id: string): Promise<boolean> {
  const { count } = await prisma.model.updateMany({ where: { id, prunedAt: null }, data: { promotedAt: new Date() } });
  return count === 1;
}

/** Marks these models' files as deleted now; models already marked keep their time. Returns how many were marked. */
export async function markModelsPruned(prisma: DbClient, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const { count } = await prisma.model.updateMany({ where: { id: { in: ids }, prunedAt: null }, data: { prunedAt: new Date() } });
  return count;
}

function toModelRecord(row: Model): ModelRecord {
  return { ...row, parameters: Number(row.parameters), metrics: row.metrics as Record<string, number> | null };
}
