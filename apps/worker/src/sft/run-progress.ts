// Writes the updates of one Train call into the run's row and the model registry.
import type { TrainUpdate } from "@nvarc/contracts";
import { costRecord } from "@nvarc/cost";
import type { LossPoint, ModelRecord, SftRunCost, SftRunRecord } from "@nvarc/db";
import type { Logger } from "@nvarc/telemetry";
import type { WorkerDeps } from "../deps.ts";

/** Milliseconds between progress writes of updates that carry no checkpoint. */
export const PROGRESS_WRITE_INTERVAL_MS = 2000;

/** Registry id of the model saved at checkpoint `step` of a run. */
export function checkpointModelId(runId: string, step: number): string {
  return `${runId}-step-${step}`;
}

/** Registry id of the final model of a run. */
export function finalModelId(runId: string): string {
  return `sft-${runId.slice(0, 8)}`;
}

/**
 * Collects the updates of one Train call and stores them in order: loss points and
 * totals at most every PROGRESS_WRITE_INTERVAL_MS, and at once for an update with a
 * checkpoint, which also gets a model row. Writes run one at a time, and the first
 * failed write is raised by `flush`.
 */
export class SftProgressRecorder {
  private pending: LossPoint[] = [];
  private latest?: TrainUpdate;
  private lastLoss?: number;
  private lastWriteAt = 0;
  private chain: Promise<void> = Promise.resolve();
  private writeError?: unknown;

  /** `startDeviceSeconds` is the run's total before this call, from earlier attempts. */
  constructor(
    private readonly deps: WorkerDeps,
    private readonly run: SftRunRecord,
    private readonly baseModel: ModelRecord,
    private readonly startDeviceSeconds: number,
    private readonly logger: Logger,
    /** Called when a write finds the run no longer running (cancelled before the abort reached this worker). */
    private readonly onRunStopped: () => void,
  ) {}

  /** Device seconds of this call so far, as the sidecar reported them. */
  get callDeviceSeconds(): number {
    return this.latest?.deviceSeconds ?? 0;
  }

  /** Loss of the latest update that trained at least one step. */
  get latestLoss(): number | undefined {
    return this.lastLoss;
  }

  /** Takes one update; the write it may start is awaited by `flush`. */
  accept(update: TrainUpdate): void {
    this.latest = update;
    // A loss of 0 means no step ran in this call since the previous update (a resumed call's first update).
    const trainedSteps = update.step > update.resumedFromStep && update.loss > 0;
    if (trainedSteps) {
      this.pending.push({ step: update.step, loss: update.loss, learningRate: update.learningRate });
      this.lastLoss = update.loss;
    }

    const due = Date.now() - this.lastWriteAt >= PROGRESS_WRITE_INTERVAL_MS;
    if (update.checkpointPath || update.done || due) this.enqueueWrite(update);
  }

  /** Writes what is still pending and raises the first write error of this call. */
  async flush(): Promise<void> {
    if (this.latest && this.pending.length > 0) this.enqueueWrite(this.latest);
    await this.chain;
    if (this.writeError) throw this.writeError;
  }

  /** Run totals after `extraSeconds` of device time the sidecar did not report. */
  costWith(extraSeconds = 0): SftRunCost {
    const deviceSeconds = this.startDeviceSeconds + this.callDeviceSeconds + extraSeconds;
    const record = costRecord(this.deps.config.gpuType, deviceSeconds);
    return { deviceSeconds, gpuType: record.gpuType, usdPerHour: record.usdPerHour, priceDate: record.priceDate, costUsd: record.usd };
  }

  private enqueueWrite(update: TrainUpdate): void {
    const points = this.pending;
    this.pending = [];
    this.lastWriteAt = Date.now();
    const loss = this.lastLoss;
    this.chain = this.chain.then(async () => {
      if (this.writeError) return;
      try {
        await this.write(update, points, loss);
      } catch (error) {
        this.writeError = error;
      }
    });
  }

  /** Marks the run's checkpoint models whose folders the trainer pruned after its latest save. */
  private async markPrunedCheckpoints(): Promise<void> {
    const keep = Number(this.run.hyperparameters.keepCheckpoints ?? 0);
    const pruned = prunedCheckpointIds(this.run.id, await this.deps.db.listModelsOfSftRun(this.run.id), keep);
    const marked = await this.deps.db.markModelsPruned(pruned);
    if (marked > 0) this.logger.info({ marked, keepCheckpoints: keep }, "SFT checkpoints marked pruned in the registry");
  }

  private async write(update: TrainUpdate, points: LossPoint[], loss: number | undefined): Promise<void> {
    const { db } = this.deps;
    const running = await db.recordSftProgress({ id: this.run.id, step: update.step, totalSteps: update.totalSteps, lossPoints: points, ...this.costWith() });
    if (!running) {
      this.onRunStopped();
      return;
    }
    if (update.checkpointPath) {
      await registerRunModel(this.deps, this.run, this.baseModel, {
        id: checkpointModelId(this.run.id, update.step), path: update.checkpointPath, step: update.step, loss,
        description: `checkpoint at step ${update.step} of SFT run ${this.run.id}`,
      });
      this.logger.info({ step: update.step, totalSteps: update.totalSteps, path: update.checkpointPath }, "SFT checkpoint registered");
      await this.markPrunedCheckpoints();
    }
  }
}

/**
 * Returns the ids of a run's checkpoint models whose files the trainer has deleted: with
 * keepCheckpoints K > 0 it keeps only the newest K checkpoint folders after each save.
 */
export function prunedCheckpointIds(runId: string, models: ModelRecord[], keepCheckpoints: number): string[] {
  if (keepCheckpoints <= 0) return [];
  const checkpoints = models
    .filter((model) => model.step !== null && model.id === checkpointModelId(runId, model.step))
    .sort((a, b) => b.step! - a.step!);
  return checkpoints.slice(keepCheckpoints).map((model) => model.id);
}

/** Registers a model saved by an SFT run, with its lineage (base model, dataset, run, step). */
export async function registerRunModel(
  deps: WorkerDeps, run: SftRunRecord, baseModel: ModelRecord,
  saved: { id: string; path: string; step: number; loss: number | undefined; description: string },
): Promise<void> {
  await deps.db.upsertModel({
    id: saved.id,
    name: saved.id,
    path: saved.path,
    architecture: baseModel.architecture,
    parameters: baseModel.parameters,
    trained: true,
    description: saved.description,
    parentModelId: baseModel.id,
    sftDatasetId: run.datasetId,
    sftRunId: run.id,
    step: saved.step,
    metrics: saved.loss === undefined ? null : { loss: saved.loss },
  });
}
