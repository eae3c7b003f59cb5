// The repositories bound to one Prisma Client, so services pass one object around.
import type { DbClient } from './client.ts';
import * as batchResults from './repositories/batch-results.ts';
import * as batches from './repositories/batches.ts';
import * as costs from './repositories/costs.ts';
import * as models from './repositories/models.ts';
import * as sftDatasets from './repositories/sft-datasets.ts';
import * as sftRuns from './repositories/sft-runs.ts';
import * as taskRuns from './repositories/task-runs.ts';

type Bound<T> = {
  // isBatchId takes a string, not a client, so the key filter below drops it.
  [K in keyof T as T[K] extends (prisma: DbClient, ...args: any[]) => any ? K : never]:
    T[K] extends (prisma: DbClient, ...args: infer A) => infer R ? (...args: A) => R : never;
};

/** Every repository function of @nvarc/db with its client argument filled in. */
export type Repositories = Bound<typeof batchResults> & Bound<typeof batches> & Bound<typeof costs> & Bound<typeof models> & Bound<typeof taskRuns> & Bound<typeof sftDatasets> & Bound<typeof sftRuns>;

const NOT_REPOSITORY_FUNCTIONS = new Set(['isBatchId', 'SftDatasetConflictError']);

/** Binds every repository function to `prisma`. */
export function bindRepositories(prisma: DbClient): Repositories {
  const bound: Record<string, unknown> = {};
  for (const module of [batchResults, batches, costs, models, taskRuns, sftDatasets, sftRuns]) {
    for (const [name, value] of Object.entries(module)) {
      // Repository functions take the client first; the one helper that does not
      // (isBatchId) and the error class SftDatasetConflictError are left out, and so are constants.
      if (typeof value === 'function' && !NOT_REPOSITORY_FUNCTIONS.has(name)) {
        bound[name] = (...args: unknown[]) => (value as (...all: unknown[]) => unknown)(prisma, ...args);
      }
    }
  }
  return bound as Repositories;
}
