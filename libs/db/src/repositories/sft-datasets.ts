// Built SFT dataset artifacts.
import type { DbClient } from '../client.ts';
import type { Prisma, SftDataset } from '../generated/prisma/client.ts';

/** The manifest fields of an SFT dataset artifact that are stored (manifest.json of the artifact). */
export interface SftDatasetManifestInput {
  datasetId: string;
  formatVersion: number;
  seed: number;
  sources: unknown;
  exclusions: unknown;
  merges: unknown;
  counts: unknown;
  tokens: { total: number; lossTokens: number };
  contentHash: string;
}

/** A stored SFT dataset; token totals are plain numbers (exact up to 2^53). */
export interface SftDatasetRecord {
  id: string;
  path: string;
  formatVersion: number;
  seed: number;
  sources: unknown;
  exclusions: unknown;
  merges: unknown;
  counts: unknown;
  tokenTotal: number;
  lossTokenTotal: number;
  contentHash: string;
  createdAt: Date;
}

/** Thrown when a dataset id is already recorded with another content hash. */
export class SftDatasetConflictError extends Error {
  readonly code = 'sft_dataset_conflict';

  constructor(
    readonly datasetId: string,
    readonly storedHash: string,
    readonly newHash: string,
  ) {
    super(
      `SFT dataset ${datasetId} is already recorded with content hash ${storedHash}, not ${newHash}; ` +
        'build under another datasetId',
    );
    this.name = 'SftDatasetConflictError';
  }
}

/**
 * Inserts the row of a built SFT dataset found at `path`. Idempotent: the
 * same id with the same content hash returns the stored row unchanged, also
 * when two callers insert at once. Throws SftDatasetConflictError when the id
 * is stored with another content hash.
 */
export async function recordSftDataset(
  prisma: DbClient,
  manifest: SftDatasetManifestInput,
  path: string,
): Promise<SftDatasetRecord> {
  const existing = await prisma.sftDataset.findUnique({ where: { id: manifest.datasetId } });
  if (existing) return checkSameContent(existing, manifest);
  try {
    const row = await prisma.sftDataset.create({ data: toRow(manifest, path) });
    return toRecord(row);
  } catch (error) {
    if ((error as { code?: string }).code !== 'P2002') throw error;
    // Another caller inserted the same id between the read and the insert.
    const raced = await prisma.sftDataset.findUniqueOrThrow({ where: { id: manifest.datasetId } });
    return checkSameContent(raced, manifest);
  }
}

/** Returns the SFT dataset with this id, or null. */
export async function getSftDataset(prisma: DbClient, id: string): Promise<SftDatasetRecord | null> {
  const row = await prisma.sftDataset.findUnique({ where: { id } });
  return row ? toRecord(row) : null;
}

function checkSameContent(row: SftDataset, manifest: SftDatasetManifestInput): SftDatasetRecord {
  if (row.contentHash !== manifest.contentHash) {
    throw new SftDatasetConflictError(row.id, row.contentHash, manifest.contentHash);
  }
  return toRecord(row);
}

function toRow(manifest: SftDatasetManifestInput, path: string): Prisma.SftDatasetCreateInput {
  const json = (value: unknown) => value as Prisma.InputJsonValue;
  return {
    id: manifest.datasetId,
    path,
    formatVersion: manifest.formatVersion,
    seed: manifest.seed,
    sources: json(manifest.sources),
    exclusions: json(manifest.exclusions),
    merges: json(manifest.merges),
    counts: json(manifest.counts),
    tokenTotal: BigInt(manifest.tokens.total),
    lossTokenTotal: BigInt(manifest.tokens.lossTokens),
    contentHash: manifest.contentHash,
  };
}

function toRecord(row: SftDataset): SftDatasetRecord {
  return { ...row, tokenTotal: Number(row.tokenTotal), lossTokenTotal: Number(row.lossTokenTotal) };
}
